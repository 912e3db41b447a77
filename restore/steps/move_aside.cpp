// Step type `move-aside`: renames a path to <path>.kdr-<restore id>, kept until the operator
// discards it (kdr restore --discard). Undone by renaming it back.
#include <fmt/format.h>

#include "core/error.hpp"
#include "restore/preflight.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

namespace {

struct PathArgs : StepArgs {
  std::string path;  // node path
};

// A mount point cannot be renamed: its device differs from its parent's.
bool is_mount_point(const core::bfs::path& p) {
  auto st = core::lstat_path(p);
  auto parent = core::lstat_path(p.parent_path());
  return st && parent && st->dev != parent->dev;
}

class MoveAside final : public TypedStep<PathArgs> {
 public:
  StepType type() const override { return StepType::move_aside; }
  std::vector<std::string> replaced_paths(const PlannedStep& s) const override { return {s.values.value("path", "")}; }
  std::string_view name() const override { return "move-aside"; }
  bool changes_node() const override { return true; }
  std::vector<StepKey> keys() const override { return {{"path", true}}; }

 protected:
  PathArgs read_args(const StepValues& v) const override {
    PathArgs a;
    a.path = v.node_path("path");
    return a;
  }
  std::string title_of(const PathArgs& a) const override { return "move-aside " + a.path; }
  bool replaces_etcd(const PathArgs& a, const Plan& plan) const override { return plan.holds_etcd_data(a.path); }

  std::vector<std::string> plan_text(const Runner& r, const PathArgs& a) const override {
    return {fmt::format("rename {} -> {}  (kept; never deleted by kdr)", r.host(a.path).string(), r.aside_path(a.path))};
  }

  void preflight(Runner& r, const PathArgs& a, Preflight& pf) const override {
    if (is_mount_point(r.host(a.path)))
      pf.fails.push_back(fmt::format("{} is a mount point: kdr cannot rename it aside. Unmount it (or restore into a "
                                     "folder below it) first",
                                     a.path));
  }

  void perform(Runner& r, const PathArgs& a) const override {
    const auto live = r.host(a.path);
    Action act;
    act.from = live.string();
    act.to = r.aside_path(a.path);
    const bool live_exists = core::lstat_path(live).has_value();
    const bool aside_exists = core::lstat_path(act.to).has_value();
    if (!live_exists && !aside_exists) {
      r.ctx.out.info("      nothing at {} (nothing to move aside)", a.path);
      return;
    }
    if (live_exists && aside_exists)
      throw core::Error(fmt::format("{} was moved aside to {} already, and {} exists again: something recreated it "
                                    "(the kubelet does for a running pod's hostPath). Stop the pods, look at both, "
                                    "remove the new one, then resume",
                                    a.path, act.to, a.path));
    if (live_exists && is_mount_point(live))
      throw core::Error(fmt::format("{} is a mount point: kdr cannot rename it aside", a.path));
    r.move(act);
    r.ctx.out.info("      {} -> {} (kept)", a.path, act.to);
  }
};

}  // namespace

const StepDef& move_aside_step_def() {
  static const MoveAside def;
  return def;
}

}  // namespace kdr::restore
