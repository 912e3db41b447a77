#include "offsite/offsite.hpp"

#include <algorithm>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "core/context.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/generation_auth.hpp"
#include "core/json_util.hpp"
#include "core/node_key.hpp"
#include "core/sha256.hpp"
#include "journal/follower.hpp"
#include "journal/store.hpp"
#include "verify/findings.hpp"
#include "verify/integrity.hpp"

namespace kdr::offsite {

namespace {

constexpr auto restic_timeout = std::chrono::hours(6);
const std::string tag_node = "kdr-node=", tag_generation = "kdr-generation=", tag_status = "kdr-status=",
                  tag_bytes = "kdr-bytes=", tag_full = "kdr-full", tag_journal = "kdr-journal",
                  tag_position = "kdr-journal-position=";

std::string after(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0 ? text.substr(prefix.size()) : std::string();
}

std::uint64_t number_or_zero(const std::string& text) {
  try {
    return text.empty() ? 0 : std::stoull(text);
  } catch (const std::exception&) {
    return 0;
  }
}

std::vector<std::string> tags_in(const nlohmann::json& s) {
  std::vector<std::string> out;
  if (s.is_object() && s.contains("tags") && s["tags"].is_array())
    for (const auto& t : s["tags"])
      if (t.is_string()) out.push_back(t.get<std::string>());
  return out;
}

// The snapshot's short id, time and first path.
template <typename T>
void read_snapshot_facts(const nlohmann::json& s, T& into) {
  into.snapshot_id = core::json_text_or(s, "short_id");
  into.time = core::json_text_or(s, "time");
  if (s.contains("paths") && s["paths"].is_array() && !s["paths"].empty() && s["paths"][0].is_string())
    into.path = s["paths"][0].get<std::string>();
  // The folder restic restores: an absolute path without "." or ".." (it is joined to a folder
  // of the backup disk on a pull).
  const core::bfs::path path(into.path);
  bool plain = path.is_absolute() && into.path.find('\0') == std::string::npos;
  for (const auto& part : path.relative_path())
    if (part == "." || part == ".." || part.empty()) plain = false;
  if (!plain)
    throw core::Error(fmt::format("restic snapshot {}: its path '{}' is not one kdr backs up", into.snapshot_id,
                                  into.path));
}

}  // namespace

nlohmann::json OffsiteGeneration::to_json() const {
  return {{"snapshot", snapshot_id}, {"node", node},   {"generation", generation}, {"status", status},
          {"full_etcd_snapshot", full}, {"bytes", bytes}, {"time", time},         {"path", path}};
}

std::vector<std::string> tags_of(const core::GenerationMeta& meta, const std::string& node) {
  std::vector<std::string> tags = {"kdr", tag_node + node, tag_generation + meta.id,
                                   tag_status + std::string(core::to_string(meta.status)),
                                   tag_bytes + std::to_string(meta.bytes_total)};
  if (meta.etcd.snapshot) tags.push_back(tag_full);
  return tags;
}

std::optional<OffsiteGeneration> from_restic_snapshot(const nlohmann::json& s) {
  OffsiteGeneration g;
  bool kdr = false;
  for (const auto& tag : tags_in(s)) {
    if (tag == "kdr") kdr = true;
    if (tag == tag_full) g.full = true;
    if (auto v = after(tag, tag_node); !v.empty()) g.node = v;
    if (auto v = after(tag, tag_generation); !v.empty()) g.generation = v;
    if (auto v = after(tag, tag_status); !v.empty()) g.status = v;
    if (auto v = after(tag, tag_bytes); !v.empty()) g.bytes = number_or_zero(v);
  }
  if (!kdr || g.generation.empty()) return std::nullopt;
  if (!core::is_generation_id(g.generation))
    throw core::Error(fmt::format("restic snapshot {}: its tag {}{} is not a generation id kdr makes",
                                  core::json_text_or(s, "short_id"), tag_generation, g.generation));
  read_snapshot_facts(s, g);
  return g;
}

std::optional<OffsiteJournal> journal_from_restic_snapshot(const nlohmann::json& s) {
  OffsiteJournal j;
  bool journal = false;
  for (const auto& tag : tags_in(s)) {
    if (tag == tag_journal) journal = true;
    if (auto v = after(tag, tag_node); !v.empty()) j.node = v;
    if (auto v = after(tag, tag_position); !v.empty()) j.position = static_cast<std::int64_t>(number_or_zero(v));
  }
  if (!journal || j.node.empty()) return std::nullopt;
  read_snapshot_facts(s, j);
  return j;
}

nlohmann::json OffsiteJournal::to_json() const {
  return {{"snapshot", snapshot_id}, {"node", node}, {"position", position}, {"time", time}, {"path", path}};
}

std::string node_name(const core::Context& ctx) {
  try {
    const auto repo = core::Repository::open(ctx.backup_dir);
    if (const auto latest = repo.latest_id()) {
      const auto entry = repo.find(*latest);
      if (entry.meta && !entry.meta->hostname.empty()) return entry.meta->hostname;
    }
  } catch (const core::Error&) {
  }
  return ctx.host->hostname();
}

OffsiteListing list_all(const Restic& restic, const std::string& node) {
  std::vector<std::string> args = {"snapshots", "--json", "--tag", "kdr", "--tag", tag_journal};
  if (!node.empty()) {
    args.push_back("--host");
    args.push_back(node);
  }
  const auto res = restic.run(args, std::chrono::minutes(10));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(res.out);
  } catch (const nlohmann::json::exception& e) {
    throw core::Error(fmt::format("restic snapshots --json printed no JSON list: {}", e.what()));
  }
  OffsiteListing out;
  if (j.is_array())
    for (const auto& s : j) {
      try {
        if (auto g = from_restic_snapshot(s)) out.generations.push_back(*g);
        else if (auto jr = journal_from_restic_snapshot(s)) out.journals.push_back(*jr);
      } catch (const core::Error& e) {
        out.refused.push_back(fmt::format("{}: left out", e.what()));
      }
    }
  std::stable_sort(out.generations.begin(), out.generations.end(),
                   [](const auto& a, const auto& b) { return a.generation < b.generation; });
  std::stable_sort(out.journals.begin(), out.journals.end(), [](const auto& a, const auto& b) {
    return std::tie(a.position, a.time) < std::tie(b.position, b.time);
  });
  return out;
}

