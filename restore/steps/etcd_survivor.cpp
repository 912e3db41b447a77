// Step type `etcd-survivor` (restore-etcd-cluster with from=survivor): quorum back from the
// most advanced member that kept its data, topped up from the change journal.
//
// The plan ranks every member (restore/survivors.hpp) and shows what each choice loses side by
// side: the survivor alone, the survivor with the journal, the newest generation. Run after
// this node's etcd stopped, the step copies its data dir into a private scratch folder, starts
// etcd on the copy with --force-new-cluster (unix sockets only root reaches; the node's data dir
// is only read), and saves its keyspace as <restore dir>/survivor.db, whose digest must be the
// journal's at the survivor's revision (a member that diverged from what the journal followed is
// refused). The journal's changes after that revision are then replayed onto it exactly as
// etcd-replay does (etcd/replay.hpp), checked against the journal's digest at the end, and saved
// as <restore dir>/replayed.db for etcd-snapshot-restore (source: replayed), which makes the
// one-member cluster with its revision bumped past anything any member has seen. It changes
// nothing on the node.
#include <functional>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/process.hpp"
#include "core/sha256.hpp"
#include "core/zstd_file.hpp"
#include "core/clock.hpp"
#include "etcd/keyspace_digest.hpp"
#include "etcd/private_etcd.hpp"
#include "etcd/replay.hpp"
#include "etcd/snapshot_tool.hpp"
#include "etcd/tool.hpp"
#include "restore/preflight.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"
#include "restore/steps/etcd_replay.hpp"
#include "restore/survivors.hpp"

namespace kdr::restore {

using nlohmann::json;

namespace {

struct SurvivorArgs : StepArgs {
  etcd::ReplayTarget target;
};

// The cluster a survivor must belong to: the one the generation's etcd data is of.
std::pair<std::string, std::string> expected_cluster(const Runner& r) {
  const auto& e = r.gen.meta.etcd;
  if (e.snapshot && !e.snapshot->cluster_id.empty())
    return {e.snapshot->cluster_id, fmt::format("generation {}'s snapshot", r.gen.id)};
  if (e.journal && !e.journal->cluster_id.empty())
    return {e.journal->cluster_id, fmt::format("generation {}'s journal point", r.gen.id)};
  return {"", "no cluster recorded"};
}

std::int64_t generation_revision(const Runner& r) {
  const auto& e = r.gen.meta.etcd;
  return e.snapshot ? e.snapshot->revision : e.journal ? e.journal->revision : 0;
}

// The journal past the survivor's revision, or why it cannot be used (then the survivor alone).
struct JournalUse {
  std::optional<etcd::SurvivorReplay> replay;
  std::string why_not;
};

// `planned`: the walk the plan shown and its preflight share (Runner::planned_survivor_replays);
// the step's run walks again.
JournalUse journal_past(const Runner& r, const etcd::ReplayTarget& target, const std::string& cluster_id,
                        std::int64_t survivor_revision, bool planned) {
  JournalUse u;
  try {
    const auto id = fmt::format("{} {} {}", target.text, cluster_id, survivor_revision);
    if (const auto found = r.planned_survivor_replays.find(id); planned && found != r.planned_survivor_replays.end()) {
      u.replay = found->second;
      return u;
    }
    const auto key = r.node_key();
    u.replay = etcd::plan_survivor_replay(r.ctx, target, key ? &*key : nullptr, cluster_id, survivor_revision,
                                    generation_revision(r));
    if (planned) r.planned_survivor_replays.insert_or_assign(id, *u.replay);
  } catch (const core::Error& e) {
    if (target.kind != etcd::ReplayTarget::Kind::latest) throw;
    u.why_not = e.what();
  }
  return u;
}

std::string time_text(std::int64_t ms) { return ms > 0 ? core::iso_time(ms / 1000) : std::string("-"); }

// What each choice loses, side by side.
std::vector<std::string> losses(const Runner& r, const MemberState& s, const JournalUse& j) {
  std::vector<std::string> out;
  const auto gen_rev = generation_revision(r);
  if (!j.replay) {
    out.push_back(fmt::format("the change journal cannot top it up ({}): the survivor alone", j.why_not));
    out.push_back(fmt::format("  the survivor alone (revision {}): the writes after it that reached no other surviving "
                              "copy",
                              s.revision));
    out.push_back(fmt::format("  the newest generation {} (revision {}): every write after it; the survivor holds "
                              "{} more revisions",
                              r.gen.id, gen_rev, s.revision > gen_rev ? s.revision - gen_rev : 0));
    return out;
  }
  const auto& rp = *j.replay;
  out.push_back(fmt::format("what each choice loses (the change journal ends at revision {}, received {}):",
                            rp.journal_end, time_text(rp.journal_end_ms)));
  if (!rp.base_digest)
    out.push_back(fmt::format("  the survivor alone (revision {}): nothing the journal holds (it ends before it)",
                              s.revision));
  else
    out.push_back(fmt::format("  the survivor alone (revision {}): {} change(s) the journal received after it",
                              s.revision, rp.lost_alone));
  out.push_back(fmt::format("  the survivor + the change journal (revision {}): nothing the journal received; at "
                            "most what it had not yet received when etcd lost quorum",
                            rp.plan.target_revision));
  out.push_back(fmt::format("  the newest generation {} (revision {}): {}", r.gen.id, gen_rev,
                            rp.lost_from_generation
                                ? fmt::format("{} change(s) the journal received after it", *rp.lost_from_generation)
                                : std::string("every change after it (before the journal's epoch)")));
  return out;
}

class EtcdSurvivor final : public TypedStep<SurvivorArgs> {
 public:
  StepType type() const override { return StepType::etcd_survivor; }
  StepTraits traits() const override { return {.replays_journal = true}; }
  std::string_view name() const override { return "etcd-survivor"; }
  bool changes_node() const override { return false; }
  std::vector<StepKey> keys() const override { return {{"to", false}}; }

