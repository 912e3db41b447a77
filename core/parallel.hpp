// Runs fn(i) for i in [0, count) on a few threads: the cores the machine has, at most 4 (work
// for the CPU: hashing many files), or `threads` when given (work that waits on the network).
// fn must be safe to call concurrently. The first exception thrown is rethrown after every
// thread has stopped.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace kdr::core {

template <typename Fn>
void parallel_for(std::size_t count, Fn&& fn, std::size_t threads = 0) {
  if (threads == 0) threads = std::min<std::size_t>(std::max(1u, std::thread::hardware_concurrency()), 4);
  threads = std::min<std::size_t>(threads, std::max<std::size_t>(count, 1));
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < count;) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        next = count;
      }
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace kdr::core
