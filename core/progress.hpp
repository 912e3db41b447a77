// Progress of long work (copying, hashing, the etcd snapshot, a restore's copy). On a
// terminal: one bar on stderr, redrawn at most 10 times a second, with bytes, rate and time
// left, cleared when done. Elsewhere (cron, journald, a pipe): a plain timestamped line
// every 10 seconds. Nothing with -q or --json. Safe to feed from several threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "core/output.hpp"

namespace kdr::core {

class Progress {
 public:
  // `expected` bytes (0: unknown, then no percentage or time left).
  Progress(const Output& out, std::string what, std::uint64_t expected);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void add(std::uint64_t bytes);
  void finish();

  // How progress shows: bar (a terminal), lines (not a terminal), off (-q, --json). KDR_PROGRESS=bar|lines|off
  // overrides the choice.
  enum class Mode { bar, lines, off };
  Mode mode() const { return mode_; }

 private:
  void render(bool final);
  const Output& out_;
  std::string what_;
  std::uint64_t expected_;
  Mode mode_;
  std::atomic<std::uint64_t> done_{0};
  std::mutex mutex_;
  double start_, last_render_ = 0;
  bool finished_ = false, drawn_ = false;
};

// "1:05" for 65 seconds.
std::string format_duration(double seconds);

}  // namespace kdr::core
