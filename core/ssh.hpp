// Running kdr on another control-plane node (config `nodes:`) over OpenSSH: an argv, never a
// shell string. Each word is quoted for the remote login shell, so that it arrives there as
// exactly one argument. ssh runs in BatchMode (no password or passphrase prompt) and only
// talks to a host whose key it already knows (StrictHostKeyChecking=yes): a changed or
// unknown host key, a refused key and an unreachable node are told apart, each with what to
// do about it.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/context.hpp"
#include "core/error.hpp"
#include "core/process.hpp"

namespace kdr::core {

// Why ssh could not run the command on the node (none: it ran, whatever its exit code).
enum class SshProblem {
  none,
  host_key_changed,   // the node's host key is not the one known_hosts holds
  host_key_unknown,   // known_hosts holds no key for it
  key_refused,        // the node did not accept kdr's key
  unreachable,        // no connection (refused, timed out, no route, unknown name)
  program_missing,    // the node has no such program (kdr's argv there is wrong)
  other,              // ssh failed for another reason (its message says why)
};
std::string_view to_string(SshProblem problem);

// `word` quoted for a POSIX shell: one argument, whatever it holds.
std::string shell_quote(const std::string& word);

// The ssh argv that runs `remote_argv` on `node`. Paths in `node` are node paths under `root`.
std::vector<std::string> ssh_argv(const NodeConfig& node, const NodeRoot& root,
                                  const std::vector<std::string>& remote_argv);

// `node`'s kdr argv, then `args`.
std::vector<std::string> remote_kdr(const NodeConfig& node, const std::vector<std::string>& args);

// What went wrong, from ssh's exit code (255: ssh's own failure) and its messages.
SshProblem classify_ssh(const ProcessResult& result);

// "node cp2 (root@10.0.0.12 port 22): <what went wrong and what to do>".
std::string explain(SshProblem problem, const NodeConfig& node, const ProcessResult& result);

class SshError : public Error {
 public:
  SshError(std::string message, SshProblem problem) : Error(std::move(message)), problem_(problem) {}
  SshProblem problem() const { return problem_; }

 private:
  SshProblem problem_;
};

// Runs `remote_argv` on `node` through ctx.programs. Returns the remote command's result
// (its exit code may be anything); throws SshError when ssh could not run it.
ProcessResult run_on_node(const Context& ctx, const NodeConfig& node, const std::vector<std::string>& remote_argv,
                          std::chrono::milliseconds timeout);

// The node entry named `name`, or nullptr.
const NodeConfig* find_node(const Config& config, const std::string& name);

}  // namespace kdr::core
