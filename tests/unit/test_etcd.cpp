#include <catch2/catch.hpp>

#include <fstream>

#include "etcd/tool.hpp"
#include "backup/node_facts.hpp"
#include "core/control_plane.hpp"
#include "etcd/layout.hpp"
#include "etcd/snapshot_tool.hpp"
#include "core/sha256.hpp"
#include "core/zstd_file.hpp"
#include "core/base64.hpp"
#include "etcd/client.hpp"
#include "etcd/range_reply.hpp"
#include "fake_host.hpp"
#include "temp_dir.hpp"

using namespace kdr;

namespace {
const char* etcd_manifest = R"(apiVersion: v1
kind: Pod
metadata: {name: etcd, namespace: kube-system}
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=https://10.0.0.5:2379
    - --data-dir=/var/lib/etcd
    - --initial-advertise-peer-urls=https://10.0.0.5:2380
    - --initial-cluster=cp-1=https://10.0.0.5:2380
    - --listen-client-urls=https://127.0.0.1:2379,https://10.0.0.5:2379
    - --name=cp-1
    image: registry.k8s.io/etcd:3.5.15-0
    name: etcd
    volumeMounts:
    - {mountPath: /var/lib/etcd, name: etcd-data}
  volumes:
  - hostPath: {path: /mnt/fast-disk/etcd, type: DirectoryOrCreate}
    name: etcd-data
)";

const char* apiserver_manifest = R"(kind: Pod
metadata: {name: kube-apiserver}
spec:
  containers:
  - name: kube-apiserver
    image: registry.k8s.io/kube-apiserver:v1.31.2
    command: [kube-apiserver, --encryption-provider-config=/etc/enc/config.yaml, --audit-policy-file, /etc/audit/p.yaml]
    volumeMounts:
    - {mountPath: /etc/enc/, name: enc}
  volumes:
  - {name: enc, hostPath: {path: /srv/enc}}
)";

core::StaticPodScan scan_of(std::initializer_list<const char*> manifests) {
  core::StaticPodScan scan;
  int i = 0;
  for (const char* m : manifests) scan.pods.push_back(core::parse_static_pod(m, fmt::format("m{}.yaml", i++)));
  return scan;
}

// A file shaped like `etcdctl snapshot save` output: 512-byte pages and a SHA-256 trailer.
void write_snapshot(const boost::filesystem::path& p, std::size_t pages, bool damage) {
  std::string body(pages * 512, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7);
  const auto hex = core::sha256_hex(body);
  std::string trailer;
  for (std::size_t i = 0; i < 64; i += 2) trailer += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  if (damage) body[100] ^= 1;
  std::ofstream(p.string(), std::ios::binary) << body << trailer;
}
}  // namespace

TEST_CASE("the etcd member comes from its static pod manifest") {
  auto scan = scan_of({etcd_manifest});
  auto m = core::etcd_member(scan);
  REQUIRE(m.has_value());
  CHECK(m->name == "cp-1");
  CHECK(m->data_dir == "/var/lib/etcd");
  CHECK(m->data_dir_host == "/mnt/fast-disk/etcd");  // through the hostPath volume
  CHECK(m->peer_urls == std::vector<std::string>{"https://10.0.0.5:2380"});
  CHECK(m->initial_cluster == "cp-1=https://10.0.0.5:2380");
  // kdr talks to it on loopback, each client URL once
  const auto layout = etcd::detect_etcd_layout(core::default_config(), core::NodeRoot("/nonexistent"), scan);
  CHECK(layout.endpoints == std::vector<std::string>{"https://127.0.0.1:2379", "https://10.0.0.5:2379"});
  CHECK(backup::image_tag(m->image) == "3.5.15-0");
  CHECK_FALSE(core::etcd_member(scan_of({apiserver_manifest})).has_value());
}

TEST_CASE("kube-apiserver's files are mapped to host paths through its mounts") {
  auto files = core::apiserver_files(scan_of({apiserver_manifest}));
  REQUIRE(files.size() == 2);
  CHECK(files[0].flag == "encryption-provider-config");
  CHECK(files[0].host_path == std::optional<std::string>("/srv/enc/config.yaml"));
  CHECK(files[1].flag == "audit-policy-file");
  CHECK(files[1].container_path == "/etc/audit/p.yaml");  // "--flag value" form
  CHECK_FALSE(files[1].host_path.has_value());              // not mounted
}

TEST_CASE("image tags") {
  CHECK(backup::image_tag("registry.k8s.io/kube-apiserver:v1.31.2") == "v1.31.2");
  CHECK(backup::image_tag("localhost:5000/etcd") == "");
  CHECK(backup::image_tag("etcd:3.5.0@sha256:abc") == "3.5.0");
}

