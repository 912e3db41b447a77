#include "cli/completion.hpp"

#include <fmt/format.h>

namespace kdr::cli {

namespace {

// The words that may follow `app` on the command line: its options and its subcommands.
std::string words_of(const CLI::App& app) {
  std::string words;
  auto add = [&](const std::string& w) { words += (words.empty() ? "" : " ") + w; };
  for (const auto* opt : app.get_options([](const CLI::Option* o) { return o->nonpositional(); })) {
    for (const auto& l : opt->get_lnames()) add("--" + l);
    for (const auto& s : opt->get_snames()) add("-" + s);
  }
  for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) add(sub->get_name());
  return words;
}

// One `case` arm per command path ("", "journal", "journal/status"), two levels deep as kdr's
// commands go.
void arms(const CLI::App& app, const std::string& path, std::string& out) {
  out += fmt::format("    '{}') echo '{}' ;;\n", path, words_of(app));
  for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    arms(*sub, path.empty() ? sub->get_name() : path + "/" + sub->get_name(), out);
}

}  // namespace

std::string bash_completion(const CLI::App& app) {
  std::string cases;
  arms(app, "", cases);
  return fmt::format(R"(# bash completion for kdr (kdr completion bash)
_kdr_words() {{
  case $1 in
{}    *) return 1 ;;
  esac
}}
_kdr() {{
  local cur=${{COMP_WORDS[COMP_CWORD]}} path='' w i words=''
  # the command path so far: the words that are not options (nor a global option's value)
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${{COMP_WORDS[i]}}
    case $w in
      --config|--root|--backup-dir|--key-file|--playbook-dir|--set|--generation|-g) ((i++)) ;;
      -*) ;;
      *) path=${{path:+$path/}}$w ;;
    esac
  done
  # a word that is no command (a playbook, a generation) leaves the command's own words
  until words=$(_kdr_words "$path"); do
    case $path in */*) path=${{path%/*}} ;; *) path='' ;; esac
  done
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}}
complete -o default -F _kdr kdr
)",
                     cases);
}

std::string zsh_completion(const CLI::App& app) {
  return "#compdef kdr\n# zsh completion for kdr (kdr completion zsh), through bash's\n"
         "autoload -U +X bashcompinit && bashcompinit\n" +
         bash_completion(app);
}

}  // namespace kdr::cli
