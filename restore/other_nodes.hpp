// The other members of the cluster a restore spans (restore-etcd-cluster), and how kdr
// reaches each one: over OpenSSH when the config's `nodes:` names it (core/ssh.hpp), else by
// the operator, who runs the command the plan prints. Each node's kdr journals its own steps.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/process.hpp"
#include "restore/preflight.hpp"
#include "restore/runner.hpp"

namespace kdr::restore {

struct PeerNode {
  std::string name;      // its etcd member name, as the generation recorded it
  std::string peer_url;
  const core::NodeConfig* node = nullptr;  // its `nodes:` entry; nullptr: by hand
  std::string where() const;               // "cp2 (https://10.0.0.12:2380)"
};

// The members the generation recorded besides this node, in the order it recorded them.
std::vector<PeerNode> other_members(const Runner& r);

// The member `name` as a rollback finds it (the journaled action names it; the generation is
// not read again): its `nodes:` entry, or an Error naming the command to run there by hand.
PeerNode member_for_undo(const Runner& r, const std::string& name, const std::vector<std::string>& args);

// The command the operator types on another node ("kdr pods stop kube-apiserver").
std::string typed_kdr(const std::vector<std::string>& args);

// How the command runs there, for the plan: "over ssh root@10.0.0.12 port 22: kdr ..." or
// "by hand: kdr ...".
std::string how_it_runs(const PeerNode& m, const std::vector<std::string>& args);

// Checks, once per preflight, that every `nodes:` entry names a member of the generation and
// answers over SSH with a working kdr (`kdr --version`). A changed or unknown host key, a
// refused key, an unreachable node and a missing kdr each fail with their own message.
void check_other_nodes(Runner& r, Preflight& pf);

// Runs `args` with m's kdr over SSH. Its output goes to the step's log and, each line prefixed
// with the member's name, to the operator. Throws Error when ssh fails (SshError) or the
// command exits with another code than 0 (its last lines in the message).
core::ProcessResult run_on_member(Runner& r, const PeerNode& m, const std::vector<std::string>& args,
                                  std::chrono::milliseconds timeout);

// The restores journaled on m's node (`kdr --json restores` there).
nlohmann::json member_restores(Runner& r, const PeerNode& m);

}  // namespace kdr::restore
