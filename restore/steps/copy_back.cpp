// Step type `copy-back`: copies a path's entries out of the generation into <path>.kdr-<id>.new
// (every SHA-256, owner, mode and time checked), then renames it into place. Undone by
// removing the placed copy (it is kdr's own).
#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/progress.hpp"
#include "restore/materialize.hpp"
#include "restore/preflight.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

namespace {

// The node's own file at `host_path` has (at least) the entry's setuid/setgid bits.
bool node_has_special_bits(const core::bfs::path& host_path, const core::ManifestEntry& e) {
  const auto st = core::lstat_path(host_path);
  const auto wanted = e.mode & setuid_setgid_bits;
  return st && st->type == e.type && (st->mode & wanted) == wanted;
}

// A setuid or setgid entry whose file on the node lacks those bits is what a forged generation
// would carry: refused, unless the operator says otherwise.
void check_special_bits(const Runner& r, const std::vector<const core::ManifestEntry*>& entries, Preflight& pf) {
  std::vector<std::string> unexpected;
  for (const auto* e : entries)
    if ((e->mode & setuid_setgid_bits) != 0 && e->type != core::FileType::symlink &&
        !node_has_special_bits(r.host(e->path), *e))
      unexpected.push_back(fmt::format("{} ({})", e->path, core::mode_to_string(e->mode)));
  if (unexpected.empty()) return;
  std::string list;
  for (std::size_t i = 0; i < unexpected.size() && i < 5; ++i) list += (i ? ", " : "") + unexpected[i];
  if (unexpected.size() > 5) list += fmt::format(" and {} more", unexpected.size() - 5);
  if (r.flag(Var::allow_setuid)) {
    pf.warns.push_back("accepted (allow_setuid=true): setuid/setgid files the node does not have: " + list);
    return;
  }
  pf.fails.push_back(fmt::format(
      "the generation would put back setuid/setgid files whose counterparts on the node are not: {}. A backup of "
      "/etc/kubernetes holds none; a forged generation would. If they are right, run again with --set "
      "allow_setuid=true",
      list));
}

struct CopyBackArgs : StepArgs {
  std::string path;                  // node path
  std::vector<std::string> exclude;  // node paths left out (their manifests go back last)
};

class CopyBack final : public TypedStep<CopyBackArgs> {
 public:
  StepType type() const override { return StepType::copy_back; }
  StepTraits traits() const override { return {.copies_files_back = true}; }
  std::vector<std::string> replaced_paths(const PlannedStep& s) const override { return {s.values.value("path", "")}; }
  std::string_view name() const override { return "copy-back"; }
  bool changes_node() const override { return true; }
  std::vector<StepKey> keys() const override { return {{"path", true}, {"exclude", false}}; }

 protected:
  CopyBackArgs read_args(const StepValues& v) const override {
    CopyBackArgs a;
    a.path = v.node_path("path");
    a.exclude = v.node_paths("exclude");
    return a;
  }
  std::string title_of(const CopyBackArgs& a) const override { return "copy-back " + a.path; }

 public:
  std::optional<std::string> cannot_serve(const GenerationOffer& offer, const nlohmann::json& values) const override {
    const auto path = values.value("path", std::string());
    for (const auto& p : offer.paths)
      if (core::node_path_within(path, p)) return std::nullopt;
    return "it holds nothing for " + path;
  }

 protected:
  bool replaces_etcd(const CopyBackArgs& a, const Plan& plan) const override { return plan.holds_etcd_data(a.path); }

  std::vector<std::string> plan_text(const Runner& r, const CopyBackArgs& a) const override {
    std::uint64_t n = 0, bytes = 0;
    if (r.gen.manifest)
      for (const auto* e : entries_under(*r.gen.manifest, a.path, a.exclude)) {
        ++n;
        bytes += e->size;
      }
    std::vector<std::string> out;
    out.push_back(fmt::format("copy {} entries ({:.1f} MiB) of {} from generation {} into {},", n,
                              static_cast<double>(bytes) / 1048576.0, a.path, r.gen.id, r.temp_path(a.path)));
    out.push_back(
        fmt::format("checking every SHA-256, owners, modes, times; then rename it to {}", r.host(a.path).string()));
    for (const auto& x : a.exclude) out.push_back(fmt::format("{} is left empty here (its manifests go back last)", x));
    return out;
  }

  void reads_from(const Runner&, const CopyBackArgs& a, verify::HashScope& scope) const override {
    scope.paths.push_back(a.path);
  }

  void preflight(Runner& r, const CopyBackArgs& a, Preflight& pf) const override {
    if (!r.gen.manifest) return;
    const auto entries = entries_under(*r.gen.manifest, a.path, a.exclude);
    if (entries.empty() || entries.front()->path != a.path) pf.fails.push_back(r.not_in_generation(a.path));
    check_special_bits(r, entries, pf);
    std::uint64_t bytes = 0;
    for (const auto* e : entries) bytes += e->size;
    pf.need[r.host(a.path).parent_path().string()] += bytes;
  }

  void perform(Runner& r, const CopyBackArgs& a) const override {
    const auto target = r.host(a.path);
    const auto tmp = core::bfs::path(r.temp_path(a.path));
    if (core::lstat_path(target)) {
      if (r.placed_earlier(target, tmp)) {
        r.ctx.out.info("      {} was copied back earlier", a.path);
        return;
      }
      throw core::Error(
          fmt::format("{} exists: copy-back writes only where nothing is (a move-aside step must come first)", a.path));
    }
    if (!r.gen.manifest) throw core::Error(fmt::format("generation {} has no readable manifest", r.gen.id));
    if (core::lstat_path(tmp)) core::remove_tree(tmp);  // a copy interrupted earlier; it is kdr's own
    const auto entries = entries_under(*r.gen.manifest, a.path, a.exclude);
    core::make_dirs(target.parent_path(), 0755);
    const double t0 = core::monotonic_seconds();
    std::uint64_t bytes = 0;
    for (const auto* e : entries) bytes += e->size;
    core::Progress progress(r.ctx.out, "restoring", bytes);
    // The node's own tree is aside now: an entry keeps setuid/setgid where its file there had them.
    const auto aside = r.aside_path(a.path);
    const auto keep = [&](const core::ManifestEntry& e) {
      return r.flag(Var::allow_setuid) ||
             node_has_special_bits(core::bfs::path(aside + e.path.substr(a.path.size())), e);
    };
    const auto stats = materialize(entries, a.path, r.gen.dir, tmp, keep, &progress);
    progress.finish();
    for (const auto& p : stats.special_dropped)
      r.ctx.out.warn("      {}: restored without its setuid/setgid bits (the node's own file did not have them)", p);
    Action act;
    act.from = tmp.string();
    act.to = target.string();
    r.place(act);
    r.ctx.out.info("      {}: {} files, {} folders, {} symlinks, {:.1f} MiB, every SHA-256 checked ({:.1f} s)", a.path,
                   stats.files, stats.dirs, stats.symlinks, static_cast<double>(stats.bytes) / 1048576.0,
                   core::monotonic_seconds() - t0);
  }
};

}  // namespace

const StepDef& copy_back_step_def() {
  static const CopyBack def;
  return def;
}

}  // namespace kdr::restore
