// kdr etcd state [--json]: this node's etcd member as a quorum restore ranks it (its cluster,
// revision, raft term and committed index), asked when it answers, else read offline from its
// data dir without starting it. restore-etcd-cluster --set from=survivor runs it over SSH on
// the other nodes.
#include <fmt/format.h>

#include "cli/command.hpp"
#include "restore/survivors.hpp"

namespace kdr::cli {

namespace {

core::ExitCode show_state(const core::Context& ctx) {
  const auto m = restore::local_member_state(ctx);
  if (ctx.out.json()) {
    ctx.out.raw(m.to_json().dump(2));
    return core::ExitCode::ok;
  }
  if (m.source == restore::MemberState::Source::none) {
    ctx.out.info("etcd member {}: {}", m.name.empty() ? "?" : m.name, m.problem);
    return core::ExitCode::ok;
  }
  ctx.out.info("etcd member {} ({}): cluster {}, member {}", m.name.empty() ? "?" : m.name,
               m.source == restore::MemberState::Source::asked ? "answers" : "stopped, its data dir read offline",
               m.cluster_id, m.member_id);
  ctx.out.info("  revision {}{}, raft term {}, committed index {}", m.revision,
               m.source == restore::MemberState::Source::offline ? " (its store; what the WAL holds beyond comes on start)"
                                                                 : "",
               m.raft_term, m.raft_index);
  if (!m.problem.empty()) ctx.out.warn("  {}", m.problem);
  return core::ExitCode::ok;
}

}  // namespace

Command etcd_command() {
  Command c;
  c.name = "etcd";
  c.help = "this node's etcd member as a quorum restore sees it (etcd state)";
  c.add_options = [](CLI::App& sub) {
    sub.add_subcommand("state", "its cluster, revision, raft term and committed index: asked, or read offline from "
                                "its data dir when it is stopped")
        ->require_subcommand(0);
    sub.require_subcommand(1);
  };
  c.run = [](const core::Context& ctx) { return show_state(ctx); };
  return c;
}

}  // namespace kdr::cli