TEST_CASE("the snapshot timeout grows with the database") {
  core::EtcdConfig c;
  c.timeout_base_s = 60;
  c.timeout_per_gib_s = 120;
  CHECK(etcd::snapshot_timeout(c, 0).count() == 60);
  CHECK(etcd::snapshot_timeout(c, 100u << 20).count() == 180);
  CHECK(etcd::snapshot_timeout(c, 8ull << 30).count() == 60 + 8 * 120);  // etcd's largest quota
}

TEST_CASE("a snapshot restore and a private etcd are sized from the database: memory map, time, quota") {
  constexpr std::uint64_t gib = 1ull << 30;
  etcd::SnapshotTool tool;
  CHECK(tool.sizing_args(8 * gib).empty());  // etcdctl 3.4, etcdutl before 3.5.14: the tool's own
  tool.memory_map = true;
  CHECK(tool.sizing_args(100u << 20) == std::vector<std::string>{"--initial-memory-map-size", std::to_string(gib)});
  CHECK(tool.sizing_args(8 * gib) == std::vector<std::string>{"--initial-memory-map-size", std::to_string(10 * gib)});
  CHECK(tool.sizing_args(9 * gib).at(1) == std::to_string(12 * gib));  // past etcd's default 10 GiB
  CHECK(etcd::snapshot_restore_timeout(0).count() == 600);
  CHECK(etcd::snapshot_restore_timeout(8 * gib).count() == 600 + 8 * 120);
  CHECK(etcd::private_quota_bytes(100u << 20) == 2 * gib);  // etcd's default
  CHECK(etcd::private_quota_bytes(8 * gib) == 16 * gib);
}

TEST_CASE("etcdctl's complaints are classified") {
  using etcd::SnapshotFailure;
  CHECK(etcd::classify_etcdctl_error("transport: authentication handshake failed: x509: certificate signed by unknown authority") ==
        SnapshotFailure::certificate);
  CHECK(etcd::classify_etcdctl_error("dial tcp 127.0.0.1:2379: connect: connection refused") == SnapshotFailure::unreachable);
  CHECK(etcd::classify_etcdctl_error("Error: context deadline exceeded") == SnapshotFailure::timeout);
  // etcd 3.4's etcdctl when the stream is cut (seen at 8 GiB with etcd out of memory)
  CHECK(etcd::classify_etcdctl_error("Error: rpc error: code = Unavailable desc = transport is closing") ==
        SnapshotFailure::stream_cut);
  CHECK(etcd::classify_etcdctl_error("Error: rpc error: code = Unavailable desc = error reading from server: EOF") ==
        SnapshotFailure::stream_cut);
  CHECK(etcd::classify_etcdctl_error("Error: snapshot must be requested to one selected node") == SnapshotFailure::other);
}

TEST_CASE("a snapshot's SHA-256 trailer is checked") {
  test::TempDir tmp;
  const auto good = tmp.path() / "good.db";
  write_snapshot(good, 9, false);
  auto ok = etcd::check_snapshot_trailer(good);
  CHECK(ok.ok);
  CHECK(ok.size == 9 * 512 + 32);
  CHECK(ok.file_sha256 == core::sha256_file(good.string()));
  // read in 1 MiB blocks: the trailer's 32 bytes held back across block ends
  const auto large = tmp.path() / "large.db";
  write_snapshot(large, 4099, false);
  auto large_ok = etcd::check_snapshot_trailer(large);
  CHECK(large_ok.ok);
  CHECK(large_ok.file_sha256 == core::sha256_file(large.string()));

  const auto damaged = tmp.path() / "damaged.db";
  write_snapshot(damaged, 9, true);
  auto bad = etcd::check_snapshot_trailer(damaged);
  CHECK_FALSE(bad.ok);
  CHECK_THAT(bad.problem, Catch::Contains("does not match"));

  const auto raw = tmp.path() / "raw-db";  // a raw member/snap/db copy has no trailer
  test::write(raw, std::string(4096, 'x'));
  auto no_trailer = etcd::check_snapshot_trailer(raw);
  CHECK_FALSE(no_trailer.ok);
  CHECK_THAT(no_trailer.problem, Catch::Contains("size % 512 != 32"));
}

