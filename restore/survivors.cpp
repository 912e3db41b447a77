#include "restore/survivors.hpp"

#include <algorithm>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"
#include "core/ssh.hpp"
#include "etcd/layout.hpp"
#include "etcd/tool.hpp"
#include "restore/etcd_cluster.hpp"
#include "restore/other_nodes.hpp"
#include "restore/runner.hpp"

namespace kdr::restore {

using nlohmann::json;

std::string_view to_string(MemberState::Source s) {
  switch (s) {
    case MemberState::Source::asked: return "asked";
    case MemberState::Source::offline: return "offline";
    case MemberState::Source::none: return "none";
  }
  return "none";
}

json MemberState::to_json() const {
  return {{"name", name},           {"where", where},         {"source", std::string(to_string(source))},
          {"cluster_id", cluster_id}, {"member_id", member_id}, {"revision", revision},
          {"raft_term", raft_term},   {"raft_index", raft_index}, {"problem", problem}};
}

MemberState MemberState::from_json(const json& j, const std::string& where) {
  try {
    MemberState m;
    m.name = j.at("name").get<std::string>();
    m.where = where;
    const auto source = j.at("source").get<std::string>();
    m.source = source == "asked" ? Source::asked : source == "offline" ? Source::offline : Source::none;
    m.cluster_id = j.at("cluster_id").get<std::string>();
    m.member_id = j.value("member_id", "");
    m.revision = j.at("revision").get<std::int64_t>();
    m.raft_term = j.at("raft_term").get<std::uint64_t>();
    m.raft_index = j.at("raft_index").get<std::uint64_t>();
    m.problem = j.value("problem", "");
    return m;
  } catch (const json::exception& e) {
    throw core::Error(fmt::format("{}: not an etcd member's state ({})", where, e.what()));
  }
}

MemberState from_member_data(const etcd::MemberData& d) {
  MemberState m;
  m.source = MemberState::Source::offline;
  m.cluster_id = d.cluster_id;
  m.member_id = d.member_id;
  m.revision = d.revision;
  m.raft_term = std::max(d.term, d.applied_term);
  m.raft_index = std::max(d.commit, d.consistent_index);
  for (const auto& p : d.problems) m.problem += (m.problem.empty() ? "" : "; ") + p;
  if (m.cluster_id.empty() && m.problem.empty()) m.problem = "its WAL names no cluster";
  return m;
}

namespace {

// A member that answered, as it answered.
void take_status(MemberState& m, const etcd::EtcdStatus& s) {
  m.source = MemberState::Source::asked;
  m.cluster_id = s.cluster_id;
  m.member_id = s.member_id;
  m.revision = s.revision;
  m.raft_term = s.raft_term;
  m.raft_index = s.raft_index;
}

}  // namespace

MemberState local_member_state(const core::Context& ctx, const std::string& data_dir,
                               std::chrono::milliseconds timeout) {
  const auto layout =
      etcd::detect_etcd_layout(ctx.config, ctx.root, core::scan_static_pods(ctx.root, ctx.config.static_pod_path));
  MemberState m;
  m.where = "this node";
  m.this_node = true;
  if (layout.member) m.name = layout.member->name;
  std::string asked;
  try {
    const auto client = ctx.etcd->connect(etcd::node_etcd_endpoint(ctx), timeout);
    take_status(m, client->status());
    return m;
  } catch (const core::Error& e) {
    asked = e.what();
  }
  const auto node_dir = data_dir.empty() ? layout.data_dir : data_dir;
  if (node_dir.empty()) {
    m.problem = fmt::format("etcd does not answer ({}) and its data dir is not on this node", asked);
    return m;
  }
  const auto dir = ctx.root.host(node_dir);
  if (!core::lstat_path(dir / "member")) {
    m.problem = fmt::format("etcd does not answer and its data dir {} holds no member/", node_dir);
    return m;
  }
  auto offline = from_member_data(etcd::read_member_data(dir));
  offline.name = m.name;
  offline.where = m.where;
  offline.this_node = true;
  return offline;
}

namespace {

// The order raft would elect in: committed index, then term, then revision.
auto rank_key(const MemberState& m) { return std::make_tuple(m.raft_index, m.raft_term, m.revision); }

std::string state_text(const MemberState& m) {
  switch (m.source) {
    case MemberState::Source::asked: return "answers";
    case MemberState::Source::offline: return "stopped, read offline";
    case MemberState::Source::none: return "not read";
  }
  return "";
}

}  // namespace

SurvivorChoice rank_survivors(std::vector<MemberState> members, const std::string& cluster_id,
                              const std::string& cluster_origin) {
  SurvivorChoice c;
  c.members = std::move(members);
  c.cluster_id = cluster_id;
  c.cluster_origin = cluster_origin;
  for (std::size_t i = 0; i < c.members.size(); ++i) {
    const auto& m = c.members[i];
    if (!m.has_data() || (!cluster_id.empty() && m.cluster_id != cluster_id)) continue;
    if (c.best < 0 || rank_key(m) > rank_key(c.members[static_cast<std::size_t>(c.best)]))
      c.best = static_cast<int>(i);
  }
  const auto self = std::find_if(c.members.begin(), c.members.end(), [](const MemberState& m) { return m.this_node; });
  if (self != c.members.end() && self->has_data() && !cluster_id.empty() && self->cluster_id != cluster_id) {
    c.refusals.push_back(fmt::format("this node's etcd data is cluster {}, not cluster {} ({}): it is not a survivor of "
                                     "this cluster (another cluster's data dir, or one restored since)",
                                     self->cluster_id, cluster_id, cluster_origin));
    return c;
  }
  if (c.best < 0) {
    std::string unread;
    for (const auto& m : c.members)
      if (!m.this_node && m.source == MemberState::Source::none) unread += (unread.empty() ? "" : ", ") + m.name;
    c.refusals.push_back(fmt::format(
        "no survivor: no member holds data of cluster {} ({}) that could be read{}; {}",
        cluster_id.empty() ? "?" : cluster_id, cluster_origin,
        self != c.members.end() && !self->problem.empty() ? fmt::format(" (this node: {})", self->problem) : "",
        unread.empty() ? std::string("restore from a backup instead (--set from=backup)")
                       : fmt::format("not read: {}. If one of them kept its data dir, run this restore there (`kdr etcd "
                                     "state` there shows what it holds; nodes: in the config lets kdr read it over SSH); "
                                     "else restore from a backup (--set from=backup)",
                                     unread)));
    return c;
  }
  if (self == c.members.end() || !self->has_data()) {
    c.refusals.push_back(fmt::format("this node's etcd holds no data to restore from ({}); the survivor is {} ({}): "
                                     "run the restore there",
                                     self == c.members.end() ? "not read" : self->problem, c.chosen()->name,
                                     c.chosen()->where));
    return c;
  }
  const auto& best = *c.chosen();
  if (!best.this_node && rank_key(best) > rank_key(*self))
    c.refusals.push_back(fmt::format(
        "{} ({}) is more advanced than this node's member: committed raft index {} (term {}, revision {}) against "
        "{} (term {}, revision {}); run `kdr restore restore-etcd-cluster --set from=survivor` on {}, where nothing "
        "of it is lost",
        best.name, best.where, best.raft_index, best.raft_term, best.revision, self->raft_index, self->raft_term,
        self->revision, best.name));
  return c;
}

std::vector<std::string> SurvivorChoice::table() const {
  std::vector<std::string> out;
  out.push_back(fmt::format("{:<3}{:<14} {:<28} {:<22} {:<17} {:>10} {:>6} {:>12}", "", "member", "where", "state",
                            "cluster", "revision", "term", "committed"));
  for (std::size_t i = 0; i < members.size(); ++i) {
    const auto& m = members[i];
    const auto mark = static_cast<int>(i) == best ? "=> " : "   ";
    if (m.source == MemberState::Source::none) {
      out.push_back(fmt::format("{}{:<14} {:<28} {}: {}", mark, m.name, m.where, state_text(m), m.problem));
      continue;
    }
    out.push_back(fmt::format("{}{:<14} {:<28} {:<22} {:<17} {:>10} {:>6} {:>12}{}{}", mark, m.name, m.where,
                              state_text(m), m.cluster_id, m.revision, m.raft_term, m.raft_index,
                              !cluster_id.empty() && m.cluster_id != cluster_id ? "  (another cluster)" : "",
                              m.problem.empty() ? "" : "  (" + m.problem + ")"));
  }
  return out;
}

SurvivorChoice look_for_survivors(const Runner& r, const std::string& cluster_id, const std::string& cluster_origin) {
  std::vector<MemberState> members;
  auto self = local_member_state(r.ctx, r.plan.etcd.data_dir);
  if (self.name.empty()) self.name = r.plan.etcd.name;
  members.push_back(std::move(self));
  const auto tls = etcd::node_etcd_endpoint(r.ctx);
  const auto peers = other_members(r);
  for (const auto& rec : r.gen.meta.etcd.members) {
    if (rec.name == r.plan.etcd.name) continue;
    MemberState m;
    m.name = rec.name;
    m.where = rec.client_urls.empty() ? rec.first_peer_url() : rec.client_urls.front();
    std::string asked = "no client URL recorded";
    if (!rec.client_urls.empty()) {
      auto endpoint = tls;
      endpoint.url = rec.client_urls.front();
      try {
        take_status(m, r.ctx.etcd->connect(endpoint, std::chrono::seconds(3))->status());
        members.push_back(std::move(m));
        continue;
      } catch (const core::Error& e) {
        asked = e.what();
      }
    }
    const auto peer = std::find_if(peers.begin(), peers.end(), [&](const PeerNode& p) { return p.name == rec.name; });
    if (peer == peers.end() || peer->node == nullptr) {
      m.problem = fmt::format("does not answer ({}); not in nodes:, so its data dir was not read: if it kept one, run "
                              "`kdr etcd state` there",
                              asked);
      members.push_back(std::move(m));
      continue;
    }
    const auto where = fmt::format("over ssh {}", peer->node->ssh);
    try {
      const auto argv = core::remote_kdr(*peer->node, {"--json", "etcd", "state"});
      const auto result = core::run_on_node(r.ctx, *peer->node, argv, std::chrono::seconds(60));
      if (result.exit_code != 0)
        throw core::Error(fmt::format("'{}' exited with {}: {}", fmt::join(argv, " "), result.exit_code, result.err));
      auto read = MemberState::from_json(json::parse(result.out), where);
      read.name = rec.name;
      members.push_back(std::move(read));
    } catch (const std::exception& e) {
      m.where = where;
      m.problem = fmt::format("does not answer ({}), and `kdr etcd state` there failed: {}", asked, e.what());
      members.push_back(std::move(m));
    }
  }
  return rank_survivors(std::move(members), cluster_id, cluster_origin);
}

namespace {

// 3.5.21 -> {3, 5, 21}; missing parts are 0.
std::tuple<int, int, int> version_parts(std::string v) {
  if (!v.empty() && v[0] == 'v') v.erase(0, 1);
  int parts[3] = {0, 0, 0};
  std::size_t at = 0;
  for (int i = 0; i < 3 && at < v.size(); ++i) {
    std::size_t used = 0;
    try {
      parts[i] = std::stoi(v.substr(at), &used);
    } catch (const std::exception&) {
      break;
    }
    at += used + 1;
  }
  return {parts[0], parts[1], parts[2]};
}

}  // namespace

std::vector<std::string> force_new_cluster_notes(const std::string& version) {
  const auto v = version_parts(version);
  const bool known = std::get<0>(v) > 0;
  // (3.6 and later are not judged here: their fixes came in their own patch releases)
  const bool leaves_members = !known || v < std::make_tuple(3, 5, 22);
  const bool leaves_learners = !known || v < std::make_tuple(3, 5, 25);
  std::vector<std::string> out;
  const auto which = known ? "etcd " + version : std::string("this etcd (its version unknown)");
  if (leaves_members)
    out.push_back(fmt::format("{}: --force-new-cluster can leave other members in the member list (etcd#20009, "
                              "fixed in 3.5.22)",
                              which));
  if (leaves_learners)
    out.push_back(fmt::format("{}: --force-new-cluster can leave a learner behind after a v2 snapshot (etcd#20893, "
                              "fixed in 3.5.25)",
                              which));
  if (!out.empty())
    out.push_back("neither reaches the restored cluster: the survivor's data is opened with --force-new-cluster only "
                  "in a private etcd, and the cluster is made from its snapshot with one member by a snapshot "
                  "restore, which writes the membership anew");
  return out;
}

}  // namespace kdr::restore
