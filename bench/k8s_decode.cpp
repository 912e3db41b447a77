// kdr-k8s-decode SNAPSHOT PREFIX: how fast kdr decodes Kubernetes objects, apart from reading
// them. Reads the live values under PREFIX off an etcd snapshot file (etcd/snapshot_keys.hpp),
// keeps them in memory, then decodes every one as `kdr get` does (k8s/decode.hpp), on one
// thread. Prints: "<objects> objects, <MB> MB; read <s> s; decoded <s> s, <objects/s> objects/s;
// <failed> not decoded".
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "etcd/snapshot_keys.hpp"
#include "k8s/decode.hpp"

using namespace kdr;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: kdr-k8s-decode SNAPSHOT PREFIX\n");
    return 2;
  }
  using clock = std::chrono::steady_clock;
  std::vector<etcd::EtcdKeyValue> values;
  std::size_t bytes = 0;
  const auto t0 = clock::now();
  etcd::read_snapshot_keys(argv[1], {argv[2], std::nullopt, nullptr}, [&](const etcd::EtcdKeyValue& kv) {
    bytes += kv.value.size();
    values.push_back(kv);
  });
  const auto t1 = clock::now();
  (void)k8s::Schema::builtin();  // built once, before the clock starts
  const auto t2 = clock::now();
  std::size_t failed = 0;
  k8s::DecodeOptions options;
  for (const auto& kv : values) {
    const auto o = k8s::decode_stored(kv.key, kv.value, kv.mod_revision, kv.create_revision, options);
    if (!o.decoded()) ++failed;
  }
  const auto t3 = clock::now();
  const double read_s = std::chrono::duration<double>(t1 - t0).count();
  const double decode_s = std::chrono::duration<double>(t3 - t2).count();
  std::printf("%zu objects, %.1f MB; read %.2f s; decoded %.2f s, %.0f objects/s; %zu not decoded\n", values.size(),
              static_cast<double>(bytes) / 1e6, read_s, decode_s, static_cast<double>(values.size()) / decode_s, failed);
  return failed == 0 ? 0 : 1;
}
