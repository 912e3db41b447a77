// restic as kdr runs it (config `offsite:`): the argv from the config, never a shell. The
// repository and the password reach restic through its environment only (RESTIC_REPOSITORY,
// RESTIC_PASSWORD_FILE: a path, never the password), and so do the backend's keys, read from
// the env_files (KEY=VALUE lines) into restic's environment alone: none of them is in an argv,
// in kdr's own environment or in what kdr prints. The password file and the env files must not
// be readable by group or others (0600), else the run is refused.
//
// restic's failures are told apart (ResticProblem), each with its exit code and its message.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "core/context.hpp"
#include "core/error.hpp"
#include "core/process.hpp"

namespace kdr::offsite {

enum class ResticProblem {
  none,
  unreachable,    // the store did not answer (network or server down)
  denied,         // wrong password, no key, credentials refused
  no_repository,  // nothing at that location (kdr offsite init)
  locked,         // another client holds a lock
  full,           // the store has no space left
  missing,        // no restic program
  other,          // restic failed otherwise (killed, a damaged repository): its message says
};
std::string_view to_string(ResticProblem problem);
core::ExitCode exit_code_of(ResticProblem problem);
// From restic's exit code and messages.
ResticProblem classify_restic(const core::ProcessResult& result);

class OffsiteError : public core::Error {
 public:
  OffsiteError(std::string message, ResticProblem problem)
      : core::Error(std::move(message), exit_code_of(problem)), problem_(problem) {}
  ResticProblem problem() const { return problem_; }

 private:
  ResticProblem problem_;
};

// KEY=VALUE lines (`#` comments, blank lines and a leading `export ` allowed); a bad line is a
// UsageError naming origin:line.
std::map<std::string, std::string> parse_env_file(std::string_view text, const std::string& origin);

class Restic {
 public:
  // Checks the configuration: a repository, the password file there and 0600, the env files
  // readable and 0600. Throws UsageError naming the file and what is wrong.
  explicit Restic(const core::Context& ctx);

  // Runs restic ARGS. Throws OffsiteError when restic fails (its problem told apart);
  // `allowed` lists other exit codes that are results, not failures, unless restic's message says
  // it could not get to work (a lock, the store down, a refused password). A run stopped by a lock
  // runs once more after this host's stale locks are removed (offsite/locks.hpp); when other
  // locks stop it, the error names each.
  core::ProcessResult run(const std::vector<std::string>& args, std::chrono::milliseconds timeout,
                          const std::vector<int>& allowed = {}) const;

  // The argv and environment of a run (for tests and --verbose; the environment's values that
  // are secrets are never printed by kdr).
  std::vector<std::string> argv(const std::vector<std::string>& args) const;
  const std::map<std::string, std::string>& environment() const { return env_; }
  // The repository as kdr prints and records it: user info masked (rest:https://u:***@host/).
  const std::string& repository() const { return shown_; }

 private:
  core::ProcessResult run_once(const std::vector<std::string>& args, std::chrono::milliseconds timeout,
                               const std::vector<int>& allowed) const;

  const core::Context& ctx_;
  std::string repository_;  // as configured: only ever in restic's environment
  std::string shown_;
  std::map<std::string, std::string> env_;
};

// A repository location with the password of its user info masked ("rest:https://user:***@host/"),
// for messages, metrics and state: a REST server's credentials may be written in the URL.
std::string mask_credentials(std::string_view repository);

}  // namespace kdr::offsite
