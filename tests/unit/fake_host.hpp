// Fakes for core::Host and core::Programs (core/host.hpp) and the clock (core/clock.hpp,
// installed while a FakeHost lives): a fixed clock, hostname and
// addresses, scripted answers to confirmations, and programs that record their argv and
// answer as the real ones document. The unit tests run whole restores with them, in
// milliseconds, on a sandbox node in a temporary folder.
//
// The programs here (etcdctl, etcdutl, kubeadm) are stand-ins: kubeadm cannot run on these
// machines, and the real etcd tools are exercised by the scenarios (tests/scenarios).
#pragma once

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/host.hpp"

namespace kdr::test {

class FakeHost : public core::Host {
 public:
  // Every unit reads `clock` while this host lives (core::set_clock).
  FakeHost() : own_(std::make_shared<FakeClock>(this)), previous_(core::set_clock(own_)) {}
  ~FakeHost() override {
    if (core::current_clock() == own_) core::set_clock(previous_);
  }
  FakeHost(const FakeHost&) = delete;
  FakeHost& operator=(const FakeHost&) = delete;

  unsigned uid = 0;
  std::int64_t clock = 1'795'000'000;  // 2026-11-18
  std::string name = "cp1";
  std::vector<std::string> ips = {"10.0.0.10"};
  std::uint64_t free = std::uint64_t{1} << 40;
  // Answers to the confirmations, in order; once they run out, the answer is `then`.
  mutable std::deque<core::Answer> answers;
  core::Answer then = core::Answer::yes;
  mutable std::vector<std::string> asked;
  std::set<int> running_pids;  // the processes that run (process_alive)

  unsigned euid() const override { return uid; }
  std::string hostname() const override { return name; }
  std::vector<std::string> addresses() const override { return ips; }
  bool local_address(const std::string& a) const override {
    return std::find(ips.begin(), ips.end(), a) != ips.end() || a.rfind("127.", 0) == 0;
  }
  std::uint64_t free_bytes(const core::bfs::path&) const override { return free; }
  bool process_alive(int pid) const override { return running_pids.count(pid) > 0; }
  core::Answer ask(const std::string& question) const override {
    asked.push_back(question);
    if (answers.empty()) return then;
    const auto a = answers.front();
    answers.pop_front();
    return a;
  }

 private:
  // Wall time is the host's `clock` (seconds); durations are real.
  struct FakeClock final : core::Clock {
    explicit FakeClock(const FakeHost* h) : host(h) {}
    const FakeHost* host;
    std::int64_t now_ms() const override { return host->clock * 1000; }
    double monotonic() const override {
      return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    }
  };
  std::shared_ptr<const core::Clock> own_;
  std::shared_ptr<const core::Clock> previous_;
};

// A program's answer to one call: exit code, stdout, stderr.
inline core::ProcessResult answer(int code, std::string out = "", std::string err = "") {
  core::ProcessResult r;
  r.started = true;
  r.exit_code = code;
  r.out = std::move(out);
  r.err = std::move(err);
  return r;
}

class FakePrograms : public core::Programs {
 public:
  using Handler = std::function<core::ProcessResult(const std::vector<std::string>& argv,
                                                    const core::ProcessOptions& options)>;
  // By program name (argv[0] without its folder).
  std::map<std::string, Handler> programs;
  mutable std::vector<std::vector<std::string>> calls;

  // Programs started detached (spawn_detached), and what plays one once started (the unit
  // test's stand-in for it; none: the program never does anything).
  mutable std::vector<std::vector<std::string>> spawned;
  std::function<void(const std::vector<std::string>& argv, const core::bfs::path& log_file)> on_spawn;
  void spawn_detached(const std::vector<std::string>& argv, const core::bfs::path& log_file) const override {
    spawned.push_back(argv);
    if (on_spawn) on_spawn(argv, log_file);
  }

  // Steps may run programs from a background thread (StepDef::prepare): calls are recorded
  // under a lock.
  core::ProcessResult run(const std::vector<std::string>& argv, const core::ProcessOptions& options) const override {
    {
      std::lock_guard lock(mutex_);
      calls.push_back(argv);
    }
    auto it = programs.find(base(argv.front()));
    if (it == programs.end()) {
      core::ProcessResult r;
      r.start_error = argv.front() + ": not found in PATH";
      return r;
    }
    return it->second(argv, options);
  }
  // Programs started beside kdr (core::Programs::start), by name.
  using Starter = std::function<std::unique_ptr<core::RunningProgram>(const std::vector<std::string>& argv,
                                                                      const core::bfs::path& working_dir)>;
  std::map<std::string, Starter> servers;
  std::unique_ptr<core::RunningProgram> start(const std::vector<std::string>& argv, const core::bfs::path&,
                                              const core::bfs::path& working_dir) const override {
    {
      std::lock_guard lock(mutex_);
      calls.push_back(argv);
    }
    auto it = servers.find(base(argv.front()));
    if (it == servers.end()) throw core::Error(argv.front() + ": not found in PATH");
    return it->second(argv, working_dir);
  }
  core::bfs::path find(const std::string& name) const override {
    if (servers.count(base(name))) return core::bfs::path("/usr/bin") / base(name);
    return programs.count(base(name)) ? core::bfs::path("/usr/bin") / base(name) : core::bfs::path();
  }
  // The calls of one program, as "etcdutl snapshot restore ...".
  std::vector<std::string> calls_of(const std::string& program) const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& c : calls)
      if (base(c.front()) == program) out.push_back(core::describe_argv(c));
    return out;
  }

 private:
  static std::string base(const std::string& p) { return core::bfs::path(p).filename().string(); }
  mutable std::mutex mutex_;
};

// A started program: runs until stopped; `on_stop` says what stopping it undoes.
class FakeRunning final : public core::RunningProgram {
 public:
  explicit FakeRunning(std::function<void()> on_stop) : on_stop_(std::move(on_stop)) {}
  ~FakeRunning() override { stop(); }
  bool running() override { return running_; }
  int pid() const override { return 4242; }
  int exit_code() override { return running_ ? -1 : 143; }
  void stop(std::chrono::milliseconds = {}) override {
    if (!running_) return;
    running_ = false;
    on_stop_();
  }

 private:
  std::function<void()> on_stop_;
  bool running_ = true;
};

// The value after `flag` in argv ("" when absent).
inline std::string flag_value(const std::vector<std::string>& argv, const std::string& flag) {
  auto it = std::find(argv.begin(), argv.end(), flag);
  return it != argv.end() && it + 1 != argv.end() ? *(it + 1) : std::string();
}

inline bool has_args(const std::vector<std::string>& argv, std::initializer_list<std::string> words) {
  for (const auto& w : words)
    if (std::find(argv.begin(), argv.end(), w) == argv.end()) return false;
  return true;
}

}  // namespace kdr::test
