#include "offsite/offsite.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/json_util.hpp"
#include "verify/findings.hpp"
#include "verify/integrity.hpp"

namespace kdr::offsite {

namespace {

constexpr auto restic_timeout = std::chrono::hours(6);
const std::string tag_node = "kdr-node=", tag_generation = "kdr-generation=", tag_status = "kdr-status=",
                  tag_bytes = "kdr-bytes=", tag_full = "kdr-full";

std::string after(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0 ? text.substr(prefix.size()) : std::string();
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
  if (!s.is_object() || !s.contains("tags") || !s["tags"].is_array()) return std::nullopt;
  OffsiteGeneration g;
  bool kdr = false;
  for (const auto& t : s["tags"]) {
    if (!t.is_string()) continue;
    const auto tag = t.get<std::string>();
    if (tag == "kdr") kdr = true;
    if (tag == tag_full) g.full = true;
    if (auto v = after(tag, tag_node); !v.empty()) g.node = v;
    if (auto v = after(tag, tag_generation); !v.empty()) g.generation = v;
    if (auto v = after(tag, tag_status); !v.empty()) g.status = v;
    if (auto v = after(tag, tag_bytes); !v.empty()) {
      try {
        g.bytes = std::stoull(v);
      } catch (const std::exception&) {
      }
    }
  }
  if (!kdr || g.generation.empty()) return std::nullopt;
  if (s.contains("short_id") && s["short_id"].is_string()) g.snapshot_id = s["short_id"].get<std::string>();
  if (s.contains("time") && s["time"].is_string()) g.time = s["time"].get<std::string>();
  if (s.contains("paths") && s["paths"].is_array() && !s["paths"].empty() && s["paths"][0].is_string())
    g.path = s["paths"][0].get<std::string>();
  return g;
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

std::vector<OffsiteGeneration> list_offsite(const Restic& restic, const std::string& node) {
  std::vector<std::string> args = {"snapshots", "--json", "--tag", "kdr"};
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
  std::vector<OffsiteGeneration> out;
  if (j.is_array())
    for (const auto& s : j)
      if (auto g = from_restic_snapshot(s)) out.push_back(*g);
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.generation < b.generation; });
  return out;
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

void init_repository(const core::Context& ctx, const Restic& restic) {
  try {
    restic.run({"cat", "config"}, std::chrono::minutes(5));
    ctx.out.info("{}: a restic repository is there already", restic.repository());
  } catch (const OffsiteError& e) {
    if (e.problem() != ResticProblem::no_repository) throw;
    restic.run({"init"}, std::chrono::minutes(10));
    ctx.out.info("{}: restic repository created", restic.repository());
  }
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

PushResult push(const core::Context& ctx, const Restic& restic, const std::string& only) {
  const auto repo = core::Repository::open(ctx.backup_dir);
  const auto lock = repo.lock(core::LockMode::shared);  // no prune removes a generation while it goes up
  const auto node = node_name(ctx);
  const auto offsite = list_offsite(restic, node);
  PushResult result;
  const auto wanted = to_push(repo, offsite, node, only);
  if (wanted.empty()) ctx.out.info("off site already: every generation to send is there ({})", restic.repository());
  for (const auto& e : wanted) {
    if (!e.meta) throw core::Error(fmt::format("generation {} cannot be sent: {}", e.id, e.problem));
    std::vector<std::string> args = {"backup", "--json", "--host", node};
    for (const auto& t : tags_of(*e.meta, node)) {
      args.push_back("--tag");
      args.push_back(t);
    }
    args.push_back(e.path.string());
    const auto res = restic.run(args, restic_timeout);
    PushResult one;
    add_summary(res.out, one);
    result.bytes_added += one.bytes_added;
    result.bytes_processed += one.bytes_processed;
    result.pushed.push_back(e.id);
    ctx.out.info("pushed {} ({:.1f} MiB, {:.1f} MiB new off site) to {}", e.id, static_cast<double>(one.bytes_processed) / 1048576.0,
                 static_cast<double>(one.bytes_added) / 1048576.0, restic.repository());
  }
  return result;
}

std::string pull(const core::Context& ctx, const Restic& restic, const std::string& which, const std::string& node,
                 const core::bfs::path& backup_dir) {
  const auto offsite = list_offsite(restic, node);
  if (offsite.empty())
    throw core::Error(fmt::format("no generation of node {} off site in {}", node, restic.repository()),
                      core::ExitCode::no_backup);
  const OffsiteGeneration* chosen = nullptr;
  if (which == "latest") {
    chosen = &offsite.back();
  } else {
    for (const auto& g : offsite)
      if (g.generation == which || g.snapshot_id == which) chosen = &g;
  }
  if (!chosen)
    throw core::Error(fmt::format("no generation {} of node {} off site (kdr offsite list)", which, node),
                      core::ExitCode::no_backup);
  const auto repo = core::Repository::open_or_create(backup_dir);
  const auto lock = repo.lock(core::LockMode::exclusive);
  const auto id = chosen->generation;
  if (core::lstat_path(repo.generation_path(id)))
    throw core::Error(fmt::format("generation {} is in {} already", id, backup_dir.string()));
  const auto staging = repo.staging_path(id);
  const auto restore_dir = staging.parent_path() / (staging.filename().string() + ".restic");
  core::remove_tree(restore_dir);
  core::remove_tree(staging);
  core::make_dirs(restore_dir, 0700);
  // restic puts the generation's folder back under the target at its absolute path.
  restic.run({"restore", chosen->snapshot_id, "--target", restore_dir.string(), "--include", chosen->path},
             restic_timeout);
  const auto restored = restore_dir / core::bfs::path(chosen->path).relative_path();
  if (!core::lstat_path(restored))
    throw core::Error(fmt::format("restic restore of {} left no {} under {}", chosen->snapshot_id, chosen->path,
                                  restore_dir.string()));
  if (::rename(restored.c_str(), staging.c_str()) != 0) core::throw_errno("rename", restored.string(), errno);
  core::remove_tree(restore_dir);

  // An ordinary generation: its own checks pass before it is published.
  const auto meta = core::GenerationMeta::parse(core::read_file(staging / "meta.json"), (staging / "meta.json").string());
  verify::Findings findings;
  const auto view = verify::load_generation(id, staging, meta, findings);
  verify::check_integrity(view, verify::etcd_data_dir_of(view, ctx.config), findings);
  const auto errors = findings.count(verify::Severity::error);
  if (errors > 0) {
    std::string lines;
    for (const auto& f : findings.all())
      if (f.severity == verify::Severity::error) lines += fmt::format("\n  {}: {}", f.path, f.detail);
    throw core::Error(fmt::format("generation {} from {} fails its own checks ({} problem(s)); it was not published "
                                  "and stays in {}:{}",
                                  id, restic.repository(), errors, staging.string(), lines));
  }
  repo.publish_pulled(id);
  return id;
}

}  // namespace kdr::offsite
