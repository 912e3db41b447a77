#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/manifest.hpp"
#include "core/sha256.hpp"
#include "temp_dir.hpp"

using namespace kdr::core;

namespace {
ManifestEntry file_entry(std::string path, std::string content) {
  ManifestEntry e;
  e.path = std::move(path);
  e.type = FileType::file;
  e.mode = 0600;
  e.uid = 0;
  e.gid = 1000;
  e.size = content.size();
  e.mtime_sec = 1700000000;
  e.mtime_nsec = 123456789;
  e.sha256 = sha256_hex(content);
  return e;
}

std::string manifest_error(const std::string& text) {
  try {
    Manifest::parse(text, "gen/manifest.jsonl");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("a manifest survives writing and reading unchanged") {
  Manifest m;
  ManifestEntry dir;
  dir.path = "/etc/kubernetes";
  dir.type = FileType::directory;
  dir.mode = 0755;
  m.entries.push_back(dir);
  m.entries.push_back(file_entry("/etc/kubernetes/pki/sa.key", "secret"));
  ManifestEntry link;
  link.path = "/etc/ssl/certs/a1b2.0";
  link.type = FileType::symlink;
  link.mode = 0777;
  link.target = "Sandbox Root \"1\".pem";
  m.entries.push_back(link);
  auto torn = file_entry("/var/lib/etcd/member/snap/db", "bbolt");
  torn.torn = true;
  torn.mode = 04755;
  m.entries.push_back(torn);
  m.entries.push_back(file_entry("/weird/name with\nnewline and \\ backslash", "x"));

  auto back = Manifest::parse(m.to_jsonl(), "t");
  REQUIRE(back.entries.size() == m.entries.size());
  for (std::size_t i = 0; i < m.entries.size(); ++i) CHECK(back.entries[i] == m.entries[i]);
  CHECK(back.index().at("/etc/kubernetes/pki/sa.key") == 1);
}

TEST_CASE("SHA256SUMS lines are what sha256sum -c reads") {
  Manifest m;
  m.entries.push_back(file_entry("/etc/kubernetes/admin.conf", "abc"));
  m.entries.push_back(file_entry("/odd/back\\slash", "abc"));
  ManifestEntry dir;
  dir.path = "/etc";
  dir.type = FileType::directory;
  m.entries.push_back(dir);
  const auto h = sha256_hex("abc");
  CHECK(h == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256sums(m) == h + "  files/etc/kubernetes/admin.conf\n\\" + h + "  files/odd/back\\\\slash\n");
}

TEST_CASE("a damaged manifest is refused with the line that is wrong") {
  const std::string header = "{\"kdr_manifest\":1}\n";
  const std::string good =
      R"({"path":"/a","type":"file","mode":"0644","uid":0,"gid":0,"size":1,"mtime":1,"mtime_nsec":0,"sha256":")" +
      sha256_hex("x") + "\"}\n";
  CHECK(Manifest::parse(header + good, "t").entries.size() == 1);
  CHECK_THAT(manifest_error(header + good + "{not json\n"), Catch::Contains("gen/manifest.jsonl: line 3") && Catch::Contains("not valid JSON"));
  CHECK_THAT(manifest_error(header + R"({"path":"../etc/shadow","type":"file"})" "\n"), Catch::Contains("line 2") && Catch::Contains("not absolute"));
  CHECK_THAT(manifest_error(header + R"({"path":"/a/../../etc","type":"dir"})" "\n"), Catch::Contains("'..'"));
  CHECK_THAT(manifest_error(header + R"({"path":"/a","type":"fifo","mode":"0644","uid":0,"gid":0,"mtime":1,"mtime_nsec":0})" "\n"), Catch::Contains("unknown type"));
  CHECK_THAT(manifest_error(header + R"({"path":"/a","type":"dir","mode":"0999","uid":0,"gid":0,"mtime":1,"mtime_nsec":0})" "\n"), Catch::Contains("bad mode"));
  CHECK_THAT(manifest_error(header + R"({"path":"/a","type":"file","mode":"0644","uid":0,"gid":0,"size":1,"mtime":1,"mtime_nsec":0,"sha256":"xyz"})" "\n"), Catch::Contains("sha256"));
  CHECK_THAT(manifest_error(header + R"({"path":"/a","type":"dir","mode":"0644","uid":-1,"gid":0,"mtime":1,"mtime_nsec":0})" "\n"), Catch::Contains("'uid'"));
  CHECK_THAT(manifest_error(header + good.substr(0, good.size() - 1)), Catch::Contains("truncated"));
  CHECK_THAT(manifest_error("{\"kdr_manifest\":2}\n"), Catch::Contains("not supported"));
  CHECK_THAT(manifest_error(""), Catch::Contains("empty"));
}

TEST_CASE("modes are written as four octal digits") {
  CHECK(mode_to_string(0600) == "0600");
  CHECK(mode_to_string(04755) == "4755");
  CHECK(mode_from_string("1777") == 01777);
  CHECK_THROWS(mode_from_string("8"));
  CHECK_THROWS(mode_from_string("77777"));
}

TEST_CASE("a sparse file hashes as the bytes it reads as: holes as zeros, data as written") {
  kdr::test::TempDir t;
  namespace core = kdr::core;
  const auto file = (t.path() / "wal").string();
  std::string dense(3 << 20, '\0');  // 3 MiB: data, a 2 MiB hole, data, and a hole at the end
  {
    core::Fd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    REQUIRE(fd);
    const std::string head = "etcd wal head", tail = "a record after the hole";
    REQUIRE(::pwrite(fd.get(), head.data(), head.size(), 0) == static_cast<ssize_t>(head.size()));
    REQUIRE(::pwrite(fd.get(), tail.data(), tail.size(), 2 << 20) == static_cast<ssize_t>(tail.size()));
    REQUIRE(::ftruncate(fd.get(), 3 << 20) == 0);
    dense.replace(0, head.size(), head);
    dense.replace(2 << 20, tail.size(), tail);
  }
  CHECK(core::sha256_file(file) == core::sha256_hex(dense));
  const auto empty = (t.path() / "empty").string();
  core::write_file_atomic(empty, "", 0600);
  CHECK(core::sha256_file(empty) == core::sha256_hex(""));
  const auto holes = (t.path() / "holes").string();
  {
    core::Fd fd(::open(holes.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    REQUIRE(::ftruncate(fd.get(), 5000) == 0);
  }
  CHECK(core::sha256_file(holes) == core::sha256_hex(std::string(5000, '\0')));
}
