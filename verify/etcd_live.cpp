#include "verify/etcd_live.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/static_pods.hpp"
#include "etcd/layout.hpp"
#include "etcd/rewind.hpp"
#include "etcd/tool.hpp"
#include "journal/inspect.hpp"

namespace kdr::verify {

using nlohmann::json;

namespace {
constexpr const char* live_etcd_check = "live-etcd";
}

json EtcdLiveFacts::to_json() const {
  auto opt = [](const std::optional<std::uint64_t>& v) { return v ? json(*v) : json(nullptr); };
  return {{"answered", answered},       {"error", error},           {"endpoint", endpoint},
          {"revision", revision},       {"keys", opt(keys)},        {"cluster_id", cluster_id},
          {"data_dir", data_dir},       {"db_file_size", opt(db_file_size)},
          {"backup_revision", backup_revision}, {"backup_keys", opt(backup_keys)},
          {"backup_db_size", backup_db_size},   {"backup_cluster_id", backup_cluster_id},
          {"journal_revision", journal_revision}, {"went_back_accepted_by", went_back_accepted_by},
          {"offline", offline ? json{{"revision", offline->revision},
                                     {"consistent_index", offline->consistent_index},
                                     {"cluster_id", offline->cluster_id},
                                     {"member_id", offline->member_id},
                                     {"raft_term", offline->term},
                                     {"raft_commit", offline->commit},
                                     {"raft_last_index", offline->last_index},
                                     {"problems", offline->problems}}
                              : json(nullptr)}};
}

namespace {

// A member that does not answer, as its data dir says offline: how far it got against the
// backup; the cluster when it is another one.
std::string offline_text(const EtcdLiveFacts& f, const etcd::MemberData& m) {
  std::string against;
  if (f.backup_revision > 0 && m.revision > 0) {
    const auto d = m.revision - f.backup_revision;
    against = d > 0 ? fmt::format(", {} revision{} past the backup's ({})", d, d == 1 ? "" : "s", f.backup_revision)
              : d < 0 ? fmt::format(", {} revision{} behind the backup's ({})", -d, d == -1 ? "" : "s", f.backup_revision)
                      : std::string(", the backup's revision");
  }
  if (!f.backup_cluster_id.empty() && !m.cluster_id.empty() && m.cluster_id != f.backup_cluster_id)
    against += fmt::format(", another cluster than the backup's ({})", f.backup_cluster_id);
  return fmt::format("; read offline, its data dir {} holds revision {}{} (applied raft index {}), cluster {}, member "
                     "{}, raft term {}, committed index {}, last entry {}",
                     f.data_dir, m.revision, against, m.consistent_index, m.cluster_id.empty() ? "?" : m.cluster_id,
                     m.member_id.empty() ? "?" : m.member_id, m.term, m.commit, m.last_index);
}

}  // namespace

bool etcd_db_shrank(const std::string& path, const std::string& etcd_data_dir, std::uint64_t live_size,
                    std::uint64_t backup_size) {
  return !etcd_data_dir.empty() && path == etcd_data_dir + "/member/snap/db" && live_size < backup_size / 4;
}

void judge_etcd_live(const EtcdLiveFacts& f, Findings& findings) {
  if (!f.answered)
    findings.add(Severity::error, live_etcd_check, "down", f.endpoint.empty() ? "etcd" : f.endpoint,
                 "etcd does not answer: " + f.error + (f.offline ? offline_text(f, *f.offline) : std::string()));
  // A database that answers is judged by its keys: a snapshot restore or a defragmentation
  // leaves a far smaller file that is whole. One that does not answer and shrank is damaged.
  if (!f.answered) {
    if (f.offline)
      for (const auto& p : f.offline->problems) findings.add(Severity::warning, live_etcd_check, "data-dir-damaged", f.data_dir, p);
    if (f.db_file_size && etcd_db_shrank(f.db_path(), f.data_dir, *f.db_file_size, f.backup_db_size))
      findings.add(Severity::error, live_etcd_check, "db-shrunk", f.db_path(),
                   fmt::format("etcd's database is {} bytes, the backup's was {}: damaged or truncated (etcd's log "
                               "would say \"file size too small\" or similar)",
                               *f.db_file_size, f.backup_db_size));
    return;
  }
  const bool same_cluster = f.cluster_id.empty() || f.backup_cluster_id.empty() || f.cluster_id == f.backup_cluster_id;
  const bool keys_gone = f.keys && f.backup_keys && *f.backup_keys >= 4 && *f.keys * 2 < *f.backup_keys;
  // Deleted keys leave the revision where it was; an etcd that started afresh on an empty data
  // dir (same cluster id, as kubeadm's single member derives it) counts from 1 again.
  const bool behind_backup = same_cluster && f.backup_revision > 0 && f.revision < f.backup_revision;
  const bool behind_journal = f.journal_revision > 0 && f.revision < f.journal_revision;
  const auto journal = f.journal_revision > 0
                           ? fmt::format("; the change journal holds every change up to revision {}: kdr restore "
                                         "restore-etcd-snapshot (to=auto) brings etcd back to it",
                                         f.journal_revision)
                           : std::string();
  if ((behind_backup || behind_journal) && !f.went_back_accepted_by.empty())
    findings.add(Severity::info, live_etcd_check, "rolled-back", f.endpoint,
                 fmt::format("etcd is at revision {}, behind {}: put back by {}", f.revision,
                             behind_journal ? fmt::format("the change journal's {}", f.journal_revision)
                                            : fmt::format("the backup's {}", f.backup_revision),
                             f.went_back_accepted_by));
  else if ((behind_backup && keys_gone) || behind_journal)
    findings.add(Severity::error, live_etcd_check, "data-dir-lost", f.endpoint,
                 fmt::format("etcd serves {} at revision {}{}{}: its revision went back, so etcd started afresh on an "
                             "empty data dir (lost or emptied), or was restored by hand{}; docs/runbook.md, the row "
                             "\"lost data dir\"",
                             f.keys ? fmt::format("{} keys", *f.keys) : std::string("its keys"), f.revision,
                             f.backup_revision > 0 && same_cluster
                                 ? fmt::format(", the backup's snapshot holds {} at revision {}",
                                               f.backup_keys ? fmt::format("{} keys", *f.backup_keys)
                                                             : std::string("its keys"),
                                               f.backup_revision)
                                 : std::string(),
                             behind_journal ? fmt::format(", the change journal reaches revision {}", f.journal_revision)
                                            : std::string(),
                             journal));
  else if (keys_gone)
    findings.add(Severity::error, live_etcd_check, "keys-missing", f.endpoint,
                 fmt::format("etcd serves {} keys, the backup's snapshot holds {}: most of the data is gone ({})",
                             *f.keys, *f.backup_keys,
                             same_cluster ? "deleted since the backup"
                                          : fmt::format("etcd is cluster {}, the backup's was {}: started on an empty "
                                                        "or other data dir",
                                                        f.cluster_id, f.backup_cluster_id)));
  else if (behind_backup)
    findings.add(Severity::error, live_etcd_check, "rolled-back", f.endpoint,
                 fmt::format("etcd is at revision {}, behind the backup's {}: its data went back in time (restored by "
                             "hand from an older copy, or a lost data dir that filled again); kdr backup refuses it "
                             "until etcd is restored or the operator accepts it (kdr backup --allow-shrink)",
                             f.revision, f.backup_revision));
}

std::optional<EtcdLiveFacts> check_etcd_live(const core::Context& ctx, const GenerationView& g, Findings& findings) {
  const auto layout =
      etcd::detect_etcd_layout(ctx.config, ctx.root, core::scan_static_pods(ctx.root, ctx.config.static_pod_path));
  const auto& snap = g.meta.etcd.snapshot;
  if (!snap && layout.kind == etcd::EtcdKind::unknown) return std::nullopt;
  EtcdLiveFacts f;
  if (snap) {
    f.backup_revision = snap->revision;
    f.backup_keys = snap->keys;
    f.backup_db_size = snap->db_size;
    f.backup_cluster_id = snap->cluster_id;
  }
  const auto data_dir = etcd_data_dir_of(g, ctx.config);
  if (!data_dir.empty() && layout.local()) {
    f.data_dir = data_dir;
    if (g.manifest) {
      const auto index = g.manifest->index();
      if (const auto it = index.find(f.db_path()); it != index.end())
        f.backup_db_size = g.manifest->entries[it->second].size;
    }
    if (const auto st = core::lstat_path(ctx.root.host(f.db_path()))) f.db_file_size = st->size;
  }
  auto target = etcd::etcd_target(ctx, layout);
  etcd::SnapshotOutcome failure;
  const auto status = etcd::endpoint_status(ctx, target, failure);
  f.endpoint = target.endpoint;
  if (status) {
    f.answered = true;
    f.revision = status->revision;
    f.cluster_id = status->cluster_id;
    f.keys = etcd::count_keys(ctx, target, 0);
    const journal::JournalStore store(ctx.backup_dir);
    try {
      if (store.exists())
        if (const auto end = journal::journal_end(journal::journal_status(store), f.cluster_id))
          f.journal_revision = end->revision;
    } catch (const core::Error&) {
      // the journal's own check says what is wrong with it
    }
    if (const auto accepted = etcd::etcd_rewind_accepted(ctx, g.meta.time * 1000)) f.went_back_accepted_by = accepted->text();
  } else {
    f.error = failure.error;
    // Stopped (or crashing): what its data dir holds, read without starting it.
    if (!f.data_dir.empty() && core::lstat_path(ctx.root.host(f.data_dir + "/member")))
      f.offline = etcd::read_member_data(ctx.root.host(f.data_dir));
  }
  judge_etcd_live(f, findings);
  return f;
}

}  // namespace kdr::verify
