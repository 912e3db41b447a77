#include "core/clock.hpp"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
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

std::optional<Rfc3339Time> parse_rfc3339(const std::string& text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, used = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &used) != 6 || used != 19)
    return std::nullopt;
  std::size_t pos = 19;
  int nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    std::size_t digits = 0;
    ++pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (digits < 9) nanos = nanos * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 9; ++digits) nanos *= 10;
  }
  std::int64_t offset_s = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos + 6 == text.size() && (text[pos] == '+' || text[pos] == '-') && text[pos + 3] == ':') {
    int oh = 0, om = 0;
    if (std::sscanf(text.c_str() + pos + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
    offset_s = (text[pos] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size() || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return Rfc3339Time{static_cast<std::int64_t>(::timegm(&tm)) - offset_s, nanos};
}

std::optional<std::int64_t> parse_rfc3339_ms(const std::string& text) {
  const auto t = parse_rfc3339(text);
  if (!t) return std::nullopt;
  return t->seconds * 1000 + t->nanos / 1000000;
}

}  // namespace kdr::core
