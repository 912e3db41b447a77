// The program steps' shared part (restore/steps/program.hpp).
#include "restore/steps/program.hpp"

#include <fmt/format.h>

#include "core/error.hpp"

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

}  // namespace

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
