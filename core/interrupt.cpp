#include "core/interrupt.hpp"

#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "core/error.hpp"

namespace kdr::core {

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