TEST_CASE("a checked private copy of a snapshot: room first, then the copy must be what its record says") {
  test::TempDir tmp;
  test::FakeHost host;
  const auto from = tmp.path() / "snapshot.db";
  write_snapshot(from, 4000, false);
  const auto sha = core::sha256_file(from.string());
  core::make_dir(tmp.path() / "scratch", 0700);
  const auto to = tmp.path() / "scratch/copy.db";
  SECTION("the copy, hashed as written") {
    const auto copy = core::checked_private_copy(host, from, to, false, sha);
    CHECK(copy.sha256 == sha);
    CHECK(core::sha256_file(to.string()) == sha);  // what was written, in order, is what was hashed
    CHECK(copy.bytes == core::lstat_path(from)->size);
    CHECK(core::lstat_path(to)->mode == 0600);
  }
  SECTION("no room: refused naming the folder, nothing written") {
    host.free = 1u << 20;
    CHECK_THROWS_WITH(core::checked_private_copy(host, from, to, false, sha),
                      Catch::Contains((tmp.path() / "scratch").string() + " has 1 MiB free"));
    CHECK_FALSE(core::lstat_path(to));
  }
  SECTION("a zstd snapshot: the room it decompresses to, as its frame says, not its compressed size") {
    const auto packed = tmp.path() / "snapshot.db.zst";
    const auto packed_size = core::zstd_compress_file(from, packed);
    const auto size = core::lstat_path(from)->size;
    REQUIRE(core::zstd_content_size(packed) == size);
    REQUIRE(packed_size + (1u << 20) < size);
    host.free = packed_size + (16u << 20) + 1;  // room for the compressed file, not for the copy
    CHECK_THROWS_WITH(core::checked_private_copy(host, from.string() + ".zst", to, true, sha),
                      Catch::Contains((tmp.path() / "scratch").string() + " has 16 MiB free"));
    CHECK_FALSE(core::lstat_path(to));
    host.free = size + (17u << 20);
    CHECK(core::checked_private_copy(host, packed, to, true, sha).sha256 == sha);
    CHECK(core::sha256_file(to.string()) == sha);
  }
  SECTION("not what the record says: refused naming the file, the copy removed") {
    CHECK_THROWS_WITH(core::checked_private_copy(host, from, to, false, std::string(64, 'a')),
                      Catch::Contains(from.string() + ": its content hashes to " + sha) &&
                          Catch::Contains("it changed on the backup disk; not read"));
    CHECK_FALSE(core::lstat_path(to));
  }
}

TEST_CASE("zstd compression round-trips a file") {
  test::TempDir tmp;
  const auto in = tmp.path() / "snapshot.db";
  write_snapshot(in, 4000, false);
  const auto z = tmp.path() / "snapshot.db.zst";
  const auto out = tmp.path() / "back.db";
  const auto compressed = core::zstd_compress_file(in, z);
  CHECK(compressed < boost::filesystem::file_size(in));
  CHECK(core::zstd_decompress_file(z, out) == boost::filesystem::file_size(in));
  CHECK(core::sha256_file(out.string()) == core::sha256_file(in.string()));
  // a truncated compressed file is an error, not a short snapshot
  boost::filesystem::resize_file(z, compressed / 2);
  CHECK_THROWS_WITH(core::zstd_decompress_file(z, tmp.path() / "again.db"), Catch::Contains("truncated"));
}

