// The one clock kdr reads. Wall time for what it records and compares (KDR_NOW, seconds since
// the epoch, replaces it for drills and tests of expiry and retention over days and weeks);
// monotonic time for durations. The unit tests' fake host installs itself here (set_clock), so
// that every unit reads the test's time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace kdr::core {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t now_ms() const = 0;  // wall time, milliseconds since the epoch
  virtual double monotonic() const = 0;    // seconds, for durations
};

// The process's clock: the real one (with KDR_NOW), or the one set_clock installed; held by a
// reading for its length (a test may replace it meanwhile).
std::shared_ptr<const Clock> current_clock();
// Installs `c` as the process's clock and returns the one it replaces (nullptr: the real one
// again).
std::shared_ptr<const Clock> set_clock(std::shared_ptr<const Clock> c);

std::int64_t now_epoch();     // seconds since the epoch
std::int64_t now_epoch_ms();  // milliseconds since the epoch
double monotonic_seconds();

// An RFC 3339 time ("2026-11-28T08:17:08Z", with a fraction of up to 9 digits, "Z" or an offset
// such as "+01:00"): seconds since the epoch and nanoseconds. Empty when `text` is not one (no
// zone is ambiguous, and refused).
struct Rfc3339Time {
  std::int64_t seconds = 0;
  int nanos = 0;
};
std::optional<Rfc3339Time> parse_rfc3339(const std::string& text);
// The same in milliseconds since the epoch.
std::optional<std::int64_t> parse_rfc3339_ms(const std::string& text);

}  // namespace kdr::core
