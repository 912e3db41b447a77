#include "backup/backup.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "backup/tree_copy.hpp"
#include "core/error.hpp"
#include "core/repository.hpp"
#include "core/version.hpp"

namespace kdr::backup {

using core::Error;
using core::ExitCode;

namespace {

void refuse_backup_inside_sources(const core::Context& ctx, const SourcePlan& plan) {
  for (const auto& s : plan.sources) {
    const auto host = ctx.root.host(s.path);
    if (core::path_is_within(ctx.backup_dir, host))
      throw core::UsageError(fmt::format("backup folder {} is inside the source {}: it would back itself up; "
                                         "put it on the second disk, outside every source",
                                         ctx.backup_dir.string(), s.path));
    if (core::path_is_within(host, ctx.backup_dir))
      throw core::UsageError(fmt::format("source {} is inside the backup folder {}", s.path, ctx.backup_dir.string()));
  }
}

void refuse_missing_required(const SourcePlan& plan) {
  for (const auto& s : plan.sources)
    if (s.required && !s.present)
      throw Error(fmt::format("required source {} does not exist on the node (is its disk mounted?); "
                              "no generation written, the older ones are untouched",
                              s.path));
}

std::optional<PreviousGeneration> load_previous(const core::Repository& repo, const core::GenerationEntry& g,
                                                std::vector<std::string>& warnings) {
  try {
    PreviousGeneration prev{g.path, core::Manifest::load(g.path / "manifest.jsonl"), {}};
    prev.index = prev.manifest.index();
    return prev;
  } catch (const Error& e) {
    warnings.push_back(fmt::format("previous generation {} unreadable ({}); every file copied afresh", g.id, e.what()));
    (void)repo;
    return std::nullopt;
  }
}

std::optional<core::GenerationEntry> latest_readable(const core::Repository& repo) {
  auto all = repo.generations();
  for (auto it = all.rbegin(); it != all.rend(); ++it)
    if (it->meta) return *it;
  return std::nullopt;
}

void make_durable(const core::bfs::path& dir) {
  core::Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) core::throw_errno("open", dir.string(), errno);
  if (::syncfs(fd.get()) != 0) core::throw_errno("sync the backup disk", dir.string(), errno);
}

bool torn_outside(const core::Manifest& manifest, const std::string& etcd_data_dir) {
  for (const auto& e : manifest.entries)
    if (e.torn && !is_excluded(e.path, {etcd_data_dir})) return true;
  return false;
}

}  // namespace

std::vector<std::string> check_guards(const std::vector<core::SourceStats>& now, const SourcePlan& plan,
                                      const core::GenerationMeta* previous, double min_ratio) {
  std::vector<std::string> problems;
  for (std::size_t i = 0; i < now.size(); ++i) {
    const auto& s = now[i];
    const bool required = plan.sources[i].required;
    if (required && s.present && s.files == 0) {
      problems.push_back(fmt::format("required source {} is empty (no files): an unmounted or wiped disk?", s.path));
      continue;
    }
    if (previous == nullptr) continue;
    auto prev = std::find_if(previous->sources.begin(), previous->sources.end(),
                             [&](const auto& p) { return p.path == s.path; });
    if (prev == previous->sources.end() || prev->files == 0) continue;
    const bool fewer = static_cast<double>(s.files) < static_cast<double>(prev->files) * min_ratio;
    const bool smaller = static_cast<double>(s.bytes) < static_cast<double>(prev->bytes) * min_ratio;
    if (fewer || smaller)
      problems.push_back(fmt::format(
          "source {} shrank from {} files, {} bytes in generation {} to {} files, {} bytes (below {:.0f}%); "
          "if this is intended, run 'kdr backup --allow-shrink'",
          s.path, prev->files, prev->bytes, previous->id, s.files, s.bytes, min_ratio * 100));
  }
  return problems;
}

