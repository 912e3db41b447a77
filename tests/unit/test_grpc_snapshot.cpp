// etcd's snapshot stream over gRPC (etcd/grpc_snapshot.hpp): SnapshotResponse messages laid out
// as etcd 3.4 and 3.5 send them (32 KiB blobs, each with the bytes that remain after it, then
// the SHA-256), cut into pieces of any size as HTTP/2 hands them on. A real etcd streams its
// snapshot in the backup scenarios (3.4 and 3.5).
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/protobuf_wire.hpp"
#include "core/sha256.hpp"
#include "etcd/client.hpp"
#include "etcd/grpc_snapshot.hpp"
#include "fake_gateway.hpp"
#include "temp_dir.hpp"

using namespace kdr;

namespace {

std::string framed(const std::string& m, char compressed = '\0') {
  const auto n = static_cast<std::uint32_t>(m.size());
  return std::string{compressed, static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                     static_cast<char>(n)} +
         m;
}

// SnapshotResponse {header 1, remaining_bytes 2, blob 3}; a zero is left out, as proto3 does.
std::string response(std::uint64_t remaining, const std::string& blob, const std::string& header = "") {
  std::string m;
  if (!header.empty()) core::put_bytes(m, 1, header);
  if (remaining != 0) core::put_number(m, 2, remaining);
  if (!blob.empty()) core::put_bytes(m, 3, blob);
  return m;
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

std::string raw_sha256(const std::string& data) {
  const auto hex = core::sha256_hex(data);
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

// The stream etcd sends for `db`: its blobs, then its SHA-256.
std::string stream_of(const std::string& db, std::size_t blob = 32768) {
  std::string out;
  for (std::size_t at = 0; at < db.size(); at += blob) {
    const auto n = std::min(blob, db.size() - at);
    out += framed(response(db.size() - at - n, db.substr(at, n)));
  }
  return out + framed(response(0, raw_sha256(db)));
}

struct Collected {
  std::string bytes;
  etcd::SnapshotStreamReader reader{[this](std::string_view b) { bytes.append(b); }, "etcd at test"};
};

}  // namespace

TEST_CASE("a snapshot stream cut into pieces of any size gives the database and its SHA-256, in order") {
  const auto db = random_bytes(100'000 + 512, 1);
  const auto stream = stream_of(db);
  for (const unsigned seed : {1u, 2u, 3u}) {
    Collected c;
    std::mt19937 rng(seed);
    for (std::size_t at = 0; at < stream.size();) {
      const auto n = std::min<std::size_t>(1 + rng() % (seed == 1 ? 7 : 70'000), stream.size() - at);
      c.reader.feed(std::string_view(stream).substr(at, n));
      at += n;
    }
    CHECK(c.reader.complete());
    CHECK(c.bytes == db + raw_sha256(db));
    CHECK(c.reader.received() == db.size() + 32);
    CHECK(c.reader.database_size() == db.size());
  }
}

TEST_CASE("a snapshot stream may open with a message without a blob (a header, a version)") {
  const auto db = random_bytes(40'000, 2);
  Collected c;
  c.reader.feed(framed(response(db.size(), "", std::string("\x18\x07", 2))) + stream_of(db));
  CHECK(c.reader.complete());
  CHECK(c.bytes == db + raw_sha256(db));
}

TEST_CASE("a snapshot stream that ends early is not complete") {
  const auto db = random_bytes(100'000, 3);
  const auto stream = stream_of(db);
  Collected c;
  c.reader.feed(std::string_view(stream).substr(0, 50'000));
  CHECK_FALSE(c.reader.complete());
  CHECK(c.reader.received() == 32768);
  // the database whole, its SHA-256 not yet come
  Collected d;
  d.reader.feed(std::string_view(stream).substr(0, stream.size() - 39));
  CHECK_FALSE(d.reader.complete());
  CHECK(d.bytes == db);
}

TEST_CASE("bytes that are not etcd's snapshot stream are refused, naming the etcd") {
  const auto db = random_bytes(70'000, 4);
  auto refused = [](const std::string& stream, const std::string& words) {
    Collected c;
    CHECK_THROWS_WITH(c.reader.feed(stream), Catch::Contains("etcd at test: ") && Catch::Contains(words));
  };
  refused(framed(response(10, "abc"), '\1'), "a compressed message");
  refused(std::string{'\0', '\x7f', '\0', '\0', '\0'}, "a snapshot message of 2130706432 bytes");
  refused(framed(std::string("\x1a\x05xy", 4)), "does not parse as SnapshotResponse");
  // a blob lost: the remaining bytes etcd announced do not add up
  refused(framed(response(70'000 - 32768, db.substr(0, 32768))) + framed(response(0, db.substr(65536))),
          "does not add up: 37232 bytes were to come, a blob of 4464 left 0");
  // after the database, something that is not a SHA-256, or more after it
  refused(framed(response(0, db)) + framed(response(0, std::string(31, 'x'))),
          "a blob of 31 bytes where its SHA-256 (32 bytes) was expected");
  refused(stream_of(db) + framed(response(0, "more")), "goes on after its SHA-256");
}

TEST_CASE("an endpoint that does not speak gRPC streams no snapshot: false, and the client reads over the gateway") {
  test::TempDir dir;
  test::FakeGateway gateway(dir.path() / "gw.sock", {{"/registry/a", "1"}});
  etcd::EtcdClient client(etcd::EtcdEndpoint{gateway.url(), "", "", ""});
  std::string handed;
  CHECK_FALSE(client.snapshot([&](std::string_view b) { handed.append(b); }, std::chrono::seconds(10)));
  CHECK(handed.empty());
  CHECK(client.range_transport() == "the JSON gateway");
}