 protected:
  SurvivorArgs read_args(const StepValues& v) const override {
    SurvivorArgs a;
    auto to = v.text("to", "latest");
    if (to == "auto") to = "latest";
    try {
      a.target = etcd::parse_replay_target(to);
    } catch (const core::Error& e) {
      v.fail("to", e.what());
    }
    return a;
  }

  std::vector<std::string> plan_text(const Runner& r, const SurvivorArgs& a) const override {
    std::vector<std::string> out;
    const auto [cluster, origin] = expected_cluster(r);
    const auto choice = look_for_survivors(r, cluster, origin);
    out.push_back(fmt::format("the members of cluster {} ({}), ranked by committed raft index:", cluster, origin));
    for (const auto& line : choice.table()) out.push_back("  " + line);
    for (const auto& why : choice.refusals) out.push_back("refused: " + why);
    const auto* s = choice.chosen();
    if (s == nullptr || !choice.refusals.empty()) return out;
    out.push_back(fmt::format("this node's data dir {} is copied into a private folder and opened by etcd with "
                              "--force-new-cluster (unix sockets only root reaches); its keyspace must have the "
                              "journal's digest at its revision",
                              r.host(r.plan.etcd.data_dir).string()));
    try {
      const auto j = journal_past(r, a.target, cluster, s->revision, true);
      if (j.replay && j.replay->plan.events > 0)
        out.push_back(fmt::format("then the journal's {} change(s) after revision {} are replayed onto it, up to "
                                  "revision {}, and checked against the journal's digest there",
                                  j.replay->plan.events, s->revision, j.replay->plan.target_revision));
      out.push_back(fmt::format("saved as {} for the cluster's restore",
                                (core::bfs::path(r.var(Var::restore_dir)) / "replayed.db").string()));
      for (const auto& line : losses(r, *s, j)) out.push_back(line);
    } catch (const core::Error& e) {
      out.push_back(std::string("cannot run: ") + e.what());
    }
    for (const auto& note : force_new_cluster_notes(etcd::etcd_server_version(r.ctx))) out.push_back("note: " + note);
    return out;
  }

