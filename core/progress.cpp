#include "core/clock.hpp"
#include "core/progress.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "core/generation.hpp"

namespace kdr::core {

namespace {

std::string mib(std::uint64_t bytes) { return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / 1048576.0); }

Progress::Mode choose_mode(const Output& out) {
  if (const char* forced = std::getenv("KDR_PROGRESS")) {
    if (std::strcmp(forced, "bar") == 0) return Progress::Mode::bar;
    if (std::strcmp(forced, "lines") == 0) return Progress::Mode::lines;
    if (std::strcmp(forced, "off") == 0) return Progress::Mode::off;
  }
  if (out.json() || out.verbosity() == Verbosity::quiet) return Progress::Mode::off;
  return ::isatty(::fileno(out.err_stream())) ? Progress::Mode::bar : Progress::Mode::lines;
}

}  // namespace

std::string format_duration(double seconds) {
  const auto s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

Progress::Progress(const Output& out, std::string what, std::uint64_t expected)
    : out_(out), what_(std::move(what)), expected_(expected), mode_(choose_mode(out)), start_(monotonic_seconds()) {}

Progress::~Progress() {
  try {
    finish();
  } catch (...) {
  }
}

void Progress::add(std::uint64_t bytes) {
  done_ += bytes;
  if (mode_ == Mode::off) return;
  const double now = monotonic_seconds();
  const double every = mode_ == Mode::bar ? 0.1 : 10.0;
  if (now - last_render_ < every) return;
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock() || finished_ || now - last_render_ < every) return;
  last_render_ = now;
  render(false);
}

void Progress::finish() {
  std::lock_guard lock(mutex_);
  if (finished_) return;
  finished_ = true;
  if (mode_ == Mode::bar && drawn_) {
    render(true);
    std::fputs("\r\033[K", out_.err_stream());  // the command's own summary follows on a clean line
    std::fflush(out_.err_stream());
  }
}

void Progress::render(bool final) {
  const auto done = done_.load();
  const double elapsed = monotonic_seconds() - start_;
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  std::string left;
  double fraction = 0;
  if (expected_ > 0) {
    fraction = std::min(1.0, static_cast<double>(done) / static_cast<double>(expected_));
    if (!final && rate > 0 && done < expected_)
      left = format_duration(static_cast<double>(expected_ - done) / rate) + " left";
  }
  const auto amount = expected_ > 0 ? fmt::format("{} of {}", mib(done), mib(expected_)) : mib(done);
  std::FILE* f = out_.err_stream();
  if (mode_ == Mode::bar) {
    constexpr std::size_t width = 24;
    const auto filled = std::min(width, static_cast<std::size_t>(fraction * static_cast<double>(width)));
    const std::string bar = expected_ > 0 ? fmt::format("[{:#<{}}{:-<{}}] {:3.0f}%  ", "", filled, "", width - filled,
                                                        fraction * 100)
                                          : std::string();
    fmt::print(f, "\r\033[K  {:<14} {}{}  {}/s  {}", what_, bar, amount, mib(static_cast<std::uint64_t>(rate)),
               final ? format_duration(elapsed) : left);
    drawn_ = true;
  } else {
    fmt::print(f, "{} kdr: {}: {}{}, {}/s{}\n", iso_time(now_epoch()), what_, amount,
               expected_ > 0 ? fmt::format(" ({:.0f}%)", fraction * 100) : "", mib(static_cast<std::uint64_t>(rate)),
               left.empty() ? "" : ", about " + left);
  }
  std::fflush(f);
}

}  // namespace kdr::core