std::vector<OffsiteGeneration> list_offsite(const Restic& restic, const std::string& node) {
  return list_all(restic, node).generations;
}

std::vector<core::GenerationEntry> to_push(const core::Repository& repo, const std::vector<OffsiteGeneration>& offsite,
                                           const std::string& node, const std::string& only) {
  auto local = repo.generations();
  std::vector<core::GenerationEntry> out;
  if (!only.empty()) {
    out.push_back(repo.find(only));
    return out;
  }
  std::string newest_offsite;
  for (const auto& g : offsite)
    if (g.node == node) newest_offsite = std::max(newest_offsite, g.generation);
  for (std::size_t i = 0; i < local.size(); ++i) {
    const auto& e = local[i];
    if (!e.meta || e.id <= newest_offsite) continue;
    const bool newest = i + 1 == local.size();
    if (newest || e.meta->etcd.snapshot) out.push_back(e);
  }
  return out;
}

bool init_repository(const core::Context& ctx, const Restic& restic) {
  try {
    restic.run({"cat", "config"}, std::chrono::minutes(5));
    ctx.out.info("{}: a restic repository is there already", restic.repository());
    return false;
  } catch (const OffsiteError& e) {
    if (e.problem() != ResticProblem::no_repository) throw;
  }
  restic.run({"init"}, std::chrono::minutes(10));
  ctx.out.info("{}: restic repository created", restic.repository());
  return true;
}

namespace {

// restic backup --json: the summary line's figures.
void add_summary(const std::string& out, PushResult& result) {
  std::size_t at = 0;
  while (at < out.size()) {
    auto nl = out.find('\n', at);
    if (nl == std::string::npos) nl = out.size();
    try {
      const auto j = nlohmann::json::parse(out.substr(at, nl - at));
      if (core::json_text_or(j, "message_type") == "summary") {
        result.bytes_added += j.value("data_added", std::uint64_t{0});
        result.bytes_processed += j.value("total_bytes_processed", std::uint64_t{0});
      }
    } catch (const nlohmann::json::exception&) {
    }
    at = nl + 1;
  }
}

}  // namespace

