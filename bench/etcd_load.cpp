// kdr-etcd-load: writes into etcd at a steady rate through the v3 gateway (the benchmarks'
// load generator): THREADS writers, each its own connection, putting VALUE_BYTES random bytes
// under /registry/configmaps/load/KEY for SECONDS, RATE puts per second in all. Every 50 ms
// it notes etcd's revision of the latest put with the wall time, so that a follower's lag can
// be measured afterwards (bench/journal.sh).
//
//   kdr-etcd-load --endpoint URL [--cacert F --cert F --key F] --rate N --seconds S
//                 [--value-bytes 1024] [--keys 5000] [--threads 8] [--samples FILE]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "bench/endpoint_option.hpp"
#include "core/error.hpp"
#include "etcd/client.hpp"

using namespace kdr;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  etcd::EtcdEndpoint endpoint;
  double rate = 100, seconds = 10;
  std::size_t value_bytes = 1024, keys = 5000, threads = 8;
  std::string samples_file;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (bench::endpoint_option(a, v, endpoint)) continue;
    if (a == "--rate") rate = std::stod(v);
    else if (a == "--seconds") seconds = std::stod(v);
    else if (a == "--value-bytes") value_bytes = std::stoul(v);
    else if (a == "--keys") keys = std::stoul(v);
    else if (a == "--threads") threads = std::stoul(v);
    else if (a == "--samples") samples_file = v;
    else {
      std::fprintf(stderr, "kdr-etcd-load: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (endpoint.url.empty() || threads == 0) {
    std::fprintf(stderr, "usage: kdr-etcd-load --endpoint URL --rate N --seconds S ...\n");
    return 2;
  }
  std::atomic<std::uint64_t> done{0}, failed{0}, payload{0};
  std::atomic<std::int64_t> last_revision{0};
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  const double per_thread = rate / static_cast<double>(threads);
  std::vector<std::thread> workers;
  for (std::size_t t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      etcd::EtcdClient client(endpoint, std::chrono::seconds(10));
      std::mt19937_64 rng(t + 1);
      std::string value(value_bytes, '\0');
      std::uint64_t n = 0;
      for (;;) {
        // steady pacing: the n-th put of this thread is due at start + n / per_thread
        const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(static_cast<double>(n) / per_thread));
        if (due >= end) break;
        std::this_thread::sleep_until(due);
        for (auto& c : value) c = static_cast<char>('a' + rng() % 26);
        const auto key = fmt::format("/registry/configmaps/load/k{}", rng() % keys);
        try {
          const auto rev = client.apply({{false, key, value, 0}});
          std::int64_t prev = last_revision.load();
          while (rev > prev && !last_revision.compare_exchange_weak(prev, rev)) {
          }
          ++done;
          payload += key.size() + value.size();
        } catch (const core::Error& e) {
          if (failed++ == 0) std::fprintf(stderr, "kdr-etcd-load: %s\n", e.what());
        }
        ++n;
      }
    });
  std::FILE* samples = samples_file.empty() ? nullptr : std::fopen(samples_file.c_str(), "w");
  while (Clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (samples != nullptr && last_revision.load() > 0) {
      const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
      std::fprintf(samples, "%lld %lld\n", static_cast<long long>(wall), static_cast<long long>(last_revision.load()));
    }
  }
  for (auto& w : workers) w.join();
  if (samples != nullptr) std::fclose(samples);
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("%llu %.1f %llu %llu\n", static_cast<unsigned long long>(done.load()),
              static_cast<double>(done.load()) / elapsed, static_cast<unsigned long long>(payload.load()),
              static_cast<unsigned long long>(failed.load()));
  return failed.load() > 0 ? 1 : 0;
}
