#include "jobs/backup_job.hpp"

#include <nlohmann/json.hpp>

#include "backup/backup.hpp"
#include "backup/backup_disk.hpp"
#include "backup/backup_metrics.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/process.hpp"
#include "etcd/tool.hpp"
#include "jobs/restore_test.hpp"
#include "journal/health.hpp"
#include "offsite/push_state.hpp"
#include "restore/journal.hpp"
#include "restore/restore.hpp"
#include "verify/verify.hpp"
#include "verify/verify_metrics.hpp"

namespace kdr::jobs {

namespace {

nlohmann::json plan_json(const backup::SourcePlan& plan) {
  auto sources = nlohmann::json::array();
  for (const auto& s : plan.sources)
    sources.push_back({{"path", s.path}, {"present", s.present}, {"required", s.required}, {"reasons", s.reasons}});
  return {{"etcd", plan.etcd.to_json()}, {"sources", sources}, {"notes", plan.notes}, {"warnings", plan.warnings}};
}

void print_etcd_layout(const core::Context& ctx, const etcd::EtcdLayout& l) {
  ctx.out.info("etcd: {}", l.summary());
  if (l.local()) ctx.out.info("  data dir     {} (from {})", l.data_dir, l.data_dir_origin);
  std::string endpoints;
  for (const auto& e : l.endpoints) endpoints += (endpoints.empty() ? "" : ", ") + e;
  ctx.out.info("  endpoints    {} (from {})", endpoints, l.endpoints_origin);
  ctx.out.info("  client cert  {} (from {})", l.tls.cert.empty() ? "none" : l.tls.cert, l.tls.origin);
}

// A follower that died or hangs cannot say so itself: each backup looks, warns, and writes the
// journal's metrics in its place (kdr_journal_up 0), so that the alerts fire within one interval.
void check_journal_follower(const core::Context& ctx) {
  try {
    const journal::JournalStore store(ctx.backup_dir);
    const auto status = journal::journal_status(store);
    if (!status.exists) return;
    std::optional<std::int64_t> revision;
    try {
      revision = journal::live_etcd_revision(etcd::node_etcd_endpoint(ctx));
    } catch (const core::Error&) {
    }
    const auto health = journal::judge_follower(status, journal::wall_clock_ms(), revision, ctx.config.journal.stalled_after_s);
    if (health.ok()) return;
    ctx.out.warn("journal: {}; until it runs again, only full snapshots protect etcd (systemctl restart kdr-journal, "
                 "or kdr journal start)",
                 health.text);
    journal::write_health_metrics(ctx, status, health);
  } catch (const core::Error& e) {
    ctx.out.warn("journal: its state cannot be read: {}", e.what());
  }
}

}  // namespace

void print_source_plan(const core::Context& ctx, const backup::SourcePlan& plan) {
  if (ctx.out.json()) {
    ctx.out.raw(plan_json(plan).dump(2));
    return;
  }
  print_etcd_layout(ctx, plan.etcd);
  const auto disk = backup::backup_disk_facts(ctx, plan.etcd.local() ? plan.etcd.data_dir : std::string());
  ctx.out.info("Backup disk:");
  for (const auto& l : backup::backup_disk_lines(
           disk, backup::judge_backup_disk(disk, ctx.config.backup_disk, !ctx.root.is_real_root())))
    ctx.out.info("  {}", l);
  ctx.out.info("Sources ({}):", plan.sources.size());
  for (const auto& s : plan.sources)
    ctx.out.info("  {:<40} {:<8} {}", s.path, s.present ? (s.required ? "required" : "present") : "MISSING",
                 backup::join_reasons(s));
  if (!plan.notes.empty()) ctx.out.info("Covered or excluded:");
  for (const auto& n : plan.notes) ctx.out.info("  {}", n);
  for (const auto& w : plan.warnings) ctx.out.warn("{}", w);
}

void refuse_during_restore(const core::Context& ctx) {
  if (const auto holder = restore::restore_running(restore::restores_dir(ctx)))
    throw core::Error(fmt::format("a restore is running on this node ({}); backups wait until it is finished",
                                  holder->empty() ? "its lock is held" : *holder),
                      core::ExitCode::locked);
  const auto unfinished = restore::unfinished_restores(ctx);
  if (!unfinished.empty()) {
    const auto& id = unfinished.back();
    auto command = [&](const char* what) {
      auto argv = core::kdr_argv(ctx);
      argv.insert(argv.end(), {"restore", what, id});
      return core::describe_argv(argv);
    };
    throw core::Error(fmt::format("restore {} is unfinished: the node is half-restored. Finish it ({}) or roll it "
                                  "back ({}); until then no backup is taken",
                                  id, command("--resume"), command("--rollback")),
                      core::ExitCode::locked);
  }
}

namespace {

// The push after a backup: its failure is reported with its own exit code, and the
// generation just published stays as it is.
core::ExitCode push_after(const core::Context& ctx, core::ExitCode code) {
  try {
    offsite::push_and_record(ctx);
    return code;
  } catch (const core::Error& e) {
    ctx.out.error(fmt::format("off-site push: {} (the generation is published locally)", e.what()));
    return e.code();
  }
}

}  // namespace

core::ExitCode restore_test_if_due(const core::Context& ctx, core::ExitCode code) {
  try {
    if (!restore_test_due(ctx)) return code;
    if (!ctx.out.json()) ctx.out.info("");
    ctx.out.detail("no restore test younger than {} hours: proving the newest point", ctx.config.restore_test_hours);
    const auto report = run_restore_test(ctx, RestoreTestOptions{});
    write_restore_test_metrics(ctx, report);
    if (!ctx.out.json()) print_restore_test(ctx, report);
    if (code == core::ExitCode::ok && !report.success()) return report.exit_code();
    return code;
  } catch (const core::Error& e) {
    if (e.code() == core::ExitCode::locked) {
      // another run (an overlapping cron run, a restore) has the folder: the proof is still
      // due, and the next backup gives it; the alert on an old proof fires if none ever runs
      ctx.out.warn("restore test not run now: {} (the generation is published; the next backup tries again)",
                   e.what());
      return code;
    }
    ctx.out.error(fmt::format("restore test: {} (the generation is published)", e.what()));
    return code == core::ExitCode::ok ? core::ExitCode::findings : code;
  }
}

core::ExitCode run_backup_job(const core::Context& ctx, const BackupJobOptions& o) {
  backup::BackupOptions options;
  options.dry_run = o.dry_run ? backup::DryRun::yes : backup::DryRun::no;
  options.allow_shrink = o.allow_shrink;
  options.keep_lock = o.verify || ctx.config.verify_after_backup;
  const double t0 = core::monotonic_seconds();
  std::optional<backup::BackupResult> done;
  try {
    if (ctx.root.is_real_root() && ctx.host->euid() != 0 && !o.dry_run)
      throw core::Error("kdr backup reads private keys and etcd's data dir and writes owners and modes as they are: "
                        "it needs root. Run it with sudo (--dry-run works without)");
    refuse_during_restore(ctx);
    done.emplace(backup::run_backup(ctx, options));
  } catch (const core::Error& e) {
    if (!o.dry_run) backup::write_backup_metrics(ctx, e.code(), core::monotonic_seconds() - t0, std::nullopt);
    throw;
  }
  auto& result = *done;
  if (o.dry_run) {
    print_source_plan(ctx, result.plan);
    ctx.out.info("Dry run: would write a new generation to {}", ctx.backup_dir.string());
    return result.code;
  }
  const auto& g = *result.generation;
  if (ctx.out.json()) {
    nlohmann::json j = {{"generation", g.to_json()},
                        {"leftovers_removed", result.leftovers_removed},
                        {"exit_code", core::to_int(result.code)}};
    if (result.pruned) j["pruned"] = result.pruned->removed;
    ctx.out.raw(j.dump(2));
  }
  for (const auto& l : result.leftovers_removed) ctx.out.detail("removed leftover of an interrupted run: {}", l);
  for (const auto& w : g.warnings) ctx.out.warn("{}", w);
  ctx.out.info("generation {} {}{}: {} files, {} ({} copied, {} hard-linked to the previous generation), "
               "{} warning(s), {:.1f} s",
               g.id, core::to_string(g.status),
               g.status == core::GenerationStatus::partial ? " (" + core::partial_reason(g) + ")" : "", g.files, core::human_bytes(g.bytes_total), core::human_bytes(g.bytes_copied),
               core::human_bytes(g.bytes_linked), g.warnings.size(), g.duration_s);
  const auto& etcd = g.etcd;
  if (const auto& snap = etcd.snapshot)
    ctx.out.info("etcd snapshot: revision {}, {}, {} ({}, trailer and structure checked, {:.1f} s)", snap->revision,
                 etcd::snapshot_keys_text(*snap), core::human_bytes(snap->db_size), snap->file, snap->duration_s);
  else if (const auto& j = etcd.journal)
    ctx.out.info("etcd: the change journal holds every change up to revision {} (epoch {}, extending the full snapshot "
                 "of generation {}); no snapshot needed in this run",
                 j->revision, j->epoch, j->base_generation);
  else if (!etcd.snapshot_disabled)
    ctx.out.info("etcd snapshot: NONE ({}); the raw data dir copy may be torn",
                 etcd.snapshot_failure.empty() ? "?" : etcd.snapshot_failure);
  if (result.pruned && !result.pruned->removed.empty())
    ctx.out.info("retention removed {} generation(s): {}", result.pruned->removed.size(),
                 fmt::join(result.pruned->removed, ", "));
  backup::write_backup_metrics(ctx, result.code, core::monotonic_seconds() - t0, result.generation);
  check_journal_follower(ctx);
  auto code = result.code;
  if (o.verify || ctx.config.verify_after_backup) {
    verify::VerifyOptions vopts;
    vopts.generation = g.id;
    vopts.caller_holds_lock = result.lock.has_value();
    core::pausepoint("backup-before-verify");
    auto report = verify::run_verify(ctx, vopts);
    verify::write_verify_metrics(ctx, report);
    if (!ctx.out.json()) ctx.out.info("");
    verify::print_report(ctx, report);
    // the worse of the two: a partial backup stays partial, findings are reported as such
    if (report.exit_code() != core::ExitCode::ok) code = report.exit_code();
  }
  result.lock.reset();
  code = restore_test_if_due(ctx, code);
  if (o.offsite || offsite::push_due(ctx, offsite::read_push_state(ctx))) code = push_after(ctx, code);
  return code;
}

}  // namespace kdr::jobs