  void preflight(Runner& r, const SurvivorArgs& a, Preflight& pf) const override {
    const auto [cluster, origin] = expected_cluster(r);
    const auto choice = look_for_survivors(r, cluster, origin);
    for (const auto& why : choice.refusals) pf.fails.push_back(why);
    const auto* s = choice.chosen();
    if (s == nullptr || !choice.refusals.empty()) return;
    pf.ok(fmt::format("the survivor is this node's member {}: cluster {}, committed raft index {}, revision {}", s->name,
                      s->cluster_id, s->raft_index, s->revision));
    // The member's files copied for the private etcd, and in the restore's folder the survivor's
    // snapshot and the replayed one (each about its database's size).
    const auto member = r.host(r.plan.etcd.data_dir) / "member";
    std::uint64_t files = 0;
    const std::function<void(const core::bfs::path&)> add = [&](const core::bfs::path& dir) {
      for (const auto& name : core::list_dir(dir))
        if (const auto st = core::lstat_path(dir / name)) {
          if (st->type == core::FileType::directory) add(dir / name);
          else if (st->type == core::FileType::file) files += st->size;
        }
    };
    if (core::lstat_path(member)) add(member);
    const auto db = core::lstat_path(member / "snap" / "db");
    pf.need[core::ScratchDir::root().string()] += files;
    pf.need[core::bfs::path(r.var(Var::restore_dir)).parent_path().string()] += db ? 2 * db->size : 0;
    try {
      const auto j = journal_past(r, a.target, cluster, s->revision, true);
      if (!j.replay) {
        pf.warns.push_back(fmt::format("the change journal cannot top up the survivor ({}): it is restored as it is",
                                       j.why_not));
      } else {
        const auto& plan = j.replay->plan;
        pf.ok(fmt::format("the change journal reaches revision {} from the survivor's {} ({} changes to replay)",
                          plan.target_revision, s->revision, plan.events));
        judge_authenticity(r, pf, "the change journal's segments", plan.auth.status,
                           plan.auth.status == core::AuthStatus::authentic
                               ? std::string("sealed and signed with this node's key")
                               : plan.auth.text);
      }
    } catch (const core::Error& e) {
      pf.fails.push_back(e.what());
    }
    const auto& server = r.ctx.config.etcd.server;
    if (server.empty() || r.ctx.programs->find(server.front()).empty())
      pf.fails.push_back(fmt::format("the etcd server program ({}) is not installed: the survivor's data is opened by "
                                     "it privately (Debian's etcd-server package, or etcd.server in the config)",
                                     server.empty() ? "etcd.server" : server.front()));
  }

