#include "cli/cli.hpp"

#include <malloc.h>
#include <unistd.h>

#include <optional>

#include <nlohmann/json.hpp>

#include "cli/command.hpp"
#include "cli/completion.hpp"
#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/version.hpp"

namespace kdr::cli {

namespace {

struct GlobalOptions {
  std::string config_file;
  std::string root = "/";
  std::string backup_dir;
  bool json = false;
  bool quiet = false;
  bool verbose = false;
};

std::string exit_code_footer() {
  std::string text = "Exit codes:\n";
  for (const auto& e : core::exit_code_table())
    text += fmt::format("  {:>3}  {:<12} {}\n", core::to_int(e.code), e.name, e.meaning);
  text += "\nDocumentation: docs/backup-format.md (the format, restoring by hand), docs/operations.md\n(scheduling, verify findings, metrics and alerts), docs/architecture.md.";
  return text;
}

core::Config load_effective_config(const GlobalOptions& g, const core::NodeRoot& root) {
  if (!g.config_file.empty()) {
    if (!core::lstat_path(g.config_file))
      throw core::UsageError(fmt::format("config file {} does not exist", g.config_file));
    return core::load_config(g.config_file);
  }
  const auto default_file = root.host("/etc/kdr/kdr.yaml");
  if (core::lstat_path(default_file)) return core::load_config(default_file);
  return core::default_config();
}

core::Context make_context(const GlobalOptions& g) {
  auto root_stat = core::lstat_path(g.root);
  if (!root_stat || root_stat->type != core::FileType::directory)
    throw core::UsageError(fmt::format("--root {}: not a folder", g.root));
  core::NodeRoot root(core::absolute_normal(g.root));
  auto config = load_effective_config(g, root);
  core::bfs::path backup_dir = g.backup_dir.empty() ? core::bfs::path(config.backup_dir) : core::bfs::path(g.backup_dir);
  backup_dir = core::absolute_normal(backup_dir);
  const auto verbosity = g.quiet ? core::Verbosity::quiet : g.verbose ? core::Verbosity::verbose : core::Verbosity::normal;
  return core::Context{std::move(config), std::move(root), backup_dir, core::Output(verbosity, g.json)};
}

int report_error(const core::Error& e, bool json) {
  core::Output out;
  std::string message = e.what();
  // Not being root is the usual reason for EACCES on a node: say so, once, at the end.
  if (::geteuid() != 0 && message.find("Permission denied") != std::string::npos)
    message += fmt::format(" (kdr runs as uid {}, not root: run it with sudo)", ::geteuid());
  out.error(message);
  if (json)
    out.raw(nlohmann::json{{"error", message}, {"exit_code", core::to_int(e.code())}}.dump());
  return core::to_int(e.code());
}

// The first word of the command line that is not a global option or its value: the
// command the user meant.
std::string first_command_word(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--config" || a == "--root" || a == "--backup-dir") {
      ++i;
      continue;
    }
    if (!a.empty() && a.front() != '-') return a;
  }
  return "";
}

// "kdr nosuch": name the unknown command and list the real ones, rather than CLI11's
// "A subcommand is required".
std::optional<std::string> unknown_command(int argc, char** argv, const std::vector<Command>& commands) {
  const auto word = first_command_word(argc, argv);
  if (word.empty()) return std::nullopt;
  std::string names;
  for (const auto& c : commands) {
    if (c.name == word) return std::nullopt;
    names += (names.empty() ? "" : ", ") + c.name;
  }
  return fmt::format("unknown command '{}'; the commands are: {} (kdr --help describes them)", word, names);
}

}  // namespace

int main(int argc, char** argv) {
  // glibc raises its mmap threshold (up to 32 MiB) each time a block above it is freed; from
  // then on blocks that large come from the heap, which keeps them resident and fragments: a
  // read of etcd's pages of a few MiB (kdr get -A, the restore test) held 52 MiB at 1 GiB where
  // it uses 38. Fixed at 1 MiB, blocks that large are mapped and unmapped with each use.
  ::mallopt(M_MMAP_THRESHOLD, 1 << 20);
  core::install_interrupt_handlers();
  GlobalOptions g;
  CLI::App app{"kdr: backup, verify and restore for kubeadm control-plane nodes", "kdr"};
  app.set_version_flag("--version", std::string("kdr ") + core::version);
  app.footer(exit_code_footer());
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("--config", g.config_file, "configuration file (default: /etc/kdr/kdr.yaml under --root, if present)");
  app.add_option("--root", g.root, "treat DIR as the node's root file system (sandboxes, tests)")->type_name("DIR");
  app.add_option("--backup-dir", g.backup_dir, "the backup folder on the second disk (never under --root)")
      ->type_name("DIR");
  app.add_flag("--json", g.json, "machine-readable output on stdout");
  auto* quiet = app.add_flag("-q,--quiet", g.quiet, "only warnings and errors");
  app.add_flag("-v,--verbose", g.verbose, "more detail (on stderr)")->excludes(quiet);

  std::vector<Command> commands = {backup_command(), verify_command(), list_command(), show_command(), get_command(), diff_command(), history_command(), prune_command(),
                                   restore_command(), restores_command(), playbooks_command(),
                                   sources_command(), config_command(), schedule_command(), journal_command(), pods_command(), etcd_command(), kubelet_command(),
                                   offsite_command(), demo_command()};
  const Command* chosen = nullptr;
  for (const auto& c : commands) {
    auto* sub = app.add_subcommand(c.name, c.help);
    c.add_options(*sub);
    sub->callback([&chosen, &c] { chosen = &c; });
  }
  // Completion is made from the command line itself, so it is not one of the table's commands.
  std::string shell;
  auto* completion = app.add_subcommand("completion", "print shell completion: kdr completion bash|zsh");
  completion->add_option("shell", shell, "bash or zsh")->required()->check(CLI::IsMember({"bash", "zsh"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (auto unknown = unknown_command(argc, argv, commands)) {
      core::Output().error(*unknown);
      return core::to_int(core::ExitCode::usage);
    }
    const int rc = app.exit(e);
    return rc == 0 ? 0 : core::to_int(core::ExitCode::usage);
  }

  if (completion->parsed()) {
    fmt::print("{}", shell == "zsh" ? zsh_completion(app) : bash_completion(app));
    return 0;
  }
  try {
    auto ctx = make_context(g);
    return core::to_int(chosen->run(ctx));
  } catch (const core::Error& e) {
    return report_error(e, g.json);
  } catch (const std::exception& e) {
    return report_error(core::Error(fmt::format("unexpected: {}", e.what())), g.json);
  }
}

}  // namespace kdr::cli
