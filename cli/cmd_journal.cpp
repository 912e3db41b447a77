// kdr journal run | start | status [--json] | verify | find [KEY-OR-PREFIX] [--namespace NAME] [--limit N] [--json]
#include <fmt/format.h>

#include "cli/command.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/generation.hpp"
#include "core/repository.hpp"
#include "etcd/replay.hpp"
#include "etcd/tool.hpp"
#include "journal/follower.hpp"
#include "journal/health.hpp"
#include "journal/inspect.hpp"
#include "journal/start.hpp"

namespace kdr::cli {

namespace {

struct JournalFlags {
  std::string action;
  std::string prefix;
  std::string namespace_name;
  std::size_t limit = 50;
};

std::string ms_time(std::int64_t ms) {
  return ms > 0 ? fmt::format("{}.{:03}", core::iso_time(ms / 1000).substr(0, 19), ms % 1000) + "Z" : std::string("-");
}

// etcd's revision now, asked by this command (the follower's own record may be old).
std::optional<std::int64_t> ask_etcd_revision(const core::Context& ctx) {
  try {
    return journal::live_etcd_revision(etcd::node_etcd_endpoint(ctx));
  } catch (const core::Error&) {
    return std::nullopt;
  }
}

// Exits 1 when a journal exists but no follower runs, or the one that holds it stopped writing.
core::ExitCode show_status(const core::Context& ctx) {
  const journal::JournalStore store(ctx.backup_dir);
  const auto s = journal::journal_status(store);
  const auto health = s.exists ? journal::judge_follower(s, journal::wall_clock_ms(), ask_etcd_revision(ctx),
                                                     ctx.config.journal.stalled_after_s)
                               : journal::FollowerHealth{};
  const auto rc = health.ok() ? core::ExitCode::ok : core::ExitCode::failed;
  if (ctx.out.json()) {
    auto j = s.to_json();
    j["health"] = {{"ok", health.ok()},
                   {"text", health.text},
                   {"silent_s", health.silent_s},
                   {"etcd_revision", health.etcd_revision ? nlohmann::json(*health.etcd_revision) : nlohmann::json()},
                   {"lag_revisions", health.lag_revisions}};
    ctx.out.raw(j.dump(2));
    return rc;
  }
  if (!s.exists) {
    ctx.out.info("no journal in {} (start it with: kdr journal run, or kdr schedule install)", ctx.backup_dir.string());
    return core::ExitCode::ok;
  }
  ctx.out.info("journal      {}", store.dir().string());
  if (health.kind == journal::FollowerHealth::Kind::running)
    ctx.out.info("follower     running: {}", s.follower);
  else
    ctx.out.info("follower     {}: {}",
                 health.kind == journal::FollowerHealth::Kind::stalled          ? "STALLED"
                 : health.kind == journal::FollowerHealth::Kind::etcd_went_back ? "WAITING"
                                                                                : "NOT RUNNING",
                 health.text);
  if (s.state) {
    const auto& st = *s.state;
    ctx.out.info("state        {}{}{}", st.state, st.message.empty() ? "" : ": " + st.message,
                 health.ok() ? "" : " (its last word)");
    ctx.out.info("position     revision {} (received {})", st.position, ms_time(st.position_time_ms));
    if (health.etcd_revision)
      ctx.out.info("etcd         revision {} now; {} revision(s) not in the journal", *health.etcd_revision,
                   health.lag_revisions);
    else
      ctx.out.info("etcd         does not answer now (last seen at revision {}, {})", st.etcd_revision,
                   ms_time(st.etcd_seen_ms));
    if (health.ok()) ctx.out.info("lag          {} revisions, {:.1f} s", st.lag_revisions, st.lag_seconds);
    ctx.out.info("last fsync   {}", ms_time(st.last_fsync_ms));
    ctx.out.info("digest       {} ({} keys)", st.digest.empty() ? "-" : st.digest, st.keys);
    if (!st.full_snapshot.empty()) ctx.out.info("full snapshot {}", st.full_snapshot);
  }
  ctx.out.info("size         {} in {} epoch(s)", human_bytes(s.bytes), s.epochs.size());
  for (const auto& e : s.epochs)
    ctx.out.info("  epoch {:<4} cluster {}  {}  {} segment(s), {}{}  ({})", e.info.number, e.info.cluster_id,
                 e.last_revision > e.info.base_revision
                     ? fmt::format("revisions {}..{}", e.info.base_revision + 1, e.last_revision)
                     : fmt::format("from revision {}, no change yet", e.info.base_revision + 1),
                 e.segments, human_bytes(e.bytes), e.open ? ", open" : "", e.info.reason);
  if (s.gaps.empty())
    ctx.out.info("gaps         none");
  for (const auto& g : s.gaps)
    ctx.out.info("GAP          before epoch {}: {} ({})", g.epoch, g.text(), g.reason);
  if (!health.ok())
    ctx.out.warn("journal: {}; start it again: systemctl restart kdr-journal, or kdr journal start", health.text);
  return rc;
}

// `kdr journal compact`: a new full snapshot at the journal's newest revision, made off the
// node (the newest full snapshot replayed in a private etcd), published beside the epoch's
// segments only when its digest is the journal's.
core::ExitCode run_compact(const core::Context& ctx) {
  const auto repo = core::Repository::open(ctx.backup_dir);
  const auto lock = repo.lock(core::LockMode::shared);  // no prune removes the base meanwhile
  const auto key = core::load_or_create_node_key(ctx);
  const auto plan = etcd::plan_replay(ctx, etcd::parse_replay_target("latest"), &key);
  if (plan.auth.status != core::AuthStatus::authentic)
    throw core::Error(fmt::format("not compacted: {}; a base this node signs is made only from what its key vouches for",
                                  plan.auth.text));
  if (plan.events == 0) {
    ctx.out.info("nothing to compact: {} is already at the journal's newest revision {}", plan.base.source,
                 plan.target_revision);
    return core::ExitCode::ok;
  }
  ctx.out.info("compacting: {}", plan.describe());
  // The private etcd works on the backup disk, in a folder one compact holds at a time; what an
  // interrupted one left there goes.
  const auto scratch = journal::JournalStore(ctx.backup_dir).compact_scratch();
  core::make_dir(scratch, 0700);
  const core::RepositoryLock compacting(scratch, core::LockMode::exclusive);
  for (const auto& name : core::list_dir(scratch))
    if (name != ".lock") core::remove_tree(scratch / name);
  const core::ScratchRedirect redirect(scratch);
  const auto dir = plan.epoch.dir / "bases";
  core::make_dir(dir, 0700);
  const auto name = fmt::format("{:020}.db", plan.target_revision);
  const auto tmp = dir / ("." + name + ".tmp");
  const auto result = [&] {
    try {
      return etcd::replay_to_snapshot(ctx, plan, tmp, &key);
    } catch (...) {
      ::unlink(tmp.c_str());
      throw;
    }
  }();
  core::fsync_path(tmp);
  if (::rename(tmp.c_str(), (dir / name).c_str()) != 0) core::throw_errno("rename", tmp.string(), errno);
  auto meta = plan.to_json();
  meta["revision"] = plan.target_revision;
  meta["file"] = name;
  meta["db_sha256"] = result.sha256;
  meta["size"] = result.size;
  meta["made"] = core::iso_time(core::now_epoch());
  etcd::sign_journal_base(meta, plan.epoch.cluster_id, key);
  core::write_file_atomic(dir / fmt::format("{:020}.json", plan.target_revision), meta.dump(2) + "\n");
  core::fsync_path(dir);
  ctx.out.info("journal base at revision {}: {} ({}, {} changes in {} transactions, digest {} with {} keys matched, "
               "{:.1f} s: {})",
               plan.target_revision, (dir / name).string(), human_bytes(result.size), result.events,
               result.transactions, result.digest.hex().substr(0, 16), result.digest.keys, result.seconds,
               result.phases());
  return core::ExitCode::ok;
}

core::ExitCode run_verify(const core::Context& ctx) {
  const journal::JournalStore store(ctx.backup_dir);
  if (!store.exists()) throw core::Error(fmt::format("no journal in {}", ctx.backup_dir.string()), core::ExitCode::no_backup);
  const auto key = core::load_node_key(core::node_key_file(ctx));
  const auto c = journal::verify_journal(store, key ? &*key : nullptr);
  if (ctx.out.json()) {
    ctx.out.raw(nlohmann::json{{"epochs", c.epochs}, {"segments", c.segments}, {"events", c.events}, {"bytes", c.bytes},
                               {"checkpoints", c.checkpoints}, {"problems", c.problems}, {"notes", c.notes},
                               {"sealed", c.sealed}, {"unauthenticated", c.unauthenticated}}
                    .dump(2));
  } else {
    for (const auto& n : c.notes) ctx.out.info("note   {}", n);
    for (const auto& u : c.unauthenticated) ctx.out.info("WARN   not authenticated: {}", u);
    for (const auto& p : c.problems) ctx.out.info("ERROR  {}", p);
    ctx.out.info("{} of {} segment(s) sealed with this node's key{}", c.sealed, c.segments,
                 key ? fmt::format(" {}", key->id()) : std::string(" (there is no key here to check them with)"));
    ctx.out.info("{}: {} epoch(s), {} segment(s), {} events, {}, {} checkpoint(s) recomputed", c.problems.empty() ? "ok" : "FAILED",
                 c.epochs, c.segments, c.events, human_bytes(c.bytes), c.checkpoints);
  }
  return c.problems.empty() ? core::ExitCode::ok : core::ExitCode::findings;
}

core::ExitCode run_find(const core::Context& ctx, const JournalFlags& f) {
  const journal::JournalStore store(ctx.backup_dir);
  if (!store.exists()) throw core::Error(fmt::format("no journal in {}", ctx.backup_dir.string()), core::ExitCode::no_backup);
  if (f.prefix.empty() && f.namespace_name.empty())
    throw core::UsageError("kdr journal find: give a key prefix, or --namespace NAME (or both)");
  const journal::ChangeFilter filter{f.prefix, f.namespace_name};
  const auto found = journal::find_in_journal(store, filter, f.limit);
  const auto what = f.namespace_name.empty() ? fmt::format("keys under '{}'", f.prefix)
                    : f.prefix.empty()      ? fmt::format("namespace {} or its objects", f.namespace_name)
                                            : fmt::format("keys under '{}' or of namespace {}", f.prefix, f.namespace_name);
  if (ctx.out.json()) {
    auto arr = nlohmann::json::array();
    for (const auto& c : found)
      arr.push_back({{"epoch", c.epoch}, {"revision", c.revision}, {"time", ms_time(c.time_ms)}, {"time_ms", c.time_ms},
                     {"type", c.kind == journal::EventKind::put ? "put" : "delete"}, {"key", c.key},
                     {"value_bytes", c.value_size}});
    ctx.out.raw(arr.dump(2));
    return core::ExitCode::ok;
  }
  if (found.empty()) {
    ctx.out.info("no change to {} in the journal", what);
    return core::ExitCode::ok;
  }
  ctx.out.info("{:<10} {:<24} {:<6} {}", "REVISION", "TIME", "TYPE", "KEY");
  for (const auto& c : found)
    ctx.out.info("{:<10} {:<24} {:<6} {}", c.revision, ms_time(c.time_ms), c.kind == journal::EventKind::put ? "put" : "delete", c.key);
  ctx.out.info("(newest first; restore to the revision just before a change with --set to=REVISION-1)");
  if (!f.namespace_name.empty()) {
    const auto key = core::load_node_key(core::node_key_file(ctx));
    if (const auto d = journal::find_namespace_deletion(store, f.namespace_name, key ? &*key : nullptr))
      ctx.out.info("{}: kdr restore restore-etcd-keys --set namespace={} (to=auto) reads its keys at revision {}, "
                   "just before",
                   d->text("namespace " + f.namespace_name), f.namespace_name, d->started - 1);
  }
  return core::ExitCode::ok;
}

}  // namespace

Command journal_command() {
  auto f = std::make_shared<JournalFlags>();
  Command c;
  c.name = "journal";
  c.help = "the etcd change journal: follow etcd (run), and read it back (status, verify, find)";
  c.add_options = [f](CLI::App& sub) {
    sub.require_subcommand(1);
    sub.add_subcommand("run", "follow the node's etcd and append every change to <backup_dir>/journal (runs until stopped)")
        ->callback([f] { f->action = "run"; });
    sub.add_subcommand("start", "start `kdr journal run` in the background unless it runs (for cron)")
        ->callback([f] { f->action = "start"; });
    sub.add_subcommand("status", "position, lag, last fsync, epochs, segments and gaps")->callback([f] { f->action = "status"; });
    sub.add_subcommand("verify", "read every segment: checksums, continuous revisions, digests")->callback([f] { f->action = "verify"; });
    sub.add_subcommand("compact", "a new full snapshot at the newest journaled revision, made off the node and checked")
        ->callback([f] { f->action = "compact"; });
    auto* find = sub.add_subcommand(
        "find", "the revisions and times at which keys under a prefix, or of a namespace, were put or deleted");
    find->add_option("prefix", f->prefix, "a key, or the start of keys (e.g. /registry/configmaps/payments/)");
    find->add_option("--namespace", f->namespace_name,
                     "every key of this namespace: its own object and its objects of every resource; says when "
                     "its deletion began");
    find->add_option("--limit", f->limit, "at most this many changes (0: all)")->capture_default_str();
    find->callback([f] { f->action = "find"; });
  };
  c.run = [f](const core::Context& ctx) {
    // The same member and client certificate as the snapshot.
    if (f->action == "run") return journal::run_follower(ctx, etcd::node_etcd_endpoint(ctx));
    if (f->action == "start") return journal::start_follower(ctx, journal::follower_argv(ctx));
    if (f->action == "status") return show_status(ctx);
    if (f->action == "verify") return run_verify(ctx);
    if (f->action == "compact") return run_compact(ctx);
    return run_find(ctx, *f);
  };
  return c;
}

}  // namespace kdr::cli