namespace {

// `restic backup` of one folder with these tags, as host `node`; adds its figures to `result`.
void backup_folder(const Restic& restic, const core::bfs::path& folder, const std::string& node,
                   const std::vector<std::string>& tags, PushResult& result, PushResult& one) {
  std::vector<std::string> args = {"backup", "--json", "--host", node};
  for (const auto& t : tags) {
    args.push_back("--tag");
    args.push_back(t);
  }
  args.push_back(folder.string());
  const auto res = restic.run(args, restic_timeout);
  add_summary(res.out, one);
  result.bytes_added += one.bytes_added;
  result.bytes_processed += one.bytes_processed;
}

double mib(std::uint64_t bytes) { return static_cast<double>(bytes) / 1048576.0; }

// Where the journal in `backup_dir` is complete up to (its follower's last word), 0 when unknown.
std::int64_t journal_position(const journal::JournalStore& store) {
  try {
    const auto text = core::read_file(store.state_file());
    return journal::FollowerState::from_json(nlohmann::json::parse(text)).position;
  } catch (const std::exception&) {
    return 0;
  }
}

// The journal goes up when it grew since the newest journal snapshot of this node.
void push_journal(const core::Context& ctx, const Restic& restic, const std::string& node,
                  const std::vector<OffsiteJournal>& offsite, PushResult& result) {
  const journal::JournalStore store(ctx.backup_dir);
  if (!store.exists()) return;
  const auto position = journal_position(store);
  if (!offsite.empty() && position > 0 && offsite.back().position == position) return;
  PushResult one;
  backup_folder(restic, store.dir(), node, {tag_journal, tag_node + node, tag_position + std::to_string(position)},
                result, one);
  result.journal_position = position;
  ctx.out.info("pushed the change journal up to revision {} ({:.1f} MiB, {:.1f} MiB new off site)", position,
               mib(one.bytes_processed), mib(one.bytes_added));
}

}  // namespace

PushResult push(const core::Context& ctx, const Restic& restic, const std::string& only,
                const std::optional<OffsiteTip>& known) {
  const auto repo = core::Repository::open(ctx.backup_dir);
  const auto lock = repo.lock(core::LockMode::shared);  // no prune removes a generation while it goes up
  const auto node = node_name(ctx);
  PushResult result;
  OffsiteListing offsite;
  if (known) {
    if (!known->newest_generation.empty()) {
      OffsiteGeneration tip;
      tip.node = node;
      tip.generation = known->newest_generation;
      offsite.generations.push_back(tip);
    }
    if (known->journal_position > 0) {
      OffsiteJournal tip;
      tip.node = node;
      tip.position = known->journal_position;
      offsite.journals.push_back(tip);
    }
  } else {
    offsite = list_all(restic, node);
    result.listed = true;
  }
  auto wanted = to_push(repo, offsite.generations, node, only);
  if (!result.listed && wanted.empty()) {
    // Nothing to send by what the last push left: the repository is asked, so that a push
    // that succeeds has always reached it.
    offsite = list_all(restic, node);
    result.listed = true;
    wanted = to_push(repo, offsite.generations, node, only);
  }
  if (!offsite.generations.empty()) result.tip.newest_generation = offsite.generations.back().generation;
  if (!offsite.journals.empty()) result.tip.journal_position = offsite.journals.back().position;
  if (wanted.empty()) ctx.out.info("off site already: every generation to send is there ({})", restic.repository());
  for (const auto& e : wanted) {
    if (!e.meta) throw core::Error(fmt::format("generation {} cannot be sent: {}", e.id, e.problem));
    PushResult one;
    backup_folder(restic, e.path, node, tags_of(*e.meta, node), result, one);
    result.pushed.push_back(e.id);
    result.tip.newest_generation = std::max(result.tip.newest_generation, e.id);
    ctx.out.info("pushed {} ({:.1f} MiB, {:.1f} MiB new off site) to {}", e.id, mib(one.bytes_processed),
                 mib(one.bytes_added), restic.repository());
  }
  if (only.empty()) push_journal(ctx, restic, node, offsite.journals, result);
  if (result.journal_position) result.tip.journal_position = *result.journal_position;
  return result;
}

