// Running other programs (etcdctl, etcdutl, kubectl, later crictl and kubeadm): always an
// argv list, never a shell string; stdout and stderr drained concurrently; a deadline
// after which the child is killed; Ctrl-C stops the child too.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/fs.hpp"

namespace kdr::core {

struct ProcessResult {
  bool started = false;     // false: the program could not be started (see start_error)
  std::string start_error;  // e.g. "etcdctl: not found in PATH"
  int exit_code = -1;       // valid when started and not killed
  bool timed_out = false;   // killed at the deadline
  std::string out;          // stdout
  std::string err;          // stderr
  bool ok() const { return started && !timed_out && exit_code == 0; }
};

struct ProcessOptions {
  std::chrono::milliseconds timeout{std::chrono::minutes(1)};
  std::map<std::string, std::string> env;  // added to the inherited environment
  // the child runs under umask 077, so what it creates is private whatever kdr's caller's
  // umask (etcd's tools create some files 0666: a restored member's snap/ files)
  bool private_files = false;
};

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// For etcdctl and etcdutl: ETCDCTL_API=3 (etcdctl 3.4 speaks the v2 API without it), umask
// 077 (a restored data dir, a snapshot), killed after `timeout`. The one place kdr sets it.
ProcessOptions etcd_tool_options(std::chrono::milliseconds timeout);

// A program started to run beside kdr (core::Programs::start).
class RunningProgram {
 public:
  virtual ~RunningProgram() = default;
  virtual bool running() = 0;
  virtual int pid() const = 0;
  // Its exit status once it has ended (128 + signal when killed); -1 while it runs.
  virtual int exit_code() = 0;
  virtual void stop(std::chrono::milliseconds grace = std::chrono::seconds(5)) = 0;
};

// A program kdr starts and stops itself (a private etcd): stdin closed, stdout and stderr to
// `log_file` (0600), run in `working_dir` (empty: kdr's own) under umask 077, killed with kdr (PR_SET_PDEATHSIG), and stopped (SIGTERM,
// then SIGKILL after `grace`) on every path out.
class BackgroundProcess final : public RunningProgram {
 public:
  // Throws Error when the program cannot be started.
  BackgroundProcess(const std::vector<std::string>& argv, const bfs::path& log_file, const bfs::path& working_dir);
  ~BackgroundProcess() override;
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;
  bool running() override;
  int pid() const override;
  int exit_code() override;
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(5)) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Finds a program: a name with a '/' is taken as is; otherwise searched in PATH.
// Empty when it does not exist.
bfs::path find_program(const std::string& name);

// "etcdctl --endpoints https://127.0.0.1:2379 snapshot save /x" for messages and plans.
std::string describe_argv(const std::vector<std::string>& argv);

}  // namespace kdr::core
