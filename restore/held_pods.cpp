#include "restore/held_pods.hpp"

#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/static_pods.hpp"
#include "core/wait.hpp"
#include "restore/journal.hpp"
#include "restore/pods.hpp"
#include "restore/restore.hpp"

namespace kdr::restore {

namespace {

std::string held_node_dir(const core::Context& ctx) { return ctx.config.state_dir + "/held-pods"; }

bool is_dir(const core::bfs::path& p) {
  const auto st = core::lstat_path(p);
  return st && st->type == core::FileType::directory;
}

void add_scan(const core::Context& ctx, const std::string& node_dir, PodPlace place, const std::string& restore_id,
              std::vector<PodEntry>& out) {
  if (!is_dir(ctx.root.host(node_dir))) return;
  for (const auto& pod : core::scan_static_pods(ctx.root, node_dir).pods) {
    PodEntry e;
    e.name = pod.containers.empty() ? pod.name : pod.containers.front().name;
    e.file = ctx.root.host(pod.file).string();
    e.place = place;
    e.restore_id = restore_id;
    e.processes = pod_running(ctx, pod).running;
    out.push_back(e);
  }
}

std::string names_of(const std::vector<PodEntry>& pods) {
  std::string out;
  for (const auto& p : pods) out += (out.empty() ? "" : ", ") + p.name;
  return out.empty() ? std::string("none") : out;
}

const PodEntry* find_entry(const std::vector<PodEntry>& pods, const std::string& name, PodPlace place) {
  for (const auto& p : pods)
    if (p.name == name && p.place == place) return &p;
  return nullptr;
}

}  // namespace

std::string_view to_string(PodPlace place) {
  switch (place) {
    case PodPlace::running: return "in the static pod folder";
    case PodPlace::held: return "held by kdr pods stop";
    case PodPlace::held_restore: return "held by a restore";
  }
  return "?";
}

std::vector<PodEntry> list_pods(const core::Context& ctx) {
  std::vector<PodEntry> out;
  add_scan(ctx, ctx.config.static_pod_path, PodPlace::running, "", out);
  add_scan(ctx, held_node_dir(ctx), PodPlace::held, "", out);
  for (const auto& rec : list_restore_records(restores_dir(ctx)))
    if (rec.summary.state != RestoreState::done && rec.summary.state != RestoreState::rolled_back)
      add_scan(ctx, ctx.config.state_dir + "/restores/" + rec.id + "/manifests", PodPlace::held_restore, rec.id, out);
  return out;
}

std::vector<PodChange> stop_pods(const core::Context& ctx, const std::vector<std::string>& names) {
  RestoreLock lock(restores_dir(ctx));
  const auto pods = list_pods(ctx);
  const auto held = ctx.root.host(held_node_dir(ctx));
  std::vector<PodChange> out;
  for (const auto& name : names) {
    PodChange c{name, false, ""};
    if (const auto* live = find_entry(pods, name, PodPlace::running)) {
      core::make_dirs(held, 0700);
      const auto target = held / core::bfs::path(live->file).filename();
      if (core::lstat_path(target))
        throw core::Error(fmt::format("{}: {} already holds a manifest of that name; kdr never overwrites: look at "
                                      "both and keep one",
                                      name, target.string()));
      core::move_file(live->file, target);
      c.changed = true;
      c.what = fmt::format("{}: moved {} to {} (the kubelet stops it)", name, live->file, target.string());
    } else if (find_entry(pods, name, PodPlace::held)) {
      c.what = fmt::format("{}: already held in {}", name, held.string());
    } else if (const auto* r = find_entry(pods, name, PodPlace::held_restore)) {
      c.what = fmt::format("{}: held by restore {} (kdr restores)", name, r->restore_id);
    } else {
      throw core::Error(fmt::format("no static pod named {} on this node (pods: {})", name, names_of(pods)));
    }
    out.push_back(c);
  }
  return out;
}

std::vector<PodChange> start_pods(const core::Context& ctx, const std::vector<std::string>& names) {
  RestoreLock lock(restores_dir(ctx));
  const auto pods = list_pods(ctx);
  const auto folder = ctx.root.host(ctx.config.static_pod_path);
  std::vector<PodChange> out;
  for (const auto& name : names) {
    PodChange c{name, false, ""};
    if (const auto* held = find_entry(pods, name, PodPlace::held)) {
      const auto target = folder / core::bfs::path(held->file).filename();
      if (core::lstat_path(target)) {
        if (!core::same_content(held->file, target))
          throw core::Error(fmt::format("{}: {} exists and differs from the held {}; kdr never overwrites: look at "
                                        "both, keep one",
                                        name, target.string(), held->file));
        ::unlink(held->file.c_str());  // a cross-device move that stopped before its unlink
      } else {
        core::move_file(held->file, target);
      }
      c.changed = true;
      c.what = fmt::format("{}: moved {} back to {} (the kubelet starts it)", name, held->file, target.string());
    } else if (find_entry(pods, name, PodPlace::running)) {
      c.what = fmt::format("{}: its manifest is in {} already", name, folder.string());
    } else if (const auto* r = find_entry(pods, name, PodPlace::held_restore)) {
      throw core::Error(fmt::format("{} is held by restore {}: resume or roll back that restore (kdr restores)", name,
                                    r->restore_id));
    } else {
      throw core::Error(fmt::format("no static pod named {} on this node (pods: {})", name, names_of(pods)));
    }
    out.push_back(c);
  }
  return out;
}

std::string wait_pods(const core::Context& ctx, const std::vector<std::string>& names, bool stopped,
                      double timeout_s) {
  core::WaitSpec spec;
  spec.timeout_s = timeout_s;
  spec.every = std::chrono::milliseconds(200);
  const auto outcome = core::wait_until(
      spec,
      [&]() -> std::optional<std::string> {
        const auto pods = list_pods(ctx);
        std::string pending;
        for (const auto& name : names) {
          const bool up = std::any_of(pods.begin(), pods.end(),
                                      [&](const PodEntry& p) { return p.name == name && p.processes; });
          if (up == stopped) pending += (pending.empty() ? "" : ", ") + name;
        }
        if (pending.empty()) return std::nullopt;
        return pending + (stopped ? " still running" : " not running yet");
      },
      [&](double s, const std::string& still) { ctx.out.info("  {:.0f} s: {}", s, still); });
  return outcome.done ? std::string() : outcome.still;
}

}  // namespace kdr::restore
