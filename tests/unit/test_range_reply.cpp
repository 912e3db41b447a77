// The range answer of etcd's JSON gateway, decoded by etcd/range_reply (the scenarios read real
// etcd 3.4 and 3.5 through it; these are the answers a scenario cannot make etcd write).
#include <catch2/catch.hpp>

#include <string>

#include "core/error.hpp"
#include "etcd/range_reply.hpp"

using namespace kdr;

namespace {

// `text` as the transfer hands it over: in pieces of `piece` bytes.
etcd::TextChunks arriving(const std::string& text, std::size_t piece = 7) {
  etcd::TextChunks body;
  for (std::size_t at = 0; at < text.size(); at += piece) body.append(text.data() + at, std::min(piece, text.size() - at));
  return body;
}

const std::string page =
    R"({"header":{"cluster_id":"1","revision":"42"},"kvs":[)"
    R"({"key":"L3JlZ2lzdHJ5L2E=","create_revision":"40","mod_revision":"41","version":"2","value":"dg=="},)"
    R"({"key":"Pz8\/","mod_revision":7,"lease":"5"}],"more":true,"count":"3"})";

}  // namespace

TEST_CASE("range answer: a page of the gateway's, as it arrives in pieces") {
  auto body = arriving(page);
  const auto r = etcd::parse_range_reply(body, "GET /v3/kv/range");
  CHECK(r.revision == 42);
  CHECK(r.more);
  CHECK(r.count == 3);
  CHECK_FALSE(r.error);
  REQUIRE(r.kvs.size() == 2);
  CHECK(r.kvs[0].key == "/registry/a");
  CHECK(r.kvs[0].value == "v");
  CHECK(r.kvs[0].create_revision == 40);
  CHECK(r.kvs[0].mod_revision == 41);
  CHECK(r.kvs[0].version == 2);
  CHECK(r.kvs[1].key == "???");  // base64 "Pz8/", its "/" escaped as a JSON writer may
  CHECK(r.kvs[1].value.empty());          // keys only
  CHECK(r.kvs[1].mod_revision == 7);      // a number, not a string
  CHECK(r.kvs[1].lease == 5);
}

TEST_CASE("range answer: an error answer is left whole for the caller") {
  const std::string text = R"({"error":"etcdserver: mvcc: required revision has been compacted","code":11})";
  auto body = arriving(text);
  const auto r = etcd::parse_range_reply(body, "range");
  CHECK(r.error);
  CHECK(body.joined() == text);
}

TEST_CASE("range answer: what the gateway does not write is an error naming where it came from") {
  const auto refused = [](const std::string& text) {
    auto body = arriving(text);
    return etcd::parse_range_reply(body, "POST https://127.0.0.1:2379/v3/kv/range");
  };
  CHECK_THROWS_WITH(refused(page + R"({"header":{}})"),
                    Catch::Contains("/v3/kv/range: not a range answer: text after its JSON object"));
  CHECK_THROWS_WITH(refused(page + "garbage"), Catch::Contains("/v3/kv/range: not a range answer"));
  CHECK_THROWS_WITH(refused("<html>502 Bad Gateway</html>"), Catch::Contains("/v3/kv/range: not a range answer"));
  CHECK_THROWS_WITH(refused(R"({"kvs":[{"key":"not base64!"}]})"), Catch::Contains("key-value 1, field key"));
  CHECK_THROWS_WITH(refused(R"({"kvs":[{"key":"YQ==","mod_revision":"12x"}]})"),
                    Catch::Contains("field mod_revision is not a number: '12x'"));
  CHECK_THROWS_WITH(refused(R"({"header":{"revision":"1"},"kvs":[{"key":"YQ=="})"), Catch::Contains("not a range answer"));
}
