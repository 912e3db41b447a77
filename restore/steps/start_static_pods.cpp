// Step type `start-static-pods`: puts manifests back into the static pod folder, etcd first:
// the ones kdr took out (from: stopped) or the generation's copies, SHA-256 checked
// (from: generation). Undone by taking them out again (the rollback stops their pods first).
#include <cstdio>

#include <fmt/format.h>

#include "core/error.hpp"
#include "restore/materialize.hpp"
#include "restore/pods.hpp"
#include "restore/preflight.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

using core::bfs::path;

namespace {

struct StartArgs : StepArgs {
  std::vector<std::string> pods;  // empty: all
  bool from_generation = false;   // else the manifests kdr took out
};


class StartStaticPods final : public TypedStep<StartArgs> {
 public:
  StepType type() const override { return StepType::start_static_pods; }
  std::optional<std::string> starts_manifests_from(const nlohmann::json& values) const override {
    return values.value("from", "stopped");
  }
  std::string_view name() const override { return "start-static-pods"; }
  bool changes_node() const override { return true; }
  std::vector<StepKey> keys() const override { return {{"pods", false}, {"from", false}}; }

 protected:
  StartArgs read_args(const StepValues& v) const override {
    StartArgs a;
    a.pods = v.names_or_all("pods");
    a.from_generation = v.choice("from", {"stopped", "generation"}, "stopped") == "generation";
    return a;
  }

  std::vector<std::string> plan_text(const Runner& r, const StartArgs& a) const override {
    return {fmt::format("put the manifests of {} back into {} ({}), etcd first", pods_text(a.pods),
                        r.var(Var::static_pod_path),
                        a.from_generation ? "the generation's copies, SHA-256 checked"
                                          : "the ones kdr took out, from <journal>/manifests/")};
  }

  void reads_from(const Runner& r, const StartArgs& a, verify::HashScope& scope) const override {
    if (a.from_generation) scope.paths.push_back(r.var(Var::static_pod_path));
  }

  void perform(Runner& r, const StartArgs& a) const override {
    const auto& spp = r.var(Var::static_pod_path);
    const auto live_dir = r.host(spp);
    if (!core::present(live_dir)) {
      std::uint32_t mode = 0755;
      if (r.gen.manifest)
        for (const auto& e : r.gen.manifest->entries)
          if (e.path == spp) mode = e.mode;
      core::make_dirs(live_dir, mode);
    }
    if (a.from_generation)
      from_generation(r, a, live_dir);
    else
      from_stopped(r, a, live_dir);
  }

 private:
  static void from_stopped(Runner& r, const StartArgs& a, const path& live_dir) {
    auto pods = r.held_pods().pods;
    etcd_first(pods);
    for (const auto& pod : pods) {
      if (!wanted(a.pods, pod.name)) continue;
      Action act;
      act.from = pod.file;
      act.to = (live_dir / path(pod.file).filename()).string();
      act.manifest = true;
      act.pod = pod.name;
      r.move(act);
      r.ctx.out.info("      {}/{} is back ({} starts)", r.var(Var::static_pod_path), path(pod.file).filename().string(),
                     pod.name);
    }
  }

  // Each manifest is copied from the generation into <journal>/staged/ (checked, with its
  // owner, mode and time), then placed.
  static void from_generation(Runner& r, const StartArgs& a, const path& live_dir) {
    const auto& spp = r.var(Var::static_pod_path);
    auto pods = generation_pods(r.gen, spp).pods;
    etcd_first(pods);
    const auto staged = r.restore_dir() / "staged";
    core::make_dir(staged, 0700);
    const auto index = r.gen.manifest->index();
    for (const auto& pod : pods) {
      if (!wanted(a.pods, pod.name)) continue;
      const auto& e = r.gen.manifest->entries.at(index.at(pod.file));
      const auto live = live_dir / path(pod.file).filename();
      const auto stage = staged / path(pod.file).filename();
      if (core::present(live) && !core::present(stage)) {
        r.ctx.out.info("      {} is in place", pod.file);
        continue;
      }
      if (!core::present(stage)) {
        const auto part = path(stage.string() + ".part");
        ::unlink(part.c_str());
        copy_generation_file(e, r.gen.dir, part);
        apply_metadata(part, e);
        core::fsync_path(part);
        if (::rename(part.c_str(), stage.c_str()) != 0) core::throw_errno("rename", part.string(), errno);
      }
      Action act;
      act.from = stage.string();
      act.to = live.string();
      act.manifest = true;
      act.pod = pod.name;
      r.place(act);
      r.ctx.out.info("      {} is back from the generation ({} starts)", pod.file, pod.name);
    }
    // The folder's own time as the backup recorded it (placing files changed it).
    if (auto it = index.find(spp); it != index.end()) apply_metadata(live_dir, r.gen.manifest->entries.at(it->second));
  }
};

}  // namespace

const StepDef& start_static_pods_step_def() {
  static const StartStaticPods def;
  return def;
}

}  // namespace kdr::restore
