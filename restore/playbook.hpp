// Restore playbooks: YAML files naming a restore pipeline (docs/playbooks.md).
//
//   name: restore-etcd-snapshot
//   description: one paragraph
//   when: [symptoms this playbook is for]
//   parameters:
//     - {name: bump_revision, default: "true", choices: ["true", "false"], description: ...}
//   steps:
//     - {type: preflight}
//     - {type: stop-static-pods, pods: all}
//     - {type: move-aside, path: "${etcd_data_dir}"}
//     ...
//
// Loading checks everything that can be checked before a generation is chosen: every key
// known, every step type known with the keys it needs, every ${variable} defined. Errors
// name the file, line and column.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/fs.hpp"
#include "restore/step_types.hpp"

namespace kdr::restore {

std::string_view to_string(StepType type);
std::optional<StepType> step_type_from_string(std::string_view text);
// Steps that change the node (and so ask for confirmation in a guided restore).
bool changes_node(StepType type);
// Every step type, in the order docs/playbooks.md lists them.
std::vector<StepType> all_step_types();
// The keys a step of this type takes (required first), besides type, name and if.
std::vector<std::string> step_keys(StepType type);

struct Parameter {
  std::string name;
  std::string description;
  std::string default_value;
  std::vector<std::string> choices;  // empty: any value
  bool repeatable = false;           // --set NAME=a --set NAME=b gives "a,b"
};

// One value of a step, with where it was written (for errors found later, once the
// variables are known).
struct StepField {
  nlohmann::json value;  // a string, a number, a bool, or a list of strings
  std::string where;     // file:line:col
};

// `if: NAME=VALUE` (or NAME!=VALUE) on a step: the step is in the plan only when the
// parameter NAME has (or has not) that value.
struct StepCondition {
  std::string parameter;
  std::string value;
  bool negated = false;
  std::string where;
  bool holds(const std::map<std::string, std::string>& vars) const;
  std::string text() const;  // as written: etcd=raw
};

struct StepSpec {
  StepType type = StepType::manual;
  std::string title;  // `name:`; empty: made from the type
  std::string where;
  std::map<std::string, StepField> fields;
  std::optional<StepCondition> condition;
};

struct Playbook {
  std::string name;
  std::string file;  // where it was read from
  std::string description;
  std::vector<std::string> when;
  std::vector<Parameter> parameters;
  std::vector<StepSpec> steps;
};

// Variables every playbook may use besides its parameters.
const std::vector<std::string>& builtin_variables();
// Parameters every playbook has (docs/playbooks.md): accept_loss (a restore that would roll
// back a live, newer etcd needs it set to true) and same_node (overrides the preflight's
// refusal of a node that does not look like the generation's).
const std::vector<Parameter>& builtin_parameters();

// Throws UsageError naming `origin` with line and column.
Playbook parse_playbook(std::string_view text, const std::string& origin);
Playbook load_playbook(const core::bfs::path& file);

// Replaces every ${name} in `text`; throws UsageError naming `where` for an unknown one.
std::string substitute(const std::string& text, const std::map<std::string, std::string>& vars,
                       const std::string& where);
// Names of the ${variables} in `text`.
std::vector<std::string> variables_in(const std::string& text);

// Where playbooks are found: the folders given, then the installed ones (and, for a kdr that
// runs from its build folder only, the source tree's playbooks/).
std::vector<core::bfs::path> playbook_dirs(const std::vector<std::string>& extra_dirs);
// A playbook by name (or a path to a file); throws UsageError listing the known ones.
Playbook find_playbook(const std::string& name_or_file, const std::vector<core::bfs::path>& dirs);
// Every playbook in the folders (first one wins for a name); broken ones are reported.
struct PlaybookList {
  std::vector<Playbook> playbooks;
  std::vector<std::string> problems;
};
PlaybookList list_playbooks(const std::vector<core::bfs::path>& dirs);

}  // namespace kdr::restore
