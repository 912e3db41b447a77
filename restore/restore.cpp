// `kdr restore PLAYBOOK`: the plan built (restore/plan_builder.hpp) and shown in full, then
// the guided run: each step that changes the node asked for, journaled before it acts.
#include "restore/restore.hpp"

#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/process.hpp"
#include "etcd/rewind.hpp"
#include "restore/plan_builder.hpp"
#include "restore/restore_run.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

using core::Error;
using core::ExitCode;
using core::UsageError;

core::bfs::path restores_dir(const core::Context& ctx) { return ctx.root.host(ctx.config.state_dir) / "restores"; }

std::vector<core::bfs::path> search_dirs(const core::Context& ctx, const std::vector<std::string>& extra) {
  auto dirs = extra;
  dirs.push_back(ctx.root.host("/etc/kdr/playbooks").string());
  return playbook_dirs(dirs);
}

core::GenerationEntry find_generation(const core::Repository& repo, const std::string& which) {
  auto entry = repo.find(which);
  if (!entry.meta)
    throw Error(fmt::format("generation {} cannot be used: {}", entry.id, entry.problem), ExitCode::no_backup);
  return entry;
}

core::Context context_of(const core::Context& ctx, const PlanHeader& plan) {
  core::Context c = ctx;
  if (!plan.backup_dir.empty()) c.backup_dir = plan.backup_dir;
  if (!plan.config_file.empty() && plan.config_file != ctx.config.origin) {
    if (!core::lstat_path(plan.config_file))
      throw UsageError(fmt::format("restore {} ran with config {}, which is gone; put it back or start a new restore",
                                   plan.id, plan.config_file));
    c.config = core::load_config(plan.config_file);
  }
  return c;
}

Reopened reopen(const core::Context& ctx, const Journal& journal) {
  auto run_ctx = context_of(ctx, PlanHeader::from_json(journal.plan()));
  auto plan = Plan::from_json(journal.plan(), run_ctx.config.state_dir);
  if (plan.root != ctx.root.root().string())
    throw UsageError(fmt::format("restore {} ran on node root {}, not {}", plan.id, plan.root, ctx.root.root().string()));
  return {std::move(run_ctx), std::move(plan)};
}

std::string command_prefix(const core::Context& ctx) { return core::describe_argv(core::kdr_argv(ctx)); }

std::string run_command(const core::Context& ctx, const RestoreOptions& o, const std::string& generation) {
  auto argv = core::kdr_argv(ctx);
  argv.insert(argv.end(), {"restore", o.playbook, "-g", generation});
  for (const auto& kv : o.set) argv.insert(argv.end(), {"--set", kv});
  for (const auto& d : o.playbook_dirs) argv.insert(argv.end(), {"--playbook-dir", d});
  return core::describe_argv(argv);
}

void print_plan(const Runner& r, const JournalSummary* done) {
  const auto& out = r.ctx.out;
  const auto& p = r.plan;
  const auto& m = r.gen.meta;
  out.info("Restore {}", p.id);
  out.info("  playbook    {} ({})", p.playbook, p.playbook_file);
  const auto& snap = m.etcd.snapshot;
  out.info("  generation  {} ({}, taken {}, {}){}", p.generation, core::to_string(m.status), m.started, core::time_ago(m.time),
           snap ? fmt::format(", etcd revision {}", snap->revision) : "");
  out.info("  node        {}{}", p.root, p.root == "/" ? "" : " (sandbox)");
  out.info("  etcd        member {} at {}, data dir {} (from {})", p.etcd.name, p.etcd.peer_url, p.etcd.data_dir,
           p.etcd.from);
  if (const auto& loss = p.etcd.loss) {
    if (loss->loses_data()) out.warn("  etcd data   {}", loss->text());
    else out.info("  etcd data   {}", loss->text());
  }
  out.info("  journal     {}", p.var(Var::restore_dir));
  std::string params;
  for (const auto& [k, v] : p.vars)
    if (shown_as_parameter(k, v)) params += (params.empty() ? "" : " ") + k + "=" + v;
  if (!params.empty()) out.info("  parameters  {}", params);
  for (const auto& n : p.notes) out.info("  note: {}", n);
  out.info("Steps ('*' changes the node):");
  for (std::size_t i = 0; i < p.steps.size(); ++i) {
    const auto& s = p.steps[i];
    const bool finished = done && done->step_done(i);
    out.info("  {:>2} {} {}{}", i + 1, changes_node(s.type) ? '*' : ' ', s.title, finished ? "   [done]" : "");
    if (!finished)
      for (const auto& line : describe_step(r, s)) out.info("         {}", line);
  }
}

