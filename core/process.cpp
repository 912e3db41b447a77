#include "core/interrupt.hpp"
#include "core/process.hpp"

// Boost.Asio's scheduler trips GCC's flow-based -Wnull-dereference once inlined here; the
// warning is about Boost's code, not this file's, and cannot be scoped to the include.
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include <boost/asio/io_context.hpp>
#include <boost/process.hpp>
#include <boost/process/extend.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <sys/prctl.h>

#include <cstdio>
#include <cstring>
#include <future>
#include <thread>

#include "core/error.hpp"

namespace kdr::core {

namespace bp = boost::process;

bfs::path find_program(const std::string& name) {
  if (name.empty()) return {};
  if (name.find('/') != std::string::npos) {
    auto st = lstat_path(name);
    return st ? bfs::path(name) : bfs::path();
  }
  return bp::search_path(name);
}

std::string describe_argv(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    const bool plain = !a.empty() && a.find_first_of(" \t\n'\"\\$`*?[]{}()<>|&;#~!") == std::string::npos;
    if (plain) {
      out += a;
      continue;
    }
    // single quotes, each ' inside written as '\'' so that the line pastes into a shell
    out += '\'';
    for (char c : a) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    out += '\'';
  }
  return out;
}

namespace {

// The child dies with kdr: a private etcd never outlives the command that started it, and a
// kdr killed mid-run (a cron timeout, kill -9) leaves no restic or etcdctl working on alone.
struct DieWithParent : bp::extend::handler {
  template <typename Executor>
  void on_exec_setup(Executor&) const {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  }
};

// The child's umask is 077 when `on`: what it creates is readable by root only.
struct PrivateUmask : bp::extend::handler {
  explicit PrivateUmask(bool o) : on(o) {}
  bool on;
  template <typename Executor>
  void on_exec_setup(Executor&) const {
    if (on) ::umask(077);
  }
};

// The child starts in `dir` (empty: kdr's own working directory); a chdir that fails is an
// exec error, reported as the program not starting.
struct StartIn : bp::extend::handler {
  explicit StartIn(std::string d) : dir(std::move(d)) {}
  std::string dir;
  template <typename Executor>
  void on_exec_setup(Executor& e) const {
    if (!dir.empty() && ::chdir(dir.c_str()) != 0) e.set_error(std::error_code(errno, std::system_category()), "chdir");
  }
};

// The child's whole environment, handed to execve(2) directly: the inherited one with
// `extra` set over it. Built before the fork (the child allocates nothing); never in an argv,
// where every local user could read it in /proc/PID/cmdline (a secret key, a repository URL).
class ChildEnvironment : public bp::extend::handler {
 public:
  explicit ChildEnvironment(const std::map<std::string, std::string>& extra) {
    for (char** e = ::environ; e != nullptr && *e != nullptr; ++e) {
      const std::string_view entry(*e);
      const auto eq = entry.find('=');
      if (extra.count(std::string(entry.substr(0, eq))) == 0) entries_.emplace_back(entry);
    }
    for (const auto& [k, v] : extra) entries_.push_back(k + "=" + v);
    for (auto& entry : entries_) pointers_.push_back(entry.data());
    pointers_.push_back(nullptr);
  }
  template <typename Executor>
  void on_setup(Executor& e) const {
    e.env = const_cast<char**>(pointers_.data());
  }

 private:
  std::vector<std::string> entries_;
  std::vector<char*> pointers_;
};

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
  ProcessResult result;
  if (argv.empty()) {
    result.start_error = "empty command";
    return result;
  }
  const auto exe = find_program(argv[0]);
  if (exe.empty()) {
    result.start_error = argv[0].find('/') != std::string::npos ? fmt::format("{}: no such file", argv[0])
                                                               : fmt::format("{}: not found in PATH", argv[0]);
    return result;
  }
  const bfs::path program = exe;
  const std::vector<std::string> args(argv.begin() + 1, argv.end());
  const ChildEnvironment environment(options.env);

  boost::asio::io_context ios;
  std::future<std::string> out, err;
  bp::child child;
  try {
    child = bp::child(program, bp::args(args), bp::std_in.close(), bp::std_out > out, bp::std_err > err, ios,
                      DieWithParent{}, PrivateUmask{options.private_files}, environment);
  } catch (const std::exception& e) {
    result.start_error = fmt::format("{}: cannot start: {}", exe.string(), e.what());
    return result;
  }
  result.started = true;
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  while (!ios.stopped()) {
    ios.run_for(std::chrono::milliseconds(50));
    if (interrupted() || std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = !interrupted();
      std::error_code ec;
      child.terminate(ec);
      ios.run();
      break;
    }
  }
  std::error_code ec;
  child.wait(ec);
  result.exit_code = child.exit_code();
  if (out.valid()) result.out = out.get();
  if (err.valid()) result.err = err.get();
  check_interrupted();
  return result;
}

namespace {

// log_file opened for appending, created 0600, never through a symlink
FILE* open_log(const bfs::path& log_file) {
  const int fd = ::open(log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) throw Error(fmt::format("open {}: {}", log_file.string(), std::strerror(errno)));
  FILE* f = ::fdopen(fd, "a");
  if (f == nullptr) {
    const int err = errno;
    ::close(fd);
    throw Error(fmt::format("open {}: {}", log_file.string(), std::strerror(err)));
  }
  return f;
}

}  // namespace

struct BackgroundProcess::Impl {
  bp::child child;
};

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv, const bfs::path& log_file,
                                     const bfs::path& working_dir)
    : impl_(std::make_unique<Impl>()) {
  if (argv.empty()) throw Error("empty command");
  const auto exe = find_program(argv[0]);
  if (exe.empty()) throw Error(fmt::format("{}: not found in PATH", argv[0]));
  const std::vector<std::string> args(argv.begin() + 1, argv.end());
  // opened here, 0600 and close-on-exec: given a path, Boost.Process would create it 0660 minus the umask
  const std::unique_ptr<FILE, int (*)(FILE*)> log(open_log(log_file), &std::fclose);
  try {
    impl_->child = bp::child(exe, bp::args(args), bp::std_in.close(), (bp::std_out & bp::std_err) > log.get(),
                             StartIn{working_dir.string()}, DieWithParent{}, PrivateUmask{true});
  } catch (const std::exception& e) {
    throw Error(fmt::format("{}: cannot start: {}", exe.string(), e.what()));
  }
}

BackgroundProcess::~BackgroundProcess() { stop(); }

bool BackgroundProcess::running() {
  std::error_code ec;
  return impl_->child.valid() && impl_->child.running(ec);
}

int BackgroundProcess::exit_code() {
  if (!impl_->child.valid() || running()) return -1;
  std::error_code ec;
  impl_->child.wait(ec);
  const int native = impl_->child.native_exit_code();
  if (WIFSIGNALED(native)) return 128 + WTERMSIG(native);
  return impl_->child.exit_code();
}

int BackgroundProcess::pid() const { return impl_->child.valid() ? impl_->child.id() : -1; }

void BackgroundProcess::stop(std::chrono::milliseconds grace) {
  if (!running()) return;
  ::kill(impl_->child.id(), SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (running() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::error_code ec;
  if (running()) impl_->child.terminate(ec);
  impl_->child.wait(ec);
}

ProcessOptions etcd_tool_options(std::chrono::milliseconds timeout) {
  ProcessOptions opts;
  opts.timeout = timeout;
  opts.env["ETCDCTL_API"] = "3";
  opts.private_files = true;
  return opts;
}

}  // namespace kdr::core