namespace {

// restic restores `path` of `snapshot` under a fresh folder beside `dest`, at its absolute
// path; it is then renamed to `dest` (which must not exist).
void restore_folder(const Restic& restic, const std::string& snapshot, const std::string& path,
                    const core::bfs::path& dest) {
  const auto restore_dir = dest.parent_path() / ("." + dest.filename().string() + ".restic");
  core::remove_tree(restore_dir);
  core::make_dirs(restore_dir, 0700);
  restic.run({"restore", snapshot, "--target", restore_dir.string(), "--include", path}, restic_timeout);
  const auto restored = restore_dir / core::bfs::path(path).relative_path();
  const auto st = core::lstat_path(restored);
  if (!st || st->type != core::FileType::directory) {
    core::remove_tree(restore_dir);
    throw core::Error(fmt::format("restic restore of {} left no folder {} under {}; removed what it wrote", snapshot,
                                  path, restore_dir.string()));
  }
  // Every parent up to restore_dir a real folder: a symlink on the way would move a folder from
  // elsewhere into the backup disk.
  for (auto p = restored.parent_path(); p != restore_dir && p.has_relative_path(); p = p.parent_path()) {
    const auto parent = core::lstat_path(p);
    if (!parent || parent->type != core::FileType::directory) {
      core::remove_tree(restore_dir);
      throw core::Error(fmt::format("restic restore of {}: {} is not a folder; removed what it wrote", snapshot,
                                    p.string()));
    }
  }
  if (::rename(restored.c_str(), dest.c_str()) != 0) core::throw_errno("rename", restored.string(), errno);
  core::remove_tree(restore_dir);
}

// A pulled generation refused for what it holds (not for the repository's failures): forged,
// damaged, or not the generation it claims to be.
struct Refused : core::Error {
  using core::Error::Error;
};

// Is the pulled generation this node's (or the given key's)? See PullTrust.
void check_pulled_authentic(const core::Context& ctx, const Restic& restic, const core::GenerationView& view,
                            const core::NodeKey* key, const PullTrust& trust) {
  const auto auth = core::authenticate_generation(view.dir, view.id, view.meta_sha256, view.manifest_sha256, key);
  if (auth.authentic()) return;
  if (auth.status == core::AuthStatus::no_key) {
    ctx.out.warn("generation {} from {} {}: a restore asks for the node's saved key (--set key_file=PATH) or "
                 "--set unauthenticated=true",
                 view.id, restic.repository(), auth.text);
    return;
  }
  if (!auth.refused() && trust.unauthenticated) {
    ctx.out.warn("accepted (--unauthenticated): generation {} from {} {}", view.id, restic.repository(), auth.text);
    return;
  }
  throw Refused(fmt::format("generation {} from {} {}: not pulled (a node pulls only what its own key vouches "
                                 "for{})",
                                 view.id, restic.repository(), auth.text,
                                 auth.refused() ? "" : "; --key-file PATH gives the key that made it, --unauthenticated "
                                                       "takes it as it is"));
}

// A pulled generation in its staging folder is an ordinary generation of that id: its own
// checks pass before it is published, and its authentication. Throws Error saying what failed.
void check_pulled(const core::Context& ctx, const Restic& restic, const std::string& id,
                  const core::bfs::path& staging, const core::NodeKey* key, const PullTrust& trust) {
  const auto meta_text = core::read_backup_file(staging / "meta.json");
  const auto meta = core::GenerationMeta::parse(meta_text, (staging / "meta.json").string());
  if (meta.id != id)
    throw Refused(fmt::format("generation {} from {} says it is generation {} (meta.json): refused", id,
                                  restic.repository(), meta.id));
  verify::Findings findings;
  const auto view = verify::load_generation(id, staging, meta, core::sha256_hex(meta_text), findings);
  check_pulled_authentic(ctx, restic, view, key, trust);
  verify::check_integrity(view, core::etcd_data_dir_of(view, ctx.config), findings);
  const auto errors = findings.count(verify::Severity::error);
  if (errors > 0) {
    std::string lines;
    for (const auto& f : findings.all())
      if (f.severity == verify::Severity::error) lines += fmt::format("\n  {}: {}", f.path, f.detail);
    throw Refused(fmt::format("generation {} from {} fails its own checks ({} problem(s)); it was not published:{}",
                                  id, restic.repository(), errors, lines));
  }
}

// One generation into the staging area, checked, then published; removed when it fails.
void pull_generation(const core::Context& ctx, const Restic& restic, const core::Repository& repo,
                     const OffsiteGeneration& g, const core::NodeKey* key, const PullTrust& trust) {
  const auto& id = g.generation;
  if (!core::is_generation_id(id))  // list_all left such snapshots out; never a folder name
    throw core::Error(fmt::format("'{}' is not a generation id kdr makes", id));
  const auto staging = repo.staging_path(id);
  core::remove_tree(staging);
  restore_folder(restic, g.snapshot_id, g.path, staging);
  try {
    check_pulled(ctx, restic, id, staging, key, trust);
  } catch (const Refused& e) {
    core::remove_tree(staging);
    throw Refused(fmt::format("{}\nWhat the pull wrote ({}) was removed.", e.what(), staging.string()));
  } catch (const core::Error& e) {
    core::remove_tree(staging);
    throw core::Error(fmt::format("{}\nWhat the pull wrote ({}) was removed.", e.what(), staging.string()));
  }
  repo.publish_pulled(id);
}

}  // namespace

