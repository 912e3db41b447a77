// What kdr prints. Results go to stdout (as text, or JSON with --json); warnings and
// errors go to stderr as `kdr: warning: ...` / `kdr: error: ...`; -q keeps only
// warnings and errors, -v adds detail.
#pragma once

#include <cstdint>
#include <cstdio>
#include <iterator>
#include <string>

#include <fmt/format.h>

namespace kdr::core {

enum class Verbosity { quiet, normal, verbose };

class Output {
 public:
  Output(Verbosity verbosity = Verbosity::normal, bool as_json = false, std::FILE* out = stdout,
         std::FILE* err = stderr)
      : verbosity_(verbosity), json_(as_json), out_(out), err_(err) {}

  bool json() const { return json_; }
  Verbosity verbosity() const { return verbosity_; }

  // A line of the human report (not printed with --json or -q).
  template <typename... Args>
  void info(fmt::format_string<Args...> f, Args&&... args) const {
    if (!json_ && verbosity_ != Verbosity::quiet) line(out_, "", fmt::format(f, std::forward<Args>(args)...));
  }
  // Detail only shown with -v (on stderr, so it never mixes with --json output).
  template <typename... Args>
  void detail(fmt::format_string<Args...> f, Args&&... args) const {
    if (verbosity_ == Verbosity::verbose) line(err_, "kdr: ", fmt::format(f, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void warn(fmt::format_string<Args...> f, Args&&... args) const {
    line(err_, "kdr: warning: ", fmt::format(f, std::forward<Args>(args)...));
  }
  void error(const std::string& message) const { line(err_, "kdr: error: ", message); }
  // Where progress goes (stderr), for core::Progress.
  std::FILE* err_stream() const { return err_; }
  // Machine output (the --json document), always printed.
  void raw(const std::string& text) const { line(out_, "", text); }

 private:
  static void line(std::FILE* f, const char* prefix, const std::string& text) {
    fmt::print(f, "{}{}\n", prefix, text);
    std::fflush(f);
  }
  Verbosity verbosity_;
  bool json_;
  std::FILE* out_;
  std::FILE* err_;
};

// 1536 -> "1.5 KiB", as every command prints sizes.
inline std::string human_bytes(std::uint64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  std::size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(units)) v /= 1024, ++u;
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

}  // namespace kdr::core
