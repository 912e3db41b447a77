// `kdr restore PLAYBOOK --dry-run`: the plan, what each step will do, and the preflight's
// read-only checks; nothing changes.
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "restore/preflight.hpp"
#include "restore/restore_run.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

using core::Error;
using core::ExitCode;
using nlohmann::json;

// The plan, then the preflight's read-only checks: exit 1 when the real run would be refused.
ExitCode dry_run(Runner& r, const Playbook& pb, const RestoreOptions& o) {
  const auto& ctx = r.ctx;
  const bool has_preflight = playbook_has(pb, &StepTraits::checks_only);
  if (ctx.out.json()) {
    // The plan as plan.json would hold it, what each step will do, and the preflight's verdict.
    json steps = json::array();
    for (const auto& s : r.plan.steps) steps.push_back({{"title", s.title}, {"changes_node", changes_node(s.type)},
                                                       {"does", describe_step(r, s)}});
    json doc = {{"plan", r.plan.to_json()}, {"steps", steps}, {"run", run_command(ctx, o, r.plan.generation)}};
    auto code = ExitCode::ok;
    try {
      if (has_preflight) check_preflight(r);
      doc["preflight"] = {{"passed", true}};
    } catch (const Error& e) {
      doc["preflight"] = {{"passed", false}, {"problems", e.what()}};
      code = ExitCode::failed;
    }
    ctx.out.raw(doc.dump(2));
    return code;
  }
  if (has_preflight) {
    ctx.out.info("Preflight (read-only checks):");
    try {
      check_preflight(r);
    } catch (const Error& e) {
      ctx.out.error(e.what());
      ctx.out.info("Dry run: nothing was changed. The restore would be refused as it stands: fix the problems above, "
                   "then run it with: {}",
                   run_command(ctx, o, r.plan.generation));
      return ExitCode::failed;
    }
  }
  ctx.out.info("Dry run: nothing was changed{}. Run it with: {}", has_preflight ? "; the preflight passed" : "",
               run_command(ctx, o, r.plan.generation));
  return ExitCode::ok;
}

}  // namespace kdr::restore
