// The command table: each command is a name, a line of help, its options, and a run
// function over a ready Context. cli.cpp turns the table into the command line.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/context.hpp"
#include "core/exit_codes.hpp"

namespace kdr::cli {

struct Command {
  std::string name;
  std::string help;
  // Adds the command's own options to its subcommand.
  std::function<void(CLI::App&)> add_options;
  std::function<core::ExitCode(const core::Context&)> run;
};

Command backup_command();
Command list_command();
Command prune_command();
Command sources_command();
Command config_command();
Command verify_command();
Command restore_command();
Command restores_command();
Command playbooks_command();
Command demo_command();
Command schedule_command();
Command show_command();
Command journal_command();
Command pods_command();
Command offsite_command();
Command get_command();
Command diff_command();
Command history_command();
Command etcd_command();
Command kubelet_command();

// "1.5 GiB", "312 B"
using core::human_bytes;

}  // namespace kdr::cli