std::string describe_action(const Plan& plan, const Action& a) {
  const auto type = a.step < plan.steps.size() ? plan.steps[a.step].type : StepType::move_aside;
  return step_def(type).action_text(a);
}

namespace {

void print_where_we_are(const Runner& r, const std::string& kdr_prefix) {
  const auto summary = r.journal->summary();
  const auto& out = r.ctx.out;
  out.warn("the node is between states. What this restore changed so far:");
  if (summary.actions.empty()) out.warn("  nothing");
  for (const auto& a : summary.actions) out.warn("  {}", describe_action(r.plan, a));
  out.warn("to continue from where it stopped:  {} restore --resume {}", kdr_prefix, r.plan.id);
  out.warn("to undo it all:                     {} restore --rollback {}", kdr_prefix, r.plan.id);
  out.warn("journal: {}", r.journal->dir().string());
}

}  // namespace

ExitCode execute(Runner& r, bool yes) {
  const auto& out = r.ctx.out;
  const auto n = r.plan.steps.size();
  auto summary = r.journal->summary();
  const auto prefix = command_prefix(r.ctx);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& s = r.plan.steps[i];
    r.step = i;
    if (summary.step_done(i)) continue;
    if (changes_node(s.type) && !yes) {
      if (const auto line = step_def(s.type).before_asking(s); !line.empty())
        out.info("Step {}/{}: {}", i + 1, n, line);
      if (replaces_etcd_data(s, r.plan) && r.plan.etcd.loss)
        out.warn("this step replaces etcd's data: {}", r.plan.etcd.loss->text());
      auto a = r.ctx.host->ask(fmt::format("Step {}/{}: {}. Go ahead?", i + 1, n, s.title));
      if (a == core::Answer::all) yes = true;
      if (a == core::Answer::no) {
        r.journal->record(JournalEvent::declined, {{"step", i}});
        for (const auto& copy : r.preflight_copies) ::unlink(copy.c_str());
        out.warn("stopped before step {}/{} ({}) as asked", i + 1, n, s.title);
        if (!r.journal->summary().actions.empty()) {
          print_where_we_are(r, prefix);
          return ExitCode::incomplete;
        }
        out.warn("nothing was changed; resume with: {} restore --resume {}", prefix, r.plan.id);
        return ExitCode::failed;
      }
    }
    // Once every preflight has passed (the steps run in order), a restore confirmed as a whole
    // lets later steps prepare ahead in the background (a snapshot restored while the pods stop).
    if (yes && std::none_of(r.plan.steps.begin() + static_cast<std::ptrdiff_t>(i), r.plan.steps.end(),
                            [](const PlannedStep& p) { return step_def(p.type).traits().checks_only; }))
      r.prepare_ahead();
    core::pausepoint(fmt::format("restore-before-step-{}", i + 1));
    out.info("[{}/{}] {}", i + 1, n, s.title);
    r.journal->record(JournalEvent::begin, {{"step", i}, {"type", to_string(s.type)}});
    const double t0 = core::monotonic_seconds();
    try {
      core::check_interrupted();
      run_step(r, s);
    } catch (const Error& e) {
      const bool sig = e.code() == ExitCode::interrupted;
      try {
        r.journal->record(sig ? JournalEvent::interrupted : JournalEvent::failed, {{"step", i}, {"error", e.what()}});
      } catch (const Error& journal_error) {  // e.g. its disk is full too: the actions before are journaled
        out.warn("the restore's journal could not record the failure: {}", journal_error.what());
      }
      out.error(fmt::format("step {}/{} ({}) {}: {}", i + 1, n, s.title, sig ? "was interrupted" : "failed", e.what()));
      if (core::is_disk_full(e))
        out.warn("a disk is full: free space on the file system named above; what the restore did so far is kept and "
                 "journaled, and the command below continues from where it stopped once there is room");
      if (r.journal->summary().actions.empty()) {
        out.warn("nothing on the node was changed. Fix the cause, then: {} restore --resume {}", prefix, r.plan.id);
        return sig ? ExitCode::interrupted : ExitCode::failed;
      }
      print_where_we_are(r, prefix);
      return sig ? ExitCode::interrupted : ExitCode::incomplete;
    }
    r.journal->record(JournalEvent::done, {{"step", i}, {"seconds", core::monotonic_seconds() - t0}});
    out.info("      done ({:.1f} s)", core::monotonic_seconds() - t0);
    failpoint("restore-after-step", i + 1);
  }
  r.journal->record(JournalEvent::finished);
  out.info("Restore {} finished: playbook {} from generation {}.", r.plan.id, r.plan.playbook, r.plan.generation);
  // etcd's history starts again here: the journal's follower and kdr backup take it as the
  // new normal, not as a lost data dir
  if (std::any_of(r.plan.steps.begin(), r.plan.steps.end(),
                  [&](const PlannedStep& st) { return replaces_etcd_data(st, r.plan); }))
    etcd::accept_etcd_rewind(r.ctx, fmt::format("kdr restore {} ({})", r.plan.id, r.plan.playbook));
  const auto final_summary = r.journal->summary();
  std::vector<std::string> kept;
  for (const auto& a : final_summary.actions)
    if (a.op == ActionOp::move && !a.manifest) kept.push_back(a.to);
  if (!kept.empty()) {
    out.info("The data it replaced is kept (kdr never deletes it):");
    for (const auto& k : kept) out.info("  {}", k);
    out.info("Once the cluster is confirmed good, `{} restore --discard {}` deletes them; until then `{} restore "
             "--rollback {}` puts them back.",
             prefix, r.plan.id, prefix, r.plan.id);
  }
  out.info("Next: take a fresh backup (kdr backup --verify) and check the cluster (kubectl get nodes,pods -A).");
  return ExitCode::ok;
}

