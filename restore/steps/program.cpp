// Step types `kubeadm` and `run`: a program run with an argv (never a shell string), with
// KDR_ROOT, KDR_RESTORE_ID and KDR_GENERATION_DIR in its environment and its output kept in
// the journal folder. Whatever it changes, kdr does not track: a rollback says so.
#include <fmt/format.h>

#include "core/error.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

using core::Error;
using nlohmann::json;

namespace {

struct ProgramArgs : StepArgs {
  std::vector<std::string> argv;  // the whole command, program first
  int timeout = 900;
};

// The last 15 lines a program printed, indented.
void show_tail(const core::Output& out, const std::string& text) {
  std::vector<std::string> lines;
  std::size_t at = 0;
  while (at < text.size()) {
    auto nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(at, nl - at));
    at = nl + 1;
  }
  const std::size_t first = lines.size() > 15 ? lines.size() - 15 : 0;
  for (std::size_t i = first; i < lines.size(); ++i) out.info("      | {}", lines[i]);
}

// `kubeadm` steps name kubeadm's arguments (`args`), `run` steps the whole argv (`argv`).
class ProgramStep : public TypedStep<ProgramArgs> {
 public:
  bool changes_node() const override { return true; }
  Undo undo_kind() const override { return Undo::untracked; }

 protected:
  std::vector<std::string> plan_text(const Runner&, const ProgramArgs& a) const override {
    return {"run: " + core::describe_argv(a.argv)};
  }

  // Arguments naming the generation's files (kubeadm init --config <generation>/...).
  void reads_from(const Runner& r, const ProgramArgs& a, verify::HashScope& scope) const override {
    const auto files = (r.gen.dir / "files").string() + "/";
    const auto gen = r.gen.dir.string() + "/";
    for (const auto& arg : a.argv) {
      if (arg.rfind(files, 0) == 0) scope.paths.push_back(fmt::format("/{}", arg.substr(files.size())));
      else if (arg.rfind(gen, 0) == 0) scope.artifacts.insert(arg.substr(gen.size()));
    }
  }

  void perform(Runner& r, const ProgramArgs& a) const override {
    const auto& program = a.argv.front();
    if (r.ctx.programs->find(program).empty()) throw Error(fmt::format("{} not found in PATH", program));
    core::ProcessOptions opts;
    opts.timeout = std::chrono::seconds(a.timeout);
    opts.env["KDR_ROOT"] = r.ctx.root.root().string();
    opts.env["KDR_RESTORE_ID"] = r.plan.id;
    opts.env["KDR_GENERATION_DIR"] = r.plan.generation_dir;
    r.ctx.out.info("      running: {}", core::describe_argv(a.argv));
    auto res = r.ctx.programs->run(a.argv, opts);
    const auto log = r.step_log();
    core::write_file_atomic(log, res.out + res.err, 0600);
    show_tail(r.ctx.out, res.out + res.err);
    if (!res.ok())
      throw Error(fmt::format("{} {} (its output: {})", program,
                              !res.started    ? res.start_error
                              : res.timed_out ? fmt::format("did not finish in {} s", a.timeout)
                                              : fmt::format("exited with {}", res.exit_code),
                              log.string()));
  }
};

class KubeadmStep final : public ProgramStep {
 public:
  StepType type() const override { return StepType::kubeadm; }
  std::string_view name() const override { return "kubeadm"; }
  std::vector<StepKey> keys() const override { return {{"args", true}, {"timeout", false}}; }

 protected:
  ProgramArgs read_args(const StepValues& v) const override {
    ProgramArgs a;
    a.argv = {"kubeadm"};
    const auto args = v.list("args");
    a.argv.insert(a.argv.end(), args.begin(), args.end());
    a.timeout = v.seconds("timeout", a.timeout);
    return a;
  }

  // kubeadm is there, of the cluster's minor version.
  void preflight(Runner& r, const ProgramArgs&, Preflight& pf) const override {
    if (!r.tools.kubeadm) {
      pf.fails.push_back("kubeadm not found in PATH: install the kubeadm package of the cluster's version first");
      return;
    }
    const auto recorded = r.gen.meta.node.pod_version("kube-apiserver");
    const auto& have = r.tools.kubeadm_version;
    if (!recorded.empty() && minor_of(have) != minor_of(recorded))
      pf.warns.push_back(fmt::format("kubeadm is {}, the cluster ran {}: install kubeadm {} to rebuild it", have,
                                     recorded, recorded));
    else
      pf.ok(fmt::format("kubeadm {} (the cluster ran {})", have, recorded.empty() ? "?" : recorded));
  }
};

class RunStep final : public ProgramStep {
 public:
  StepType type() const override { return StepType::run; }
  std::string_view name() const override { return "run"; }
  std::vector<StepKey> keys() const override { return {{"argv", true}, {"timeout", false}}; }

 protected:
  ProgramArgs read_args(const StepValues& v) const override {
    ProgramArgs a;
    a.argv = v.list("argv");
    if (a.argv.empty()) v.fail("argv", "expected a non-empty list: the program, then its arguments");
    a.timeout = v.seconds("timeout", a.timeout);
    return a;
  }
};

}  // namespace

const StepDef& kubeadm_step() {
  static const KubeadmStep def;
  return def;
}

const StepDef& run_program_step() {
  static const RunStep def;
  return def;
}

}  // namespace kdr::restore
