#include "core/context.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>

#include <fmt/format.h>

#include "core/error.hpp"

namespace kdr::core {

bfs::path node_key_file(const Context& ctx) { return ctx.root.host(ctx.config.key_file); }

NodeKey load_or_create_node_key(const Context& ctx) {
  const auto file = node_key_file(ctx);
  if (auto key = load_node_key(file)) return *key;
  auto key = create_node_key(file);
  ctx.out.warn("made this node's key {} (id {}): every generation and journal segment is authenticated with it, "
               "and a restore checks it. Copy it now to where the off-site password is kept: a replacement machine "
               "needs it to restore without --set unauthenticated=true (docs/runbook.md)",
               file.string(), key.id());
  return key;
}

std::vector<std::string> kdr_argv(const Context& ctx) {
  std::vector<std::string> argv = {"kdr"};
  if (!ctx.root.is_real_root()) argv.insert(argv.end(), {"--root", ctx.root.root().string()});
  // the node's own /etc/kdr/kdr.yaml is read without being named
  if (ctx.config.origin.find('/') != std::string::npos && ctx.config.origin != ctx.root.host("/etc/kdr/kdr.yaml").string())
    argv.insert(argv.end(), {"--config", ctx.config.origin});
  if (ctx.backup_dir != default_config().backup_dir) argv.insert(argv.end(), {"--backup-dir", ctx.backup_dir.string()});
  return argv;
}

bool failpoint_armed(std::string_view name, std::size_t n) {
  static const char* spec = std::getenv("KDR_FAILPOINT");
  return spec != nullptr && std::string(spec) == fmt::format("{}:{}", name, n);
}

void failpoint(std::string_view name, std::size_t n) {
  if (failpoint_armed(name, n)) ::kill(::getpid(), SIGKILL);
}

namespace {
volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_signal(int) { g_interrupted = 1; }
}  // namespace

std::int64_t now_epoch() {
  if (const char* fake = std::getenv("KDR_NOW"); fake != nullptr && *fake != '\0') {
    char* end = nullptr;
    long long v = std::strtoll(fake, &end, 10);
    if (end != nullptr && *end == '\0') return v;
    throw UsageError(fmt::format("KDR_NOW='{}' is not a number of seconds since the epoch", fake));
  }
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double monotonic_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

bool interrupted() { return g_interrupted != 0; }

void check_interrupted() {
  if (interrupted()) throw Error("interrupted by a signal", ExitCode::interrupted);
}

void pausepoint(std::string_view name) {
  static const char* spec = std::getenv("KDR_PAUSEPOINT");
  if (spec != nullptr && name == spec) ::raise(SIGSTOP);
}

}  // namespace kdr::core
