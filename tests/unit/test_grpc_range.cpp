// etcd's Range over gRPC (etcd/grpc_range.hpp): the request as etcdserverpb.RangeRequest
// numbers its fields, and an answer laid out byte by byte as etcd's RangeResponse, read through
// the range parser. A real etcd answers it in the scenarios (3.4 and 3.5) that read ranges.
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "core/error.hpp"
#include "core/protobuf_wire.hpp"
#include "etcd/grpc_range.hpp"
#include "etcd/range_reply.hpp"

using namespace kdr;

namespace {

std::string bytes_field(unsigned field, const std::string& b) {
  std::string out;
  core::put_bytes(out, field, b);
  return out;
}
std::string number_field(unsigned field, std::uint64_t v) {
  std::string out;
  core::put_number(out, field, v);
  return out;
}
std::string framed(const std::string& m) {
  const auto n = static_cast<std::uint32_t>(m.size());
  return std::string{'\0', static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                     static_cast<char>(n)} +
         m;
}
// mvccpb.KeyValue {key 1, create_revision 2, mod_revision 3, version 4, value 5}
std::string key_value(const std::string& key, const std::string& value, std::uint64_t rev) {
  return bytes_field(1, key) + number_field(2, rev) + number_field(3, rev) + number_field(4, 1) + bytes_field(5, value);
}

}  // namespace

TEST_CASE("gRPC range: the request carries etcdserverpb.RangeRequest's fields, framed") {
  const auto req = etcd::grpc_range_request({"/registry/a", "/registry/b", 500, 42, 7, true, true});
  REQUIRE(req.size() > 5);
  CHECK(req[0] == '\0');
  const auto n = static_cast<std::size_t>(static_cast<unsigned char>(req[3])) << 8 | static_cast<unsigned char>(req[4]);
  CHECK(n == req.size() - 5);
  std::map<std::uint64_t, std::string> bytes;
  std::map<std::uint64_t, std::uint64_t> numbers;
  CHECK(core::for_each_field(std::string_view(req).substr(5), [&](std::uint64_t f, unsigned wire, std::uint64_t v, std::string_view b) {
    if (wire == 2) bytes[f] = std::string(b);
    else numbers[f] = v;
    return true;
  }));
  CHECK(bytes == std::map<std::uint64_t, std::string>{{1, "/registry/a"}, {2, "/registry/b"}});
  CHECK(numbers == std::map<std::uint64_t, std::uint64_t>{{3, 500}, {4, 42}, {7, 1}, {8, 1}, {10, 7}});
  // zeros and false are left out, as proto3 writes them
  const auto plain = etcd::grpc_range_request({"k", "", 0, 0, 0, false, false});
  CHECK(plain == framed(bytes_field(1, "k")));
}

TEST_CASE("gRPC range: an answer's header revision, more, count and key-values, read a page at a time") {
  // ResponseHeader {cluster_id 1, member_id 2, revision 3, raft_term 4}
  const auto header = number_field(1, 0xabcdef) + number_field(2, 0x1234) + number_field(3, 99) + number_field(4, 5);
  const auto answer = framed(bytes_field(1, header) + bytes_field(2, key_value("/registry/x/a", "v-a", 10)) +
                             bytes_field(2, key_value("/registry/x/b", std::string("v\0b", 3), 12)) + number_field(3, 1) +
                             number_field(4, 7));
  const auto read = etcd::read_grpc_range_answer(answer, "etcd");
  CHECK(read.revision == 99);
  CHECK(read.more);
  CHECK(read.count == 7);
  CHECK(read.kvs.size() == 2);

  etcd::RangeReplyParser parser;
  etcd::TextChunks body;
  body.append(answer.data(), answer.size());
  const auto page = parser.load_grpc(body, "etcd");
  CHECK(page.revision == 99);
  CHECK(page.more);
  CHECK(page.count == 7);
  CHECK(page.kvs == 2);
  CHECK(page.last_key == "/registry/x/b");
  std::map<std::string, std::string> got;
  parser.each([&](etcd::EtcdKeyValue&& kv) {
    got[kv.key] = kv.value;
    CHECK(kv.mod_revision == (kv.key == "/registry/x/a" ? 10 : 12));
  });
  CHECK(got == std::map<std::string, std::string>{{"/registry/x/a", "v-a"}, {"/registry/x/b", std::string("v\0b", 3)}});

  // an empty range: no key-values, no last key
  etcd::TextChunks empty;
  const auto none = framed(bytes_field(1, header));
  empty.append(none.data(), none.size());
  const auto nothing = parser.load_grpc(empty, "etcd");
  CHECK(nothing.kvs == 0);
  CHECK(nothing.last_key.empty());
  CHECK_FALSE(nothing.more);
}

TEST_CASE("gRPC range: an answer cut short, compressed or not a RangeResponse is refused, naming its origin") {
  const auto good = framed(bytes_field(2, key_value("/k", "v", 3)));
  CHECK_THROWS_WITH(etcd::read_grpc_range_answer(good.substr(0, good.size() - 2), "etcd at X"),
                    Catch::Contains("etcd at X") && Catch::Contains("says it holds"));
  auto compressed = good;
  compressed[0] = '\1';
  CHECK_THROWS_WITH(etcd::read_grpc_range_answer(compressed, "etcd at X"), Catch::Contains("compressed"));
  CHECK_THROWS_WITH(etcd::read_grpc_range_answer("\0\0", "etcd at X"), Catch::Contains("not a gRPC answer"));
  CHECK_THROWS_WITH(etcd::read_grpc_range_answer(framed(std::string("\x12\x7f", 2)), "etcd at X"),
                    Catch::Contains("does not parse"));
  // a key-value that is not mvccpb.KeyValue (no key)
  etcd::RangeReplyParser parser;
  etcd::TextChunks body;
  const auto keyless = framed(bytes_field(2, number_field(2, 3)));
  body.append(keyless.data(), keyless.size());
  CHECK_THROWS_WITH(parser.load_grpc(body, "etcd at X"), Catch::Contains("names no key"));
}
