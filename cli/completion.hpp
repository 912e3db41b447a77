// `kdr completion bash|zsh`: shell completion for every command, subcommand and option, made
// from the command line's own definition (so it never disagrees with it). The .deb installs
// both (packaging/CMakeLists.txt).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace kdr::cli {

// A bash completion script for `app` (complete -F _kdr kdr).
std::string bash_completion(const CLI::App& app);
// The same for zsh, through its bashcompinit.
std::string zsh_completion(const CLI::App& app);

}  // namespace kdr::cli