BackupResult run_backup(const core::Context& ctx, const BackupOptions& options) {
  const double t0 = core::monotonic_seconds();
  BackupResult result;
  result.plan = plan_sources(ctx.config, ctx.root);
  const auto& plan = result.plan;
  refuse_backup_inside_sources(ctx, plan);
  refuse_missing_required(plan);
  if (options.dry_run == DryRun::yes) return result;

  auto repo = core::Repository::open_or_create(ctx.backup_dir);
  auto lock = repo.lock(core::LockMode::exclusive);
  result.leftovers_removed = repo.remove_leftovers();

  core::GenerationMeta meta;
  meta.warnings = plan.warnings;
  const auto previous_entry = latest_readable(repo);
  std::optional<PreviousGeneration> previous;
  if (previous_entry) previous = load_previous(repo, *previous_entry, meta.warnings);

  meta.time = core::now_epoch();
  meta.started = core::iso_time(meta.time);
  meta.id = repo.new_generation_id(meta.time);
  meta.hostname = core::hostname();
  meta.root = ctx.root.root().string();
  meta.kdr_version = core::version;
  const bool as_root = ::geteuid() == 0;
  if (!as_root) meta.warnings.push_back("not running as root: file owners are recorded but not preserved");

  const auto staging = repo.staging_path(meta.id);
  core::make_dir(staging, 0700);
  try {
    core::make_dir(staging / "files", 0700);
    TreeCopier copier(ctx.root, staging, previous ? &*previous : nullptr, ctx.config.exclude, ctx.config.copy_retries,
                      as_root);
    for (const auto& source : plan.sources) {
      ctx.out.detail("backing up {}", source.path);
      auto stats = copier.copy_source(source.path);
      stats.reason = join_reasons(source);
      meta.sources.push_back(stats);
    }
    auto problems = check_guards(meta.sources, plan, previous_entry ? &*previous_entry->meta : nullptr,
                                 options.allow_shrink ? 0.0 : ctx.config.guard_min_ratio);
    if (!problems.empty()) {
      std::string text;
      for (const auto& p : problems) text += "\n  " + p;
      throw Error(fmt::format("not publishing a generation that would replace good data with damage:{}\n"
                              "no generation written; the older ones are untouched",
                              text));
    }
    const auto& manifest = copier.manifest();
    for (const auto& e : manifest.entries) {
      if (e.type == core::FileType::file) ++meta.files, meta.bytes_total += e.size;
      if (e.type == core::FileType::directory) ++meta.dirs;
      if (e.type == core::FileType::symlink) ++meta.symlinks;
    }
    meta.skipped = copier.skipped();
    meta.torn = copier.torn();
    meta.files_copied = copier.counters().files_copied;
    meta.files_linked = copier.counters().files_linked;
    meta.bytes_copied = copier.counters().bytes_copied;
    meta.bytes_linked = copier.counters().bytes_linked;
    meta.warnings.insert(meta.warnings.end(), copier.warnings().begin(), copier.warnings().end());
    if (copier.incomplete() || torn_outside(manifest, ctx.config.etcd_data_dir))
      meta.status = core::GenerationStatus::partial;

    core::write_file_atomic(staging / "manifest.jsonl", manifest.to_jsonl(), 0600);
    core::write_file_atomic(staging / "SHA256SUMS", core::sha256sums(manifest), 0600);
    make_durable(staging);
    meta.finished = core::iso_time(core::now_epoch());
    meta.duration_s = core::monotonic_seconds() - t0;
    core::write_file_atomic(staging / "meta.json", meta.to_json().dump(2) + "\n", 0600);
    repo.publish(meta.id);
  } catch (...) {
    // Nothing half-built may stay behind looking like a generation.
    try {
      core::remove_tree(staging);
    } catch (const Error& e) {
      ctx.out.warn("{} (the next run removes it)", e.what());
    }
    throw;
  }
  result.generation = meta;
  if (ctx.config.prune_after_backup)
    result.pruned = prune(repo, ctx.config.retention, meta.time, DryRun::no);
  result.code = meta.status == core::GenerationStatus::complete ? ExitCode::ok : ExitCode::partial;
  return result;
}

}  // namespace kdr::backup
