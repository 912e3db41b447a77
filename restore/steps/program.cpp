// The program steps' shared part (restore/steps/program.hpp).
#include "restore/steps/program.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/fs.hpp"

namespace kdr::restore {

using core::Error;

namespace {

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

// Makes way for what the program writes: each file there renamed aside (kept), then a record
// that the path is the program's (ActionOp::program_writes), so that a rollback removes what it
// wrote before renaming the old one back. A resumed step finds both done.
void make_way(Runner& r, const std::vector<std::string>& writes) {
  const auto summary = r.journal->summary();
  for (const auto& node_path : writes) {
    const auto live = r.host(node_path).string();
    Action aside;
    aside.from = live;
    aside.to = r.aside_path(node_path);
    const bool recorded = std::any_of(summary.actions.begin(), summary.actions.end(), [&](const Action& a) {
      return a.op == ActionOp::move && a.from == live;
    });
    // Renamed by an earlier run when it was recorded and the aside copy exists: what is at the
    // path now is the program's own. Otherwise the file there is the node's (r.move refuses
    // when an aside copy from elsewhere is in the way).
    if (core::present(live) && !(recorded && core::present(aside.to))) {
      r.move(aside);
      r.ctx.out.info("      {} -> {} (kept)", node_path, aside.to);
    }
    const bool owned = std::any_of(summary.actions.begin(), summary.actions.end(), [&](const Action& a) {
      return a.op == ActionOp::program_writes && a.to == live;
    });
    if (owned) continue;
    Action theirs;
    theirs.op = ActionOp::program_writes;
    theirs.from = node_path;
    theirs.to = live;
    r.act(theirs, [] {});
  }
}

}  // namespace

std::string ProgramStep::action_text(const Action& a) const {
  if (a.op != ActionOp::program_writes) return StepDef::action_text(a);
  return fmt::format("{} written by the program (a rollback removes it)", a.to);
}

void ProgramStep::undo(Runner& r, const Action& a) const {
  if (a.op != ActionOp::program_writes) return r.undo_file_action(a);
  if (!core::present(a.to)) return;
  failpoint("rollback-before-action", ++r.actions_undone);
  core::remove_tree(a.to);
  r.ctx.out.info("      removed {} (written by {})", a.to, name());
  failpoint("rollback-after-action", r.actions_undone);
}

std::vector<std::string> ProgramStep::plan_text(const Runner& r, const ProgramArgs& a) const {
  std::vector<std::string> out{"run: " + core::describe_argv(a.argv)};
  for (const auto& w : a.writes)
    out.push_back(fmt::format("it writes {}: the one there now renamed to {} first (kept), and put back by a rollback",
                              w, r.aside_path(w)));
  return out;
}

void ProgramStep::read_writes(const StepValues& v, ProgramArgs& a) {
  if (v.has("writes")) a.writes = v.node_paths("writes");
}

void ProgramStep::reads_from(const Runner& r, const ProgramArgs& a, verify::HashScope& scope) const {
  const auto files = (r.gen.dir / "files").string() + "/";
  const auto gen = r.gen.dir.string() + "/";
  for (const auto& arg : a.argv) {
    if (arg.rfind(files, 0) == 0) scope.paths.push_back(fmt::format("/{}", arg.substr(files.size())));
    else if (arg.rfind(gen, 0) == 0) scope.artifacts.insert(arg.substr(gen.size()));
  }
}

void ProgramStep::perform(Runner& r, const ProgramArgs& a) const {
  const auto& program = a.argv.front();
  if (r.ctx.programs->find(program).empty()) throw Error(fmt::format("{} not found in PATH", program));
  core::ProcessOptions opts;
  opts.timeout = std::chrono::seconds(a.timeout);
  opts.env["KDR_ROOT"] = r.ctx.root.root().string();
  opts.env["KDR_RESTORE_ID"] = r.plan.id;
  opts.env["KDR_GENERATION_DIR"] = r.plan.generation_dir;
  make_way(r, a.writes);
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

}  // namespace kdr::restore
