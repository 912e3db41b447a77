// What the units of `kdr restore` share (restore.cpp: the guided run; dry_run.cpp, resume.cpp,
// rollback.cpp, discard.cpp): the plan shown, the steps run, a journaled restore opened again.
#pragma once

#include <string>
#include <vector>

#include "core/context.hpp"
#include "core/exit_codes.hpp"
#include "core/repository.hpp"
#include "restore/journal.hpp"
#include "restore/plan.hpp"
#include "restore/playbook.hpp"
#include "restore/restore.hpp"
#include "restore/runner.hpp"

namespace kdr::restore {

// --playbook-dir folders, then the node's own /etc/kdr/playbooks, then the installed ones.
std::vector<core::bfs::path> search_dirs(const core::Context& ctx, const std::vector<std::string>& extra);

// The generation a restore names; Error(no_backup) when it cannot be used.
core::GenerationEntry find_generation(const core::Repository& repo, const std::string& which);

// The context a journaled restore ran with: its backup folder and config, whatever this
// command line says (a resume needs only the restore id and the node root).
core::Context context_of(const core::Context& ctx, const PlanHeader& plan);

// A journaled restore opened again: the context it ran with (context_of) and its plan. Throws
// UsageError when it ran on another node root.
struct Reopened {
  core::Context ctx;
  Plan plan;
};
Reopened reopen(const core::Context& ctx, const Journal& journal);

// `kdr --root ... --backup-dir ...`: how the operator runs kdr again on this node.
std::string command_prefix(const core::Context& ctx);
// The command that runs this plan for real: every option it was planned with, and the
// generation pinned (a backup taken meanwhile moves "latest").
std::string run_command(const core::Context& ctx, const RestoreOptions& o, const std::string& generation);

// One line for a journaled action, as its step type describes it.
std::string describe_action(const Plan& plan, const Action& a);

// The plan in full; `done`: a resumed restore's journal (its finished steps are marked).
void print_plan(const Runner& r, const JournalSummary* done);
// Runs the steps not done yet, each journaled; asks before each that changes the node unless
// `yes`.
core::ExitCode execute(Runner& r, bool yes);

// The other ways in: each opens the restore's journal under the restore lock.
core::ExitCode dry_run(Runner& r, const Playbook& pb, const RestoreOptions& o);
core::ExitCode resume_restore(const core::Context& ctx, const RestoreOptions& o);
core::ExitCode rollback_restore(const core::Context& ctx, const RestoreOptions& o);
core::ExitCode discard_restore(const core::Context& ctx, const RestoreOptions& o);

}  // namespace kdr::restore