PullResult pull(const core::Context& ctx, const Restic& restic, const std::string& which, const std::string& node,
                const core::bfs::path& backup_dir, const PullTrust& trust) {
  const auto offsite = list_all(restic, node);
  for (const auto& why : offsite.refused) ctx.out.warn("{}", why);
  const auto& gens = offsite.generations;
  if (gens.empty())
    throw core::Error(fmt::format("no generation of node {} off site in {}", node, restic.repository()),
                      core::ExitCode::no_backup);
  // latest: newest first, passing over what its authentication refuses; an id: that one only
  std::vector<const OffsiteGeneration*> candidates;
  if (which == "latest") {
    for (auto it = gens.rbegin(); it != gens.rend(); ++it) candidates.push_back(&*it);
  } else {
    for (const auto& g : gens)
      if (g.generation == which || g.snapshot_id == which) candidates = {&g};
  }
  if (candidates.empty())
    throw core::Error(fmt::format("no generation {} of node {} off site (kdr offsite list)", which, node),
                      core::ExitCode::no_backup);
  const auto key_file = trust.key_file.empty() ? core::node_key_file(ctx) : trust.key_file;
  const auto key = core::load_node_key(key_file);
  if (!trust.key_file.empty() && !key) throw core::UsageError(fmt::format("--key-file {}: no such file", key_file.string()));
  const auto repo = core::Repository::open_or_create(backup_dir);
  const auto lock = repo.lock(core::LockMode::exclusive);

  PullResult result;
  constexpr std::size_t max_passed_over = 3;  // each costs a download
  for (const auto* chosen : candidates) {
    if (core::lstat_path(repo.generation_path(chosen->generation)))
      throw core::Error(fmt::format("generation {} is in {} already", chosen->generation, backup_dir.string()));
    try {
      // Without a full etcd snapshot, etcd comes back from the newest full one before it.
      if (!chosen->full) {
        const OffsiteGeneration* base = nullptr;
        for (const auto& g : gens)
          if (g.full && g.generation < chosen->generation) base = &g;
        if (base && !core::lstat_path(repo.generation_path(base->generation))) {
          pull_generation(ctx, restic, repo, *base, key ? &*key : nullptr, trust);
          result.generations.push_back(base->generation);
        }
      }
      pull_generation(ctx, restic, repo, *chosen, key ? &*key : nullptr, trust);
      result.generations.push_back(chosen->generation);
      break;
    } catch (const Refused& e) {
      if (which != "latest" || result.passed_over.size() + 1 >= max_passed_over || !result.generations.empty()) throw;
      ctx.out.warn("{}\nPassed over: the generation before it is tried.", e.what());
      result.passed_over.push_back(chosen->generation);
    }
  }
  if (result.generations.empty())
    throw core::Error(fmt::format("no generation of node {} off site passes its checks", node),
                      core::ExitCode::no_backup);

  if (!offsite.journals.empty()) {
    const journal::JournalStore store(backup_dir);
    if (store.exists()) {
      result.journal_kept = fmt::format("{} has a change journal already; it is left as it is",
                                        backup_dir.string());
    } else {
      const auto& newest = offsite.journals.back();
      restore_folder(restic, newest.snapshot_id, newest.path, store.dir());
      core::fsync_path(backup_dir);
      result.journal_position = newest.position;
    }
  }
  return result;
}

