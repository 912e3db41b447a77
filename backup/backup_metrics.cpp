#include "backup/backup_metrics.hpp"

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/metrics.hpp"
#include "core/repository.hpp"

namespace kdr::backup {

void write_backup_metrics(const core::Context& ctx, core::ExitCode code, double duration_s,
                          const std::optional<core::GenerationMeta>& published) {
  core::MetricsText m;
  m.gauge("kdr_backup_last_run_timestamp_seconds", "When kdr backup last ran.", static_cast<double>(core::now_epoch()));
  m.gauge("kdr_backup_last_run_exit_code", "Exit code of the last kdr backup (0 ok, 3 partial, see kdr --help).",
          core::to_int(code));
  m.gauge("kdr_backup_duration_seconds", "Duration of the last kdr backup.", duration_s);
  if (published) {
    m.gauge("kdr_backup_bytes", "Bytes in the last generation.", static_cast<double>(published->bytes_total), "kind=\"total\"");
    m.gauge("kdr_backup_bytes", "Bytes in the last generation.", static_cast<double>(published->bytes_copied), "kind=\"copied\"");
    m.gauge("kdr_backup_bytes", "Bytes in the last generation.", static_cast<double>(published->bytes_linked), "kind=\"linked\"");
  }
  try {
    auto repo = core::Repository::open(ctx.backup_dir);
    const auto all = repo.generations();
    m.gauge("kdr_backup_generations", "Generations in the backup folder.", static_cast<double>(all.size()));
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (!it->meta || it->meta->status != core::GenerationStatus::complete) continue;
      m.gauge("kdr_backup_last_success_timestamp_seconds", "Start time of the newest complete generation.",
              static_cast<double>(it->meta->time));
      break;
    }
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (!it->meta) continue;
      const auto& snap = it->meta->etcd.snapshot;
      if (!snap) continue;
      m.gauge("kdr_etcd_snapshot_timestamp_seconds", "Start time of the newest generation with an etcd snapshot.",
              static_cast<double>(it->meta->time));
      m.gauge("kdr_etcd_snapshot_revision", "etcd revision of the newest snapshot.", static_cast<double>(snap->revision));
      m.gauge("kdr_etcd_snapshot_keys", "Key revisions in the newest snapshot (every pair in its database, as snapshot status counts totalKey).", static_cast<double>(snap->total_keys));
      m.gauge("kdr_etcd_snapshot_bytes", "Size of the newest snapshot.", static_cast<double>(snap->db_size));
      break;
    }
  } catch (const core::Error& e) {
    ctx.out.detail("metrics: {}", e.what());
  }
  try {
    core::write_metrics(ctx, "kdr_backup.prom", m);
  } catch (const core::Error& e) {
    ctx.out.warn("cannot write metrics: {}", e.what());
  }
}

}  // namespace kdr::backup
