// kdr-etcd-fill: fills etcd with a cluster-like database of a given size, for bench/scale.sh.
// What it writes, through the v3 gateway, THREADS writers at once:
//   - ConfigMaps with one data value each, of sizes spread from 1 KiB to 1 MiB (most small, a
//     few large: the sizes a cluster with Helm releases and bundled dashboards holds), in 40
//     namespaces;
//   - Leases (kube-node-lease) of 200 nodes, each renewed again and again: keys with long
//     histories, as the kubelet's heartbeats make them;
//   - an Event in `bench-1` per 20 writes, so that one namespace is small and restorable.
// With --small, every ConfigMap is of 256 bytes to 4 KiB: the many small objects (Pods,
// Endpoints, Events) of a cluster with thousands of nodes, about ten times the keys a GiB.
// The values are JSON, as kube-apiserver stores objects with --storage-media-type=application/json:
// kdr decodes every one. Stops when etcd's database reaches BYTES; prints the keys and
// revisions written.
//
//   kdr-etcd-fill --endpoint URL [--cacert F --cert F --key F] --bytes N [--threads 4] [--seed 1] [--small]
#include <atomic>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "core/base64.hpp"
#include "bench/endpoint_option.hpp"
#include "core/error.hpp"
#include "etcd/client.hpp"

using namespace kdr;

namespace {

std::string random_text(std::mt19937_64& rng, std::size_t n) {
  std::string raw(n * 3 / 4, '\0');
  for (auto& c : raw) c = static_cast<char>(rng());
  return core::base64_encode(raw);
}

// A size from 1 KiB to 1 MiB: 70% under 8 KiB, 25% under 128 KiB, 5% up to 1 MiB.
std::size_t value_size(std::mt19937_64& rng) {
  const auto p = rng() % 100;
  if (p < 70) return 1024 + rng() % (7 * 1024);
  if (p < 95) return 8 * 1024 + rng() % (120 * 1024);
  return 128 * 1024 + rng() % (896 * 1024);
}

// A size from 256 bytes to 4 KiB (--small).
std::size_t small_value_size(std::mt19937_64& rng) { return 256 + rng() % (4096 - 256); }

std::string config_map(const std::string& ns, const std::string& name, const std::string& data) {
  return fmt::format(R"({{"kind":"ConfigMap","apiVersion":"v1","metadata":{{"name":"{}","namespace":"{}",)"
                     R"("uid":"00000000-0000-4000-8000-{:012x}","creationTimestamp":"2026-11-30T08:00:00Z"}},)"
                     R"("data":{{"blob":"{}"}}}})",
                     name, ns, std::hash<std::string>{}(ns + name) & 0xffffffffffffULL, data);
}

std::string lease(const std::string& node, std::uint64_t renewal) {
  return fmt::format(R"({{"kind":"Lease","apiVersion":"coordination.k8s.io/v1","metadata":{{"name":"{}",)"
                     R"("namespace":"kube-node-lease","creationTimestamp":"2026-11-30T08:00:00Z"}},)"
                     R"("spec":{{"holderIdentity":"{}","leaseDurationSeconds":40,)"
                     R"("renewTime":"2026-11-30T09:{:02}:{:02}.000000Z"}}}})",
                     node, node, (renewal / 60) % 60, renewal % 60);
}

std::string event(const std::string& name, std::uint64_t n) {
  return fmt::format(R"({{"kind":"Event","apiVersion":"v1","metadata":{{"name":"{}","namespace":"bench-1",)"
                     R"("creationTimestamp":"2026-11-30T08:00:00Z"}},"involvedObject":{{"kind":"Pod",)"
                     R"("namespace":"bench-1","name":"web-{}"}},"reason":"Pulled","message":"image pulled",)"
                     R"("type":"Normal","count":1}})",
                     name, n % 50);
}

}  // namespace

int main(int argc, char** argv) {
  etcd::EtcdEndpoint endpoint;
  std::uint64_t bytes = 0, seed = 1;
  std::size_t threads = 4;
  bool small = false;
  for (int i = 1; i < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--small") {
      small = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "kdr-etcd-fill: %s needs a value\n", a.c_str());
      return 2;
    }
    const std::string v = argv[i + 1];
    if (bench::endpoint_option(a, v, endpoint)) continue;
    if (a == "--bytes") bytes = std::stoull(v);
    else if (a == "--threads") threads = std::stoul(v);
    else if (a == "--seed") seed = std::stoull(v);
    else {
      std::fprintf(stderr, "kdr-etcd-fill: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (endpoint.url.empty() || bytes == 0 || threads == 0) {
    std::fprintf(stderr, "usage: kdr-etcd-fill --endpoint URL --bytes N [--threads 4] [--small] ...\n");
    return 2;
  }
  std::atomic<bool> full{false};
  std::atomic<std::uint64_t> puts{0}, failed{0};
  std::atomic<std::int64_t> revision{0};
  std::vector<std::thread> workers;
  for (std::size_t t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      etcd::EtcdClient client(endpoint, std::chrono::seconds(60));
      std::mt19937_64 rng(seed * 1000 + t);
      for (std::uint64_t n = 0; !full.load(); ++n) {
        std::string key, value;
        if (n % 20 == 0) {
          const auto name = fmt::format("ev-{}-{}", t, n);
          key = "/registry/events/bench-1/" + name;
          value = event(name, n);
        } else if (n % 4 == 0) {
          const auto node = fmt::format("node-{}", rng() % 200);
          key = "/registry/leases/kube-node-lease/" + node;
          value = lease(node, n);
        } else {
          const auto ns = fmt::format("bench-{}", 2 + rng() % 40);
          const auto name = fmt::format("cm-{}-{}", t, n);
          key = fmt::format("/registry/configmaps/{}/{}", ns, name);
          value = config_map(ns, name, random_text(rng, small ? small_value_size(rng) : value_size(rng)));
        }
        try {
          const auto rev = client.apply({{false, key, value, 0}});
          std::int64_t prev = revision.load();
          while (rev > prev && !revision.compare_exchange_weak(prev, rev)) {
          }
          ++puts;
          if (n % 64 == 0 && client.status().db_size >= bytes) full = true;
        } catch (const core::Error& e) {
          if (failed++ == 0) std::fprintf(stderr, "kdr-etcd-fill: %s\n", e.what());
          if (failed.load() > 100) full = true;
        }
      }
    });
  for (auto& w : workers) w.join();
  std::printf("%llu %lld\n", static_cast<unsigned long long>(puts.load()), static_cast<long long>(revision.load()));
  return failed.load() > 0 ? 1 : 0;
}
