// `kdr restore`: a playbook turned into a plan for one generation and one node, shown in
// full, then run step by step with confirmation, journaled, resumable and reversible.
// `kdr restores` lists the journals; `kdr playbooks` lists and describes the playbooks.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/context.hpp"
#include "core/exit_codes.hpp"

namespace kdr::restore {

struct RestoreOptions {
  std::string playbook;  // name or file
  std::string generation = "latest";
  bool dry_run = false;
  bool yes = false;
  std::string resume;    // restore id
  std::string rollback;  // restore id
  std::string discard;   // restore id: delete the data a finished restore kept aside
  std::vector<std::string> set;  // parameter=value
  std::vector<std::string> playbook_dirs;
};

core::ExitCode run_restore(const core::Context& ctx, const RestoreOptions& options);
core::ExitCode print_restores(const core::Context& ctx);
core::ExitCode print_playbooks(const core::Context& ctx, const std::vector<std::string>& dirs, const std::string& name);

// The folder holding the restore journals on this node (host path).
core::bfs::path restores_dir(const core::Context& ctx);

// Restores that changed the node and are neither finished nor rolled back: a backup now
// would record a half-restored node.
std::vector<std::string> unfinished_restores(const core::Context& ctx);

}  // namespace kdr::restore