  void perform(Runner& r, const SurvivorArgs& a) const override {
    const auto dir = r.restore_dir();
    const auto out = dir / "replayed.db", record = dir / "replayed.json";
    if (core::lstat_path(record) && core::lstat_path(out)) {
      const auto j = json::parse(core::read_file(record));
      if (j.value("base", "") == "survivor" && j.value("sha256", "") == core::sha256_file(out.string())) {
        r.ctx.out.info("      made earlier: {} (revision {})", out.string(), j.value("revision", std::int64_t{0}));
        return;
      }
    }
    const auto [cluster, origin] = expected_cluster(r);
    // Stopped now: its data dir is read as it is, and opened privately.
    auto self = local_member_state(r.ctx, r.plan.etcd.data_dir);
    if (self.name.empty()) self.name = r.plan.etcd.name;  // its manifest is out of the folder now
    if (self.source == MemberState::Source::asked)
      throw core::Error("this node's etcd still answers: it must be stopped before its data dir is read");
    if (!self.has_data()) throw core::Error(fmt::format("this node's etcd data cannot be read: {}", self.problem));
    if (!cluster.empty() && self.cluster_id != cluster)
      throw core::Error(fmt::format("this node's etcd data is cluster {}, not {} ({})", self.cluster_id, cluster, origin));

    const auto survivor = dir / "survivor.db";
    std::int64_t revision = 0;
    {
      const double t0 = core::monotonic_seconds();
      etcd::PrivateEtcd etcd(r.ctx, etcd::PrivateEtcd::MemberDir{r.host(r.plan.etcd.data_dir)});
      const auto status = etcd.client().status();
      revision = status.revision;
      if (!cluster.empty() && status.cluster_id != cluster)
        throw core::Error(fmt::format("the survivor's etcd came up as cluster {}, not {}", status.cluster_id, cluster));
      const auto tmp = dir / "survivor.db.part";
      ::unlink(tmp.c_str());
      etcd::EtcdTarget target;
      target.endpoint = etcd.url();
      etcd::save_snapshot_file(r.ctx, target, tmp, status.db_size);
      if (::rename(tmp.c_str(), survivor.c_str()) != 0) core::throw_errno("rename", tmp.string(), errno);
      r.ctx.out.info("      the survivor {} opened with --force-new-cluster at revision {}, saved as {} ({:.1f} s)",
                     self.name, revision, survivor.string(), core::monotonic_seconds() - t0);
    }
    const auto j = journal_past(r, a.target, cluster, revision, false);
    etcd::ReplayPlan plan;
    if (j.replay && j.replay->base_digest) {
      const auto digest = etcd::digest_of_snapshot(survivor.string());
      if (!(digest == *j.replay->base_digest))
        throw core::Error(fmt::format(
            "the survivor's keyspace at revision {} is not the journal's: the journal's digest there is {} ({} keys), "
            "the survivor's {} ({} keys); it diverged from what the journal followed, and nothing was restored from it",
            revision, j.replay->base_digest->hex(), j.replay->base_digest->keys, digest.hex(), digest.keys));
      r.ctx.out.info("      its keyspace matches the journal's digest at revision {} ({} keys)", revision, digest.keys);
      plan = j.replay->plan;
    } else {
      r.ctx.out.warn("      the change journal does not reach the survivor's revision {}{}: restored as it is",
                     revision, j.why_not.empty() ? "" : " (" + j.why_not + ")");
    }
    json rec = {{"base", "survivor"}, {"member", self.name}, {"survivor_revision", revision}};
    const auto tmp = dir / "replayed.db.tmp";
    ::unlink(tmp.c_str());
    if (plan.events > 0) {
      plan.base.file = survivor;
      plan.base.source = fmt::format("the survivor {} (revision {})", self.name, revision);
      plan.base.db_sha256 = core::sha256_file(survivor.string());
      const auto key = r.node_key();
      etcd::ReplayResult result;
      try {
        result = etcd::replay_to_snapshot(r.ctx, plan, tmp, key ? &*key : nullptr);
      } catch (...) {
        ::unlink(tmp.c_str());
        throw;
      }
      r.ctx.out.info("      {} changes in {} transaction(s) replayed onto it; keyspace digest matches the journal's at "
                     "revision {} ({} keys) ({:.1f} s: {})",
                     result.events, result.transactions, plan.target_revision, result.digest.keys, result.seconds,
                     result.phases());
      rec["revision"] = plan.target_revision;
      rec["events"] = result.events;
    } else {
      core::private_copy(survivor, tmp, false);
      rec["revision"] = revision;
      rec["events"] = 0;
    }
    try {
      refuse_undecryptable(r, tmp, fmt::format("the survivor's point (revision {})", rec["revision"].get<std::int64_t>()));
    } catch (...) {
      ::unlink(tmp.c_str());
      throw;
    }
    core::fsync_path(tmp);
    if (::rename(tmp.c_str(), out.c_str()) != 0) core::throw_errno("rename", tmp.string(), errno);
    rec["sha256"] = core::sha256_file(out.string());
    core::write_file_atomic(record, rec.dump(2) + "\n");
    ::unlink(survivor.c_str());
  }
};

}  // namespace

const StepDef& etcd_survivor_step_def() {
  static const EtcdSurvivor def;
  return def;
}

}  // namespace kdr::restore
