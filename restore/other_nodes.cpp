#include "restore/other_nodes.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/ssh.hpp"

namespace kdr::restore {

std::string PeerNode::where() const { return peer_url.empty() ? name : fmt::format("{} ({})", name, peer_url); }

std::vector<PeerNode> other_members(const Runner& r) {
  std::vector<PeerNode> out;
  const auto& self = r.plan.etcd.name;
  for (const auto& m : r.gen.meta.etcd.members) {
    if (m.name == self) continue;
    out.push_back({m.name, m.first_peer_url(), core::find_node(r.ctx.config, m.name)});
  }
  return out;
}

PeerNode member_for_undo(const Runner& r, const std::string& name, const std::vector<std::string>& args) {
  PeerNode m{name, "", core::find_node(r.ctx.config, name)};
  if (!m.node)
    throw core::Error(fmt::format("node {} is no longer in the nodes: list of {}: undo it there by hand ({}), then run "
                                  "the rollback again",
                                  name, r.ctx.config.origin, typed_kdr(args)));
  return m;
}

std::string typed_kdr(const std::vector<std::string>& args) {
  std::string out = "kdr";
  for (const auto& a : args) {
    const bool plain = !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                         "0123456789-_=./:,@+") == std::string::npos;
    out += ' ';
    out += plain ? a : core::shell_quote(a);
  }
  return out;
}

std::string how_it_runs(const PeerNode& m, const std::vector<std::string>& args) {
  if (!m.node) return fmt::format("by hand: {}", typed_kdr(args));
  auto argv = core::remote_kdr(*m.node, args);
  std::string line;
  for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
  return fmt::format("over ssh {} port {}: {}", m.node->ssh, m.node->port, line);
}

void check_other_nodes(Runner& r, Preflight& pf) {
  if (pf.other_nodes_checked) return;
  pf.other_nodes_checked = true;
  const auto members = other_members(r);
  for (const auto& n : r.ctx.config.nodes) {
    const bool known = std::any_of(members.begin(), members.end(), [&](const PeerNode& m) { return m.node == &n; });
    if (!known) {
      std::string names;
      for (const auto& m : members) names += (names.empty() ? "" : ", ") + m.name;
      pf.fails.push_back(fmt::format("{}: nodes: '{}' is not another etcd member of generation {} (its other "
                                     "members: {}); the name must be the member's name",
                                     r.ctx.config.origin, n.name, r.gen.id, names.empty() ? "none" : names));
    }
  }
  for (const auto& m : members) {
    if (!m.node) {
      pf.warns.push_back(fmt::format("{} has no nodes: entry in {}: its steps are yours to run, with the commands "
                                     "shown",
                                     m.name, r.ctx.config.origin));
      continue;
    }
    try {
      const auto res = core::run_on_node(r.ctx, *m.node, core::remote_kdr(*m.node, {"--version"}),
                                         std::chrono::seconds(30));
      if (res.exit_code != 0)
        pf.fails.push_back(fmt::format("node {}: '{}' exited with {}: {}", m.name,
                                       fmt::join(core::remote_kdr(*m.node, {"--version"}), " "), res.exit_code,
                                       res.err.empty() ? res.out : res.err));
      else
        pf.ok(fmt::format("node {} answers over ssh ({} port {}): {}", m.name, m.node->ssh, m.node->port,
                          res.out.substr(0, res.out.find('\n'))));
    } catch (const core::SshError& e) {
      pf.fails.push_back(e.what());
    }
  }
}

namespace {

void show_lines(Runner& r, const std::string& who, const std::string& text) {
  std::size_t at = 0;
  while (at < text.size()) {
    auto nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    if (nl > at) r.ctx.out.info("      [{}] {}", who, text.substr(at, nl - at));
    at = nl + 1;
  }
}

std::string last_lines(const std::string& text, std::size_t n) {
  std::size_t at = text.size();
  while (at > 0 && n > 0) {
    at = text.rfind('\n', at - 1);
    if (at == std::string::npos) return text;
    if (at + 1 < text.size()) --n;
  }
  return text.substr(at == 0 ? 0 : at + 1);
}

}  // namespace

core::ProcessResult run_on_member(Runner& r, const PeerNode& m, const std::vector<std::string>& args,
                                  std::chrono::milliseconds timeout) {
  if (!m.node) throw core::Error(fmt::format("{} has no nodes: entry: run there: {}", m.name, typed_kdr(args)));
  const auto argv = core::remote_kdr(*m.node, args);
  r.ctx.out.info("      on {} over ssh: {}", m.name, fmt::join(argv, " "));
  const auto res = core::run_on_node(r.ctx, *m.node, argv, timeout);
  if (r.journal) {
    core::append_file(r.step_log(), fmt::format("== on {}: {} (exit {})\n", m.name, fmt::join(argv, " "), res.exit_code) +
                                        res.out + res.err);
  }
  show_lines(r, m.name, res.out);
  show_lines(r, m.name, res.err);
  if (res.exit_code != 0)
    throw core::Error(fmt::format("on {}: '{}' exited with {}: {}", m.name, fmt::join(argv, " "), res.exit_code,
                                  last_lines(res.err.empty() ? res.out : res.err, 3)));
  return res;
}

nlohmann::json member_restores(Runner& r, const PeerNode& m) {
  if (!m.node) return nlohmann::json::array();
  const auto argv = core::remote_kdr(*m.node, {"--json", "restores"});
  const auto res = core::run_on_node(r.ctx, *m.node, argv, std::chrono::seconds(60));
  if (res.exit_code != 0)
    throw core::Error(fmt::format("on {}: '{}' exited with {}: {}", m.name, fmt::join(argv, " "), res.exit_code,
                                  res.err));
  try {
    auto j = nlohmann::json::parse(res.out);
    if (j.is_array()) return j;
  } catch (const nlohmann::json::exception&) {
  }
  throw core::Error(fmt::format("on {}: '{}' did not print a JSON list of restores", m.name, fmt::join(argv, " ")));
}

}  // namespace kdr::restore
