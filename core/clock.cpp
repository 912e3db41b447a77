#include "core/clock.hpp"

#include <chrono>
#include <cstdlib>
#include <mutex>

#include <fmt/format.h>

#include "core/error.hpp"

namespace kdr::core {

namespace {

class RealClock final : public Clock {
 public:
  std::int64_t now_ms() const override {
    if (const char* fake = std::getenv("KDR_NOW"); fake != nullptr && *fake != '\0') {
      char* end = nullptr;
      const long long v = std::strtoll(fake, &end, 10);
      if (end != nullptr && *end == '\0') return v * 1000;
      throw UsageError(fmt::format("KDR_NOW='{}' is not a number of seconds since the epoch", fake));
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  double monotonic() const override {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
};

std::mutex g_mutex;
std::shared_ptr<const Clock> g_clock;  // null: the real one

}  // namespace

std::shared_ptr<const Clock> current_clock() {
  static const auto real = std::make_shared<const RealClock>();
  std::lock_guard lock(g_mutex);
  return g_clock ? g_clock : real;
}

std::shared_ptr<const Clock> set_clock(std::shared_ptr<const Clock> c) {
  std::lock_guard lock(g_mutex);
  auto before = std::move(g_clock);
  g_clock = std::move(c);
  return before;
}

std::int64_t now_epoch() { return current_clock()->now_ms() / 1000; }

std::int64_t now_epoch_ms() { return current_clock()->now_ms(); }

double monotonic_seconds() { return current_clock()->monotonic(); }

}  // namespace kdr::core