ExitCode run_restore(const core::Context& ctx, const RestoreOptions& o) {
  if (ctx.root.is_real_root() && ctx.host->euid() != 0 && !o.dry_run)
    throw Error("kdr restore changes the node's control plane and needs root: run it with sudo (--dry-run works "
                "without)");
  if (!o.rollback.empty()) return rollback_restore(ctx, o);
  if (!o.discard.empty()) return discard_restore(ctx, o);
  if (!o.resume.empty()) return resume_restore(ctx, o);

  if (o.playbook.empty()) throw UsageError("which playbook? (kdr playbooks lists them)");
  const auto pb = find_playbook(o.playbook, search_dirs(ctx, o.playbook_dirs));
  auto repo = core::Repository::open(ctx.backup_dir);
  std::optional<RestoreLock> lock;
  if (!o.dry_run) lock.emplace(restores_dir(ctx));
  const auto repo_lock = repo.read_lock(ctx.out);
  const auto entry = find_generation(repo, o.generation);
  auto prepared = build_plan(ctx, pb, entry, o.set);
  prepared.plan.backup_dir = ctx.backup_dir.string();
  if (ctx.config.origin.find('/') != std::string::npos) prepared.plan.config_file = ctx.config.origin;
  prepared.plan.playbook_dirs = o.playbook_dirs;
  Runner r{ctx, prepared.plan, std::nullopt, std::move(prepared.gen), 0, o.dry_run, look_up_tools(ctx, prepared.plan)};
  print_plan(r, nullptr);
  if (o.dry_run) return dry_run(r, pb, o);
  bool yes = o.yes;
  if (!yes) {
    const auto a =
        ctx.host->ask(fmt::format("Start restore {}? Each step that changes the node will ask again.", r.plan.id));
    if (a == core::Answer::no) {
      ctx.out.warn("not started; nothing was changed");
      return ExitCode::failed;
    }
    yes = a == core::Answer::all;  // 'a': yes to every question, this one included
  }
  r.journal = Journal::create(restores_dir(ctx) / r.plan.id, r.plan.to_json());
  return execute(r, yes);
}

}  // namespace kdr::restore