ForgetPlan plan_forget(const nlohmann::json& policy, const std::vector<OffsiteGeneration>& offsite,
                       const std::vector<OffsiteJournal>& journals) {
  ForgetPlan plan;
  std::set<std::string> remove, kept;
  const auto ids = [](const nlohmann::json& group, const char* key, std::set<std::string>& into) {
    if (!group.contains(key) || !group[key].is_array()) return;
    for (const auto& snap : group[key])
      if (auto id = core::json_text_or(snap, "short_id"); !id.empty()) into.insert(id);
  };
  if (policy.is_array())
    for (const auto& group : policy) {
      ids(group, "remove", remove);
      ids(group, "keep", kept);
    }
  // A kept generation without a full etcd snapshot keeps the newest full one before it.
  for (const auto& g : offsite) {
    if (!kept.count(g.snapshot_id) || g.full) continue;
    const OffsiteGeneration* base = nullptr;
    for (const auto& b : offsite)
      if (b.full && b.node == g.node && b.generation < g.generation) base = &b;
    if (base && remove.erase(base->snapshot_id) > 0) {
      kept.insert(base->snapshot_id);
      plan.kept_for.emplace_back(base->generation, g.generation);
    }
  }
  plan.remove.assign(remove.begin(), remove.end());
  // The newest journal snapshot holds the whole history still on disk; the older ones go.
  for (std::size_t i = 0; i + 1 < journals.size(); ++i) plan.remove.push_back(journals[i].snapshot_id);
  return plan;
}

ForgetPlan forget(const core::Context& ctx, const Restic& restic) {
  const auto& o = ctx.config.offsite;
  const auto node = node_name(ctx);
  std::vector<std::string> args = {"forget", "--dry-run", "--no-lock", "--json", "--tag", "kdr",
                                   "--host", node,        "--group-by", "host"};
  const auto base_args = args.size();
  const auto keep = [&](const char* flag, int n) {
    if (n <= 0) return;
    args.push_back(flag);
    args.push_back(std::to_string(n));
  };
  keep("--keep-last", o.keep.keep_last);
  keep("--keep-hourly", o.keep.hourly);
  keep("--keep-daily", o.keep.daily);
  keep("--keep-weekly", o.keep.weekly);
  keep("--keep-monthly", o.keep_monthly);
  if (args.size() == base_args) throw core::UsageError(fmt::format("{}: offsite.keep keeps nothing", ctx.config.origin));
  const auto offsite = list_all(restic, node);
  nlohmann::json policy;
  try {
    policy = nlohmann::json::parse(restic.run(args, std::chrono::minutes(30)).out);
  } catch (const nlohmann::json::exception& e) {
    throw core::Error(fmt::format("restic forget --dry-run --json printed no JSON: {}", e.what()));
  }
  auto plan = plan_forget(policy, offsite.generations, offsite.journals);
  for (const auto& [base, by] : plan.kept_for)
    ctx.out.info("keeping {} off site: {} has no full etcd snapshot and needs it", base, by);
  if (plan.remove.empty()) {
    ctx.out.info("{}: nothing of node {} to forget (offsite.keep)", restic.repository(), node);
    return plan;
  }
  std::vector<std::string> forget_args = {"forget", "--prune"};
  forget_args.insert(forget_args.end(), plan.remove.begin(), plan.remove.end());
  const auto res = restic.run(forget_args, restic_timeout);
  ctx.out.detail("{}", res.out);
  ctx.out.info("{}: {} snapshot(s) of node {} forgotten and pruned (offsite.keep)", restic.repository(),
               plan.remove.size(), node);
  return plan;
}

}  // namespace kdr::offsite
