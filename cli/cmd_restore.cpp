// kdr restore PLAYBOOK [--generation G] [--dry-run] [--yes] [--set K=V]...
// kdr restore --resume ID | --rollback ID
// kdr restores; kdr playbooks [NAME]
#include "cli/command.hpp"
#include "core/error.hpp"
#include "restore/restore.hpp"

namespace kdr::cli {

Command restore_command() {
  auto o = std::make_shared<restore::RestoreOptions>();
  Command c;
  c.name = "restore";
  c.help = "run a restore playbook: plan, confirm each step, journal, resume or roll back";
  c.add_options = [o](CLI::App& sub) {
    sub.add_option("playbook", o->playbook, "playbook name (kdr playbooks) or a playbook file");
    sub.add_option("-g,--generation", o->generation, "generation to restore from: an id, a unique prefix, or latest")
        ->capture_default_str();
    sub.add_flag("--dry-run", o->dry_run, "print the plan (every path and command) and the preflight; change nothing");
    sub.add_flag("-y,--yes", o->yes, "do not ask before each step (unattended use)");
    sub.add_option("--set", o->set, "set a playbook parameter, NAME=VALUE (repeatable)");
    sub.add_option("--playbook-dir", o->playbook_dirs, "also look for playbooks in this folder (repeatable)");
    auto* resume = sub.add_option("--resume", o->resume, "continue restore ID from its last completed step");
    auto* rollback =
        sub.add_option("--rollback", o->rollback, "undo restore ID: put the moved-aside data and manifests back")
            ->excludes(resume);
    sub.add_option("--discard", o->discard,
                   "delete the data finished restore ID kept aside (<path>.kdr-ID); it can no longer be rolled back")
        ->excludes(resume)
        ->excludes(rollback);
  };
  c.run = [o](const core::Context& ctx) {
    const bool by_id = !o->resume.empty() || !o->rollback.empty() || !o->discard.empty();
    if (by_id && !o->playbook.empty())
      throw core::UsageError("--resume, --rollback and --discard take a restore id, not a playbook (kdr restores lists them)");
    if (by_id && o->dry_run)
      throw core::UsageError("--dry-run plans a new restore; it does not go with --resume, --rollback or --discard");
    return restore::run_restore(ctx, *o);
  };
  return c;
}

Command restores_command() {
  Command c;
  c.name = "restores";
  c.help = "list the restores journaled on this node and their state";
  c.add_options = [](CLI::App&) {};
  c.run = [](const core::Context& ctx) { return restore::print_restores(ctx); };
  return c;
}

Command playbooks_command() {
  auto name = std::make_shared<std::string>();
  auto dirs = std::make_shared<std::vector<std::string>>();
  Command c;
  c.name = "playbooks";
  c.help = "list the restore playbooks, or describe one";
  c.add_options = [name, dirs](CLI::App& sub) {
    sub.add_option("name", *name, "a playbook to describe in full");
    sub.add_option("--playbook-dir", *dirs, "also look for playbooks in this folder (repeatable)");
  };
  c.run = [name, dirs](const core::Context& ctx) { return restore::print_playbooks(ctx, *dirs, *name); };
  return c;
}

}  // namespace kdr::cli
