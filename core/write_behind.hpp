// A producer that fills buffers (a file read, a stream decompressed) and a sink that takes
// them (hashed and written), on two threads: a private copy of a large snapshot reads the
// backup disk while the bytes before are hashed and written, instead of one after the other.
//
//   WriteBehind behind([&](const char* p, std::size_t n) { hash.update(p, n); write_all(...); });
//   for (;;) { auto& buf = behind.buffer(); n = read(buf...); if (n == 0) break; behind.submit(n); }
//   behind.finish();
//
// The sink runs on the pipeline's own thread, one buffer at a time, in the order submitted.
// An exception the sink throws is rethrown by the producer's next buffer(), submit() or
// finish(); once it has thrown, no further buffer reaches it.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kdr::core {

class WriteBehind {
 public:
  using Sink = std::function<void(const char* data, std::size_t size)>;
  // `buffers` buffers of `buffer_bytes` each: the producer runs at most that far ahead.
  explicit WriteBehind(Sink sink, std::size_t buffers = 4, std::size_t buffer_bytes = 1u << 20);
  // Stops the thread; buffers not yet through the sink are dropped (call finish() to keep them).
  ~WriteBehind();
  WriteBehind(const WriteBehind&) = delete;
  WriteBehind& operator=(const WriteBehind&) = delete;

  // A buffer to fill, buffer_bytes long (waits for one the sink is done with).
  std::vector<char>& buffer();
  // Hands the buffer of the last buffer() call to the sink: its first `size` bytes.
  void submit(std::size_t size);
  // Waits until every submitted buffer went through the sink, and stops the thread.
  void finish();

 private:
  void run();
  void rethrow_locked();
  struct Full {
    std::size_t index, size;
  };
  Sink sink_;
  std::vector<std::vector<char>> buffers_;
  std::deque<std::size_t> free_;
  std::deque<Full> full_;
  std::size_t filling_;
  bool have_filling_ = false, stop_ = false, busy_ = false;
  std::exception_ptr error_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::thread thread_;
};

}  // namespace kdr::core
