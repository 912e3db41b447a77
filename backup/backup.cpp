#include "backup/backup.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include <boost/filesystem/operations.hpp>

#include "backup/backup_disk.hpp"
#include "backup/etcd_guard.hpp"
#include "backup/journal_cover.hpp"
#include "backup/node_facts.hpp"
#include "backup/tree_copy.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/priority.hpp"
#include "core/generation_auth.hpp"
#include "core/node_key.hpp"
#include "core/repository.hpp"
#include "core/sha256.hpp"
#include "core/version.hpp"
#include "etcd/tool.hpp"

namespace kdr::backup {

using core::Error;
using core::ExitCode;

namespace {

// Compared as written and with symlinks resolved: a backup folder reached through a
// symlink into /etc/kubernetes is as much inside it as one named directly.
bool within_either_way(const core::bfs::path& inner, const core::bfs::path& outer) {
  if (core::path_is_within(inner, outer)) return true;
  boost::system::error_code e1, e2;
  const auto real_inner = core::bfs::weakly_canonical(inner, e1);
  const auto real_outer = core::bfs::weakly_canonical(outer, e2);
  return !e1 && !e2 && core::path_is_within(real_inner, real_outer);
}

void refuse_backup_inside_sources(const core::Context& ctx, const SourcePlan& plan) {
  for (const auto& s : plan.sources) {
    const auto host = ctx.root.host(s.path);
    if (within_either_way(ctx.backup_dir, host))
      throw core::UsageError(fmt::format("backup folder {} is inside the source {}: it would back itself up; "
                                         "put it on the second disk, outside every source",
                                         ctx.backup_dir.string(), s.path));
    if (within_either_way(host, ctx.backup_dir))
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

// The newest generation whose files the new one may hard-link: one this node's key vouches for,
// read from the very text that was authenticated. A forged previous generation would otherwise
// pass its content, under its recorded hash, into a new generation that this node signs.
std::optional<PreviousGeneration> load_previous(const core::Repository& repo, const core::NodeKey& key,
                                                std::vector<std::string>& warnings) {
  auto all = repo.generations();
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (!it->meta) continue;
    try {
      const auto text = core::read_backup_file(it->path / "manifest.jsonl");
      const auto auth = core::authenticate_generation(it->path, it->id, it->meta_sha256, core::sha256_hex(text), &key);
      if (!auth.authentic()) {
        warnings.push_back(fmt::format("previous generation {} {}; every file copied afresh", it->id, auth.text));
        return std::nullopt;
      }
      PreviousGeneration prev{it->path, core::Manifest::parse(text, (it->path / "manifest.jsonl").string()), {}};
      prev.index = prev.manifest.index();
      return prev;
    } catch (const Error& e) {
      warnings.push_back(fmt::format("previous generation {} unreadable ({}); every file copied afresh", it->id, e.what()));
      return std::nullopt;
    }
  }
  return std::nullopt;
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

// The backup's own copies leave the page cache once they are on disk: etcd's pages (its
// db is memory-mapped) stay cached instead of being pushed out by backup data.
void drop_from_cache(const core::bfs::path& staging, const core::Manifest& manifest,
                     const std::vector<core::Artifact>& artifacts) {
  auto drop = [](const core::bfs::path& p) {
    core::Fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd) ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED);
  };
  for (const auto& e : manifest.entries)
    if (e.type == core::FileType::file) drop(staging / core::generation_relative_path(e.path));
  for (const auto& a : artifacts) drop(staging / a.path);
}


// Files that kept changing while copied, outside etcd's data dir (where that is expected).
std::vector<std::string> torn_outside(const core::Manifest& manifest, const std::string& etcd_data_dir) {
  std::vector<std::string> out;
  for (const auto& e : manifest.entries)
    if (e.torn && (etcd_data_dir.empty() || !core::node_path_within(e.path, etcd_data_dir))) out.push_back(e.path);
  return out;
}

// kube-apiserver's key material and policies (an encryption config, an audit policy) must
// be in every generation: warn when one is named but not covered.
// kube-apiserver's files (key material, policies) that no source covers: warnings, and for
// the EncryptionConfiguration a cause of a partial generation (returned): without it, no
// encrypted Secret of the snapshot can be read again.
std::vector<std::string> check_apiserver_files(const core::Context& ctx, const core::StaticPodScan& scan,
                                               const SourcePlan& plan, std::vector<std::string>& warnings) {
  std::vector<std::string> partial;
  for (const auto& f : core::apiserver_files(scan)) {
    std::optional<std::string> problem;
    if (!f.host_path) {
      problem = fmt::format("kube-apiserver --{}={} is not mounted from a hostPath volume: kdr cannot find it on the "
                            "node to back it up",
                            f.flag, f.container_path);
    } else if (!std::any_of(plan.sources.begin(), plan.sources.end(),
                            [&](const Source& s) { return core::node_path_within(*f.host_path, s.path); })) {
      problem = fmt::format("kube-apiserver --{} names {} (on the node: {}), which no source covers: add it to "
                            "sources in the config",
                            f.flag, f.container_path, *f.host_path);
    } else if (!core::lstat_path(ctx.root.host(*f.host_path))) {
      problem = fmt::format("kube-apiserver --{} names {}, which does not exist on the node", f.flag, *f.host_path);
    }
    if (!problem) continue;
    warnings.push_back(*problem);
    if (f.flag == "encryption-provider-config")
      partial.push_back("the EncryptionConfiguration is not in it, so its encrypted Secrets cannot be read again (" +
                        *problem + ")");
  }
  return partial;
}

std::uint64_t file_size_or_zero(const core::bfs::path& p) {
  auto st = core::lstat_path(p);
  return st ? st->size : 0;
}

// Room on the backup disk for etcd's data, before anything starts: the snapshot (about the
// database's size), and with etcd.raw_copy: always the data dir copied beside it (the
// database again, and the WAL segments etcd preallocates at 64 MiB each). With auto the raw
// copy is made only when etcd gives no snapshot, in its place. 64 MiB more for the files that
// changed and the generation's own records.
std::uint64_t etcd_room(const core::Context& ctx, const etcd::EtcdLayout& layout) {
  std::uint64_t room = 64ull << 20;
  if (!layout.local()) return room;
  const auto member = ctx.root.host(layout.data_dir) / "member";
  room += file_size_or_zero(member / "snap/db");
  if (ctx.config.etcd.raw_copy == "always") room += core::tree_bytes(member);
  return room;
}

struct EtcdStep {
  core::EtcdFacts facts;  // meta.json "etcd": the snapshot (or why none), the journal's revision, the members
  std::string server_version;
  bool failed = false;
};

EtcdStep snapshot_etcd(const core::Context& ctx, const etcd::EtcdLayout& layout, const core::bfs::path& staging,
                       const std::vector<core::GenerationEntry>& generations, bool allow_shrink,
                       std::vector<std::string>& warnings) {
  EtcdStep step;
  step.facts.recorded = true;
  if (!ctx.config.etcd.snapshot) {
    step.facts.snapshot_disabled = true;
    return step;
  }
  const double t0 = core::monotonic_seconds();
  auto target = etcd::etcd_target(ctx, layout);
  etcd::SnapshotOutcome outcome;
  if (auto status = etcd::endpoint_status(ctx, target, outcome)) {
    step.server_version = status->version;
    if (auto members = etcd::member_list(ctx, target)) step.facts.members = *members;
    std::string why_not;
    if (auto cover = journal_cover(ctx, generations, status->cluster_id, status->revision, why_not)) {
      ctx.out.detail("etcd: covered by the change journal up to revision {} (epoch {}, from generation {})",
                     cover->revision, cover->epoch, cover->base_generation);
      step.facts.journal = cover;
      return step;
    }
    if (!why_not.empty()) {
      ctx.out.detail("etcd: a full snapshot: {}", why_not);
      step.facts.full_because = why_not;
    }
    outcome = etcd::take_snapshot(ctx, target, *status, staging);
  }
  if (outcome.info) {
    refuse_etcd_went_back(ctx, etcd_history(ctx, generations),
                          {outcome.info->cluster_id, outcome.info->revision, outcome.info->keys, "etcd now"},
                          allow_shrink, warnings);
    outcome.info->duration_s = core::monotonic_seconds() - t0;
    step.facts.snapshot = outcome.info;
    if (const auto problem = step.facts.snapshot_member_problem(); !problem.empty()) warnings.push_back(problem);
  } else if (outcome.failure == etcd::SnapshotFailure::disk_full) {
    throw core::Error(fmt::format("backup disk {} is full: the etcd snapshot could not be written ({}); free space "
                                  "or lower retention",
                                  ctx.backup_dir.string(), outcome.error));
  } else {
    step.failed = true;
    step.facts.snapshot_error = outcome.error;
    step.facts.snapshot_failure = std::string(to_string(outcome.failure));
    warnings.push_back("no consistent etcd snapshot in this generation: " + outcome.error);
  }
  return step;
}

// Why a generation is partial: the causes, each once.
std::vector<std::string> partial_causes(const TreeCopier& copier, const EtcdStep& etcd,
                                        const std::vector<std::string>& torn) {
  std::vector<std::string> out;
  if (etcd.failed)
    out.push_back(fmt::format("no consistent etcd snapshot ({})", etcd.facts.snapshot_failure.empty() ? std::string("failed") : etcd.facts.snapshot_failure));
  if (copier.not_copied() > 0)
    out.push_back(fmt::format("{} path(s) could not be read and are not in it", copier.not_copied()));
  if (!torn.empty())
    out.push_back(fmt::format("{} file(s) outside etcd's data dir kept changing while copied (first: {})", torn.size(),
                              torn.front()));
  return out;
}

}  // namespace

std::vector<std::string> check_guards(const std::vector<core::SourceStats>& now, const SourcePlan& plan,
                                      const core::GenerationMeta* previous, double min_ratio) {
  std::vector<std::string> problems;
  for (const auto& s : now) {
    // by path: a run the journal covers leaves etcd's data dir out of `now`
    const auto planned = std::find_if(plan.sources.begin(), plan.sources.end(),
                                      [&](const Source& p) { return p.path == s.path; });
    const bool required = planned != plan.sources.end() && planned->required;
    if (required && s.is_symlink) {
      problems.push_back(fmt::format("required source {} is a symlink now: kdr records the link, never what it "
                                     "points to; put the real folder back, or name the real path in the config",
                                     s.path));
      continue;
    }
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

namespace {

// The new generation's identity: when, where, by whom.
core::GenerationMeta start_generation(const core::Context& ctx, const core::Repository& repo, const SourcePlan& plan) {
  core::GenerationMeta meta;
  meta.warnings = plan.warnings;
  meta.time = core::now_epoch();
  meta.started = core::iso_time(meta.time);
  meta.id = repo.new_generation_id(meta.time);
  meta.hostname = ctx.host->hostname();
  meta.root = ctx.root.root().string();
  meta.kdr_version = core::version;
  if (ctx.host->euid() != 0) meta.warnings.push_back("not running as root: file owners are recorded but not preserved");
  return meta;
}

// Why the raw copy of etcd's data dir is left out of this run ("" when it is made). With
// etcd.raw_copy: auto it is made only when etcd gave no consistent copy: no snapshot (etcd
// down, which also makes the raw copy quiescent and whole, or snapshots disabled) and no
// journal cover. A live bbolt file copied beside a checked snapshot only adds a torn copy of the
// same data at the cost of the whole database per run (docs/backup-format.md, The raw copy).
std::string raw_copy_left_out(const core::Context& ctx, const EtcdStep& etcd) {
  if (ctx.config.etcd.raw_copy != "auto") return "";
  if (etcd.facts.journal)
    return fmt::format("the change journal covers etcd up to revision {}", etcd.facts.journal->revision);
  if (etcd.facts.snapshot) return fmt::format("the checked snapshot at revision {} holds its data", etcd.facts.snapshot->revision);
  return "";
}

// Every source into the staging folder; the etcd data dir only when raw_copy_left_out says so.
void copy_sources(const core::Context& ctx, const SourcePlan& plan, const EtcdStep& etcd, TreeCopier& copier,
                  std::uint64_t expected_bytes, core::GenerationMeta& meta) {
  core::Progress progress(ctx.out, "backing up", expected_bytes);  // the previous generation's size is the best guess
  copier.set_progress(&progress);
  copier.set_bandwidth(static_cast<std::uint64_t>(ctx.config.bandwidth_mib_s) << 20);
  for (const auto& source : plan.sources) {
    if (source.path == plan.etcd.data_dir) {
      if (const auto why = raw_copy_left_out(ctx, etcd); !why.empty()) {
        ctx.out.detail("not copying {}: {} (etcd.raw_copy: auto)", source.path, why);
        continue;
      }
    }
    ctx.out.detail("backing up {}", source.path);
    auto stats = copier.copy_source(source.path);
    stats.reason = join_reasons(source);
    meta.sources.push_back(stats);
  }
  progress.finish();
}

void refuse_damage(const core::GenerationMeta& meta, const SourcePlan& plan, const core::GenerationMeta* previous,
                   double min_ratio) {
  const auto problems = check_guards(meta.sources, plan, previous, min_ratio);
  if (problems.empty()) return;
  std::string text;
  for (const auto& p : problems) text += "\n  " + p;
  throw Error(fmt::format("not publishing a generation that would replace good data with damage:{}\n"
                          "no generation written; the older ones are untouched",
                          text));
}

// What the copy did, counted into the generation's record.
void record_copy(const TreeCopier& copier, const EtcdStep& etcd, const std::string& etcd_data_dir,
                 core::GenerationMeta& meta) {
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
  meta.partial_because = partial_causes(copier, etcd, torn_outside(manifest, etcd_data_dir));
  if (!meta.partial_because.empty()) meta.status = core::GenerationStatus::partial;
}

// manifest.jsonl, SHA256SUMS, meta.json and AUTH (the node key's MAC over the three) written
// and flushed; then the generation is published under its name in one rename.
void publish(const core::Context& ctx, core::Repository& repo, const core::bfs::path& staging,
             const core::Manifest& manifest, const std::vector<core::Artifact>& artifacts, const core::NodeKey& key,
             double t0, core::GenerationMeta& meta) {
  core::write_file_atomic(staging / "manifest.jsonl", manifest.to_jsonl(), 0600);
  core::write_file_atomic(staging / "SHA256SUMS", core::sha256sums(manifest, artifacts), 0600);
  make_durable(staging);
  if (ctx.config.drop_cache) drop_from_cache(staging, manifest, artifacts);
  meta.finished = core::iso_time(core::now_epoch());
  meta.duration_s = core::monotonic_seconds() - t0;
  core::write_file_atomic(staging / "meta.json", meta.to_json().dump(2) + "\n", 0600);
  core::write_generation_auth(staging, meta.id, key);
  repo.publish(meta.id);
}

// A run that failed: nothing half-built may stay behind looking like a generation, and a full
// backup disk, the one failure an operator must act on at once, is said first. Rethrows.
[[noreturn]] void fail_run(const core::Context& ctx, const core::bfs::path& staging) {
  bool removed = true;
  try {
    core::remove_tree(staging);
  } catch (const Error& e) {
    removed = false;
    ctx.out.warn("{} (the next run removes it)", e.what());
  }
  try {
    throw;
  } catch (const Error& e) {
    if (!core::is_disk_full(e)) throw;
    throw Error(fmt::format("backup disk {} is full; {}; older generations are intact. Free space or lower "
                            "retention. ({})",
                            ctx.backup_dir.string(),
                            removed ? "the partial generation was removed" : "the next run removes the partial one",
                            e.what()),
                e.code());
  }
}

}  // namespace

BackupResult run_backup(const core::Context& ctx, const BackupOptions& options) {
  const double t0 = core::monotonic_seconds();
  BackupResult result;
  const auto scan = core::scan_static_pods(ctx.root, ctx.config.static_pod_path);
  result.plan = plan_sources(ctx.config, ctx.root, scan, etcd::detect_etcd_layout(ctx.config, ctx.root, scan));
  const auto& plan = result.plan;
  const auto& layout = plan.etcd;
  refuse_backup_inside_sources(ctx, plan);
  refuse_missing_required(plan);
  const auto disk = judge_backup_disk(backup_disk_facts(ctx, layout.local() ? layout.data_dir : std::string()),
                                      ctx.config.backup_disk, !ctx.root.is_real_root());
  if (disk.refusal) throw Error(*disk.refusal);
  for (const auto& w : disk.warnings) ctx.out.warn("{}", w);
  if (options.dry_run == DryRun::yes) return result;

  auto repo = core::Repository::open_or_create(ctx.backup_dir);
  auto lock = repo.lock(core::LockMode::exclusive);
  core::lower_io_priority(ctx);
  result.leftovers_removed = repo.remove_leftovers();

  auto meta = start_generation(ctx, repo, plan);
  const auto missing_apiserver_files = check_apiserver_files(ctx, scan, plan, meta.warnings);
  etcd::check_free_space(ctx, ctx.backup_dir, etcd_room(ctx, layout));
  const auto key = core::load_or_create_node_key(ctx);
  const auto previous_entry = latest_readable(repo);
  const auto previous = load_previous(repo, key, meta.warnings);

  const auto staging = repo.staging_path(meta.id);
  core::make_dir(staging, 0700);
  try {
    core::make_dir(staging / "files", 0700);
    // The consistent snapshot first: it is what a restore relies on most.
    auto etcd = snapshot_etcd(ctx, layout, staging, repo.generations(), options.allow_shrink, meta.warnings);
    std::vector<core::Artifact> artifacts;
    if (const auto& snap = etcd.facts.snapshot) artifacts.push_back({snap->file, snap->sha256, snap->size});
    TreeCopier copier(ctx.root, staging, previous ? &*previous : nullptr, plan.excludes, ctx.config.copy_retries,
                      ctx.host->euid() == 0);
    copy_sources(ctx, plan, etcd, copier,
                 previous_entry && previous_entry->meta ? previous_entry->meta->bytes_total : 0, meta);
    refuse_damage(meta, plan, previous_entry ? &*previous_entry->meta : nullptr,
                  options.allow_shrink ? 0.0 : ctx.config.guard_min_ratio);
    record_copy(copier, etcd, layout.data_dir, meta);
    if (!missing_apiserver_files.empty()) {
      meta.partial_because.insert(meta.partial_because.end(), missing_apiserver_files.begin(),
                                  missing_apiserver_files.end());
      meta.status = core::GenerationStatus::partial;
    }

    auto facts = collect_node_facts(ctx, scan, layout, etcd.server_version, staging);
    artifacts.insert(artifacts.end(), facts.artifacts.begin(), facts.artifacts.end());
    for (const auto& a : artifacts) meta.artifacts.push_back({a.path, a.sha256, a.size});
    meta.etcd = etcd.facts;
    meta.node = facts.facts;
    publish(ctx, repo, staging, copier.manifest(), artifacts, key, t0, meta);
  } catch (...) {
    fail_run(ctx, staging);
  }
  result.generation = meta;
  if (ctx.config.prune_after_backup)
    result.pruned = prune(repo, ctx.config.retention, meta.time, DryRun::no);
  result.code = meta.status == core::GenerationStatus::complete ? ExitCode::ok : ExitCode::partial;
  if (options.keep_lock) result.lock.emplace(std::move(lock));
  return result;
}

}  // namespace kdr::backup