TEST_CASE("a range page is decoded as it is parsed, whatever pieces its answer came in") {
  // An answer as etcd's JSON gateway writes it: base64 keys and values, 64-bit numbers as
  // strings, zeros left out, fields kdr does not read (ids, raft_term) skipped.
  const std::string big(3u << 20, 'v');  // a value over the 1 MiB pieces
  const nlohmann::json answer = {
      {"header", {{"cluster_id", "14841639068965178418"}, {"member_id", "10276657743932975437"}, {"revision", "4018"},
                  {"raft_term", "2"}}},
      {"kvs", nlohmann::json::array({
                  {{"key", core::base64_encode("/registry/configmaps/a/one")}, {"create_revision", "7"},
                   {"mod_revision", "9"}, {"version", "2"}, {"value", core::base64_encode("{\"kind\":\"ConfigMap\"}")}},
                  {{"key", core::base64_encode("/registry/leases/b")}, {"create_revision", "11"}, {"mod_revision", "11"},
                   {"version", "1"}, {"lease", "7587869"}, {"value", core::base64_encode(big)}},
                  {{"key", core::base64_encode(std::string("/k\0\xff", 4))}, {"mod_revision", 12}, {"version", 1}},
              })},
      {"more", true},
      {"count", "3"}};
  const auto text = answer.dump();
  for (const std::size_t piece : {std::size_t{1} << 20, std::size_t{7}, text.size()}) {
    etcd::TextChunks chunks;
    for (std::size_t at = 0; at < text.size(); at += piece) chunks.append(text.data() + at, std::min(piece, text.size() - at));
    REQUIRE(chunks.size() == text.size());
    REQUIRE(chunks.joined() == text);
    const auto page = etcd::parse_range_reply(chunks, "etcd at test");
    CHECK(page.revision == 4018);
    CHECK(page.more);
    CHECK(page.count == 3);
    CHECK_FALSE(page.error);
    REQUIRE(page.kvs.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
      // the same as the key-value read from the whole JSON tree
      const auto want = etcd::parse_key_value(answer["kvs"][i]);
      CHECK(page.kvs[i].key == want.key);
      CHECK(page.kvs[i].value == want.value);
      CHECK(page.kvs[i].create_revision == want.create_revision);
      CHECK(page.kvs[i].mod_revision == want.mod_revision);
      CHECK(page.kvs[i].version == want.version);
      CHECK(page.kvs[i].lease == want.lease);
    }
    CHECK(page.kvs[1].value.size() == big.size());
    CHECK(page.kvs[1].lease == 7587869);
    CHECK(page.kvs[2].key == std::string("/k\0\xff", 4));
    CHECK(page.kvs[2].value.empty());
  }

  SECTION("loaded, a page says where the next one starts before a value is decoded; they come one at a time, once") {
    etcd::TextChunks chunks;
    chunks.append(text.data(), text.size());
    etcd::RangeReplyParser parser;
    const auto page = parser.load(chunks, "etcd at test");
    CHECK(chunks.size() == 0);  // the text is the parser's now
    CHECK(page.kvs == 3);
    CHECK(page.last_key == std::string("/k\0\xff", 4));
    CHECK(page.more);
    CHECK(page.revision == 4018);
    std::vector<std::string> keys;
    parser.each([&](etcd::EtcdKeyValue&& kv) { keys.push_back(kv.key); });
    CHECK(keys == std::vector<std::string>{"/registry/configmaps/a/one", "/registry/leases/b", std::string("/k\0\xff", 4)});
    CHECK_THROWS(parser.each([](etcd::EtcdKeyValue&&) {}));
    // a value that is not base64 is found as it is decoded, naming where it came from
    const std::string bad = R"({"kvs":[{"key":"L3g=","value":"!!"}],"more":false})";
    chunks.append(bad.data(), bad.size());
    const auto second = parser.load(chunks, "etcd at test");
    CHECK(second.kvs == 1);
    CHECK(second.last_key == "/x");
    CHECK_THROWS_WITH(parser.each([](etcd::EtcdKeyValue&&) {}), Catch::StartsWith("etcd at test: key-value 1, field value"));
  }
  SECTION("the gateway's error shape is told, for the caller to read whole") {
    etcd::TextChunks chunks;
    const std::string error = R"({"error":"etcdserver: mvcc: required revision has been compacted","code":11,"message":"etcdserver: mvcc: required revision has been compacted"})";
    chunks.append(error.data(), error.size());
    CHECK(etcd::parse_range_reply(chunks, "etcd at test").error);
    CHECK(chunks.joined() == error);  // left for the caller's message
  }
  SECTION("what is not a range answer is an error naming where it came from") {
    for (const std::string& bad : {std::string("{\"kvs\":[{\"key\":\"L3g=\""), std::string("<html>"),
                                  std::string(R"({"header":{"revision":"12x"}})"), std::string(R"({"kvs":[{"value":"!!"}]})")}) {
      etcd::TextChunks chunks;
      chunks.append(bad.data(), bad.size());
      CHECK_THROWS_WITH(etcd::parse_range_reply(chunks, "etcd at https://10.0.0.5:2379/v3/kv/range"),
                        Catch::StartsWith("etcd at https://10.0.0.5:2379/v3/kv/range"));
    }
  }
  SECTION("text after the answer's JSON object is refused, not left unread") {
    for (const std::string& tail : {std::string(R"({"header":{}})"), std::string("garbage")}) {
      etcd::TextChunks chunks;
      const auto bad = text + tail;
      chunks.append(bad.data(), bad.size());
      CHECK_THROWS_WITH(etcd::parse_range_reply(chunks, "etcd at test"), Catch::StartsWith("etcd at test: not a range answer"));
    }
    etcd::TextChunks chunks;
    const auto spaced = text + " \n";
    chunks.append(spaced.data(), spaced.size());
    CHECK(etcd::parse_range_reply(chunks, "etcd at test").kvs.size() == 3);  // whitespace is no text
  }
  SECTION("a '/' a JSON writer escaped inside base64 is read as '/'") {
    etcd::TextChunks chunks;
    const std::string escaped = R"({"kvs":[{"key":"Pz8\/","mod_revision":"3"}]})";  // base64 "Pz8/" is "???"
    chunks.append(escaped.data(), escaped.size());
    CHECK(etcd::parse_range_reply(chunks, "etcd at test").kvs.at(0).key == "???");
  }
}
