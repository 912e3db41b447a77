// The node key and a generation's AUTH (core/node_key.hpp, core/generation_auth.hpp).
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "core/generation_auth.hpp"
#include "core/node_key.hpp"
#include "core/sha256.hpp"
#include "temp_dir.hpp"

using namespace kdr;

TEST_CASE("a node key is one line of text, named by an id that does not reveal it") {
  const auto key = core::NodeKey::generate();
  const auto again = core::NodeKey::parse(key.text(), "key");
  CHECK(again.id() == key.id());
  CHECK(key.id().size() == 16);
  CHECK(key.text().find(key.id()) == std::string::npos);
  CHECK(core::NodeKey::generate().id() != key.id());
  CHECK_THROWS_WITH(core::NodeKey::parse("kdr-node-key-v1 00", "/etc/kdr/node.key"),
                    Catch::Contains("/etc/kdr/node.key: not a kdr node key"));
  CHECK_THROWS_WITH(core::NodeKey::parse("hello", "k"), Catch::Contains("not a kdr node key"));
}

TEST_CASE("an HMAC given in pieces is the HMAC of the whole, and a wrong one never checks") {
  const auto key = core::NodeKey::generate();
  core::RunningMac mac(key);
  mac.update("kdr ");
  const auto early = mac.peek();
  mac.update("journal");
  const auto whole = mac.peek();
  CHECK(early != whole);
  CHECK(key.check_hex("kdr journal", key.mac_hex("kdr journal")));
  CHECK_FALSE(key.check_hex("kdr journaL", key.mac_hex("kdr journal")));
  CHECK_FALSE(core::NodeKey::generate().check_hex("kdr journal", key.mac_hex("kdr journal")));
  // RFC 4231 test case 2 would need a short key; the same key over the same text is stable
  CHECK(key.mac_hex("x") == key.mac_hex("x"));
}

TEST_CASE("the key file is made 0600 once, and refused when others can read it or it is a symlink") {
  test::TempDir t;
  const auto file = t.path() / "etc-kdr/node.key";
  CHECK_FALSE(core::load_node_key(file));
  const auto made = core::create_node_key(file);
  CHECK(core::lstat_path(file)->mode == 0600);
  CHECK(core::lstat_path(file.parent_path())->mode == 0700);
  CHECK(core::load_node_key(file)->id() == made.id());
  // a second creation keeps the first key
  CHECK(core::create_node_key(file).id() == made.id());
  REQUIRE(::chmod(file.c_str(), 0644) == 0);
  CHECK_THROWS_WITH(core::load_node_key(file), Catch::Contains("others must not read it"));
  REQUIRE(::chmod(file.c_str(), 0600) == 0);
  REQUIRE(::symlink(file.c_str(), (t.path() / "link.key").c_str()) == 0);
  CHECK_THROWS_WITH(core::load_node_key(t.path() / "link.key"), Catch::Contains("symlink"));
}

namespace {
struct Gen {
  core::bfs::path dir;
  std::string meta = "{\"id\":\"2026-12-03T100000Z\"}\n", manifest = "{\"path\":\"/etc/kubernetes\"}\n",
              sums = "0000  files/x\n";
  void write() const {
    core::write_file_atomic(dir / "meta.json", meta, 0600);
    core::write_file_atomic(dir / "manifest.jsonl", manifest, 0600);
    core::write_file_atomic(dir / "SHA256SUMS", sums, 0600);
  }
  core::GenerationAuth check(const core::NodeKey* key) const {
    return core::authenticate_generation(dir, "2026-12-03T100000Z", core::sha256_hex(meta), core::sha256_hex(manifest),
                                         key);
  }
};
}  // namespace

TEST_CASE("a generation authenticates only under the key that made it, over exactly its files") {
  test::TempDir t;
  Gen g{t.path()};
  g.write();
  const auto key = core::NodeKey::generate();
  CHECK(g.check(&key).status == core::AuthStatus::unsigned_);
  core::write_generation_auth(g.dir, "2026-12-03T100000Z", key);
  CHECK(core::lstat_path(g.dir / "AUTH")->mode == 0600);
  CHECK(g.check(&key).authentic());
  CHECK(g.check(nullptr).status == core::AuthStatus::no_key);
  const auto other = core::NodeKey::generate();
  CHECK(g.check(&other).status == core::AuthStatus::other_key);
  CHECK_FALSE(g.check(&other).refused());

  SECTION("a changed meta.json, manifest or SHA256SUMS is forged, and refused") {
    auto forged = g;
    forged.manifest += "{\"path\":\"/usr/bin/sh\"}\n";
    forged.write();
    CHECK(forged.check(&key).status == core::AuthStatus::forged);
    CHECK(forged.check(&key).refused());
    g.write();
    CHECK(g.check(&key).authentic());
    core::write_file_atomic(g.dir / "SHA256SUMS", "1111  files/x\n", 0600);
    CHECK(g.check(&key).status == core::AuthStatus::forged);
  }
  SECTION("the MAC names the generation: the same files under another id do not authenticate") {
    CHECK(core::authenticate_generation(g.dir, "2026-12-04T100000Z", core::sha256_hex(g.meta),
                                        core::sha256_hex(g.manifest), &key)
              .status == core::AuthStatus::forged);
  }
  SECTION("the texts the caller parsed are the ones checked") {
    CHECK(core::authenticate_generation(g.dir, "2026-12-03T100000Z", core::sha256_hex(g.meta + " "),
                                        core::sha256_hex(g.manifest), &key)
              .status == core::AuthStatus::forged);
  }
  SECTION("an AUTH that is not kdr's is forged") {
    core::write_file_atomic(g.dir / "AUTH", "not json", 0600);
    CHECK(g.check(&key).status == core::AuthStatus::forged);
  }
}
