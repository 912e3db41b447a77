// EtcdClient's paged reads (etcd/client.cpp, scan) against etcd's JSON gateway on a socket
// (fake_gateway.hpp): every key read once, in order, in pages sized by what the values weigh
// and paced by how long etcd takes to answer one.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "etcd/client.hpp"
#include "fake_gateway.hpp"
#include "temp_dir.hpp"

using namespace kdr;
using namespace std::chrono_literals;
using test::FakeGateway;

namespace {

// `n` ConfigMaps of `value_bytes` each, told apart by their last bytes.
std::map<std::string, std::string> configmaps(int n, std::size_t value_bytes) {
  std::map<std::string, std::string> kvs;
  for (int i = 0; i < n; ++i) {
    auto value = std::string(value_bytes, static_cast<char>('a' + i % 26));
    const auto tag = std::to_string(i);
    value.replace(value.size() - tag.size(), tag.size(), tag);
    kvs.emplace(fmt::format("/registry/configmaps/ns/cm-{:05}", i), std::move(value));
  }
  return kvs;
}

std::vector<FakeGateway::Request> listing(const std::vector<FakeGateway::Request>& requests) {
  std::vector<FakeGateway::Request> out;
  for (const auto& r : requests)
    if (r.keys_only) out.push_back(r);
  return out;
}

// Every key and value read, in order.
std::map<std::string, std::string> read_all(etcd::EtcdClient& client, const etcd::EtcdRangeOptions& options,
                                            std::vector<std::string>* order = nullptr) {
  std::map<std::string, std::string> read;
  client.scan("/registry/configmaps/", options, [&](etcd::EtcdKeyValue&& kv) {
    if (order != nullptr) order->push_back(kv.key);
    read.emplace(kv.key, std::move(kv.value));
  });
  return read;
}

}  // namespace

TEST_CASE("a long range is listed in pages of what 32 MiB of its values weigh, and read once, in key order") {
  test::TempDir dir;
  const auto kvs = configmaps(6000, 8192);
  FakeGateway gateway(dir.path() / "gw.sock", kvs);
  etcd::EtcdClient client(etcd::EtcdEndpoint{gateway.url(), "", "", ""});
  std::vector<std::string> order;
  CHECK(client.range_transport() == "gRPC");  // until an answer says otherwise
  const auto read = read_all(client, {}, &order);
  CHECK(read == kvs);
  CHECK(order.size() == kvs.size());
  CHECK(std::is_sorted(order.begin(), order.end()));
  // the gateway closed the connection that spoke HTTP/2: the pages came over the gateway
  CHECK(client.range_transport() == "the JSON gateway");

  const auto requests = gateway.requests();
  REQUIRE(requests.size() > 2);
  CHECK(requests.front().limit == 8);  // a first look
  // more than 4,096 keys: listed first, keys only, in pages of about 32 MiB of values (8 KiB
  // each, some 11 KiB as base64: about 3,000 keys), not of 16,384 keys
  const auto listed = listing(requests);
  REQUIRE(!listed.empty());
  CHECK(listed.front().limit >= 2048);
  CHECK(listed.front().limit <= 4096);
  // pages of values of about 2 MiB each, each ending at a listed key
  for (std::size_t i = 1; i < requests.size(); ++i) {
    if (requests[i].keys_only) continue;
    CHECK(requests[i].limit <= 256);
    if (i + 1 < requests.size()) CHECK(requests[i].range_end != std::string(1, '\0'));
  }
}

TEST_CASE("a listing page etcd was slow to answer halves the next, a quick one doubles it") {
  test::TempDir dir;
  const auto kvs = configmaps(6000, 8192);
  FakeGateway gateway(dir.path() / "gw.sock", kvs);
  int listings = 0;
  // the first listing page meets a cold page cache; the rest are quick
  gateway.delay = [&listings](const FakeGateway::Request& r) {
    return r.keys_only && ++listings == 1 ? 2000ms : 0ms;
  };
  etcd::EtcdClient client(etcd::EtcdEndpoint{gateway.url(), "", "", ""});
  etcd::EtcdRangeOptions options;
  options.pacing = {1500ms, 600ms};
  CHECK(read_all(client, options) == kvs);
  const auto listed = listing(gateway.requests());
  REQUIRE(listed.size() >= 3);
  CHECK(listed[1].limit == listed[0].limit / 2);
  CHECK(listed[2].limit == listed[1].limit * 2);
}

TEST_CASE("a read of keys only is paced by etcd's answers: a slow page halves the next") {
  test::TempDir dir;
  const auto kvs = configmaps(600, 64);
  FakeGateway gateway(dir.path() / "gw.sock", kvs);
  bool slow_once = false;
  // etcd reads every value all the same: a page of 64 keys meets a slow disk, once
  gateway.delay = [&slow_once](const FakeGateway::Request& r) {
    if (r.limit != 64 || slow_once) return 0ms;
    slow_once = true;
    return 2000ms;
  };
  etcd::EtcdClient client(etcd::EtcdEndpoint{gateway.url(), "", "", ""});
  etcd::EtcdRangeOptions options;
  options.keys_only = true;
  options.pacing = {1500ms, 600ms};
  std::vector<std::string> order;
  const auto read = read_all(client, options, &order);
  CHECK(order.size() == kvs.size());
  for (const auto& [key, value] : read) CHECK(value.empty());
  const auto requests = gateway.requests();
  std::vector<std::int64_t> limits;
  for (const auto& r : requests) limits.push_back(r.limit);
  // pages grow from a first look of 8 keys; the slow one of 64 halves the next
  REQUIRE(limits.size() >= 5);
  CHECK(std::vector<std::int64_t>(limits.begin(), limits.begin() + 5) == std::vector<std::int64_t>{8, 16, 32, 64, 32});
}
