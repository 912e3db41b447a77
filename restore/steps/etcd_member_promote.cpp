// Step type `etcd-member-promote` (playbook replace-etcd-member): waits until this node's etcd,
// added as a learner, has caught up with the leader, promotes it to a voting member (etcd
// refuses until then), and checks that every member of the cluster is started, voting and
// serving. Changes nothing a rollback could undo: removing the member (etcd-member-add's undo)
// takes the promotion with it.
#include <algorithm>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/wait.hpp"
#include "restore/preflight.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"
#include "restore/steps/etcd_member.hpp"

namespace kdr::restore {

namespace {

struct PromoteArgs : MemberArgs {
  int timeout_s = 300;
};

class EtcdMemberPromote final : public TypedStep<PromoteArgs> {
 public:
  StepType type() const override { return StepType::etcd_member_promote; }
  std::string_view name() const override { return "etcd-member-promote"; }
  bool changes_node() const override { return true; }
  std::vector<StepKey> keys() const override {
    auto k = member_keys();
    k.push_back({"timeout", false});
    return k;
  }

 protected:
  PromoteArgs read_args(const StepValues& v) const override {
    PromoteArgs a;
    read_member_keys(v, a);
    a.timeout_s = v.seconds("timeout", 300);
    return a;
  }

  std::vector<std::string> plan_text(const Runner&, const PromoteArgs& a) const override {
    return {fmt::format("wait until this node's etcd has caught up with the leader and promote it to a voting member "
                        "(etcd refuses before), then until every member is started, voting and serving reads; at "
                        "most {} s",
                        a.timeout_s)};
  }

  void preflight(Runner& r, const PromoteArgs& a, Preflight& pf) const override { check_cluster(r, a, pf); }

  void perform(Runner& r, const PromoteArgs& a) const override {
    const auto c = cluster_access(r, a);
    const auto client = c.healthy(r.ctx);
    const auto mine = [&](const etcd::EtcdClusterMember& m) {
      return std::find(m.peer_urls.begin(), m.peer_urls.end(), c.peer_url) != m.peer_urls.end();
    };
    auto note = [&](double s, const std::string& still) { r.ctx.out.info("      {:.0f} s: {}", s, still); };
    const auto promoted = core::wait_until(
        {.timeout_s = static_cast<double>(a.timeout_s), .every = std::chrono::milliseconds(500)},
        [&]() -> std::optional<std::string> {
          try {
            const auto members = client->members();
            const auto me = std::find_if(members.begin(), members.end(), mine);
            if (me == members.end()) throw core::Error(fmt::format("{} is not a member of the cluster", c.peer_url));
            if (!me->learner) return std::nullopt;
            client->promote_member(me->id);
            r.ctx.out.info("      promoted {} ({}) to a voting member", c.name, me->hex_id());
            return std::nullopt;
          } catch (const etcd::EtcdApiError& e) {
            return fmt::format("not promoted yet: {}", e.what());
          }
        },
        note);
    if (!promoted.done)
      throw core::Error(fmt::format("this node's etcd was not promoted within {} s ({}); it stays a learner: check its "
                                    "log, then resume (kdr restore --resume)",
                                    a.timeout_s, promoted.still));
    std::string summary;
    const auto healthy = core::wait_until(
        {.timeout_s = static_cast<double>(a.timeout_s), .every = std::chrono::milliseconds(200)},
        [&]() -> std::optional<std::string> {
          try {
            const auto members = client->members();
            std::vector<std::string> names;
            for (const auto& m : members) {
              if (m.name.empty()) return fmt::format("member {} has not started", m.hex_id());
              if (m.learner) return fmt::format("member {} is a learner", m.name);
              if (m.client_urls.empty()) return fmt::format("member {} has no client URL", m.name);
              auto endpoint = c.tls;
              endpoint.url = m.client_urls.front();
              r.ctx.etcd->connect(endpoint, std::chrono::seconds(3))->count("/kdr/quorum-probe");
              names.push_back(m.name);
            }
            summary = fmt::format("{} voting members, each serving reads: {}", names.size(), fmt::join(names, ", "));
            return std::nullopt;
          } catch (const core::Error& e) {
            return std::string(e.what());
          }
        },
        note);
    if (!healthy.done)
      throw core::Error(fmt::format("the cluster is not whole within {} s: {}", a.timeout_s, healthy.still));
    r.ctx.out.info("      the cluster has {}", summary);
  }
};

}  // namespace

const StepDef& etcd_member_promote_step_def() {
  static const EtcdMemberPromote def;
  return def;
}

}  // namespace kdr::restore
