#include "restore/playbook.hpp"
#include "restore/variables.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include <unistd.h>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "core/error.hpp"
#include "core/yaml_reader.hpp"
#include "restore/step.hpp"

#ifndef KDR_PLAYBOOK_DIR
#define KDR_PLAYBOOK_DIR "/usr/share/kdr/playbooks"
#endif
#ifndef KDR_SOURCE_PLAYBOOK_DIR
#define KDR_SOURCE_PLAYBOOK_DIR ""
#endif
#ifndef KDR_BUILD_DIR
#define KDR_BUILD_DIR ""
#endif

namespace kdr::restore {

using core::UsageError;
using nlohmann::json;

namespace {

// Lists of strings, strings, numbers and booleans, as JSON (everything a step holds).
json field_value(const core::YamlReader& r, const YAML::Node& node, const std::string& key) {
  if (node.IsSequence()) {
    json list = json::array();
    for (std::size_t i = 0; i < node.size(); ++i)
      list.push_back(r.text(node[i], fmt::format("{}[{}]", key, i)));
    return list;
  }
  if (!node.IsScalar()) r.fail(node, key, "expected a value or a list of values");
  return node.Scalar();
}

void check_variables(const json& value, const std::set<std::string>& known, const std::string& where) {
  if (value.is_array()) {
    for (const auto& v : value) check_variables(v, known, where);
    return;
  }
  if (!value.is_string()) return;
  for (const auto& v : variables_in(value.get<std::string>()))
    if (!known.count(v)) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw UsageError(fmt::format("{}: unknown variable ${{{}}} (known: {})", where, v, list));
    }
}

// `if: NAME=VALUE` / `if: NAME!=VALUE`, NAME a parameter of the playbook (or a built-in one)
// and VALUE one of its choices.
StepCondition parse_condition(const core::YamlReader& r, const YAML::Node& node, const std::string& key,
                              const std::vector<Parameter>& declared) {
  const auto text = r.text(node, key);
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    r.fail(node, key, fmt::format("expected PARAMETER=VALUE or PARAMETER!=VALUE, not '{}'", text));
  StepCondition c;
  c.negated = text[eq - 1] == '!';
  c.parameter = text.substr(0, c.negated ? eq - 1 : eq);
  c.value = text.substr(eq + 1);
  c.where = core::yaml_where(r.origin(), node);
  std::vector<Parameter> all = declared;
  all.insert(all.end(), builtin_parameters().begin(), builtin_parameters().end());
  auto it = std::find_if(all.begin(), all.end(), [&](const Parameter& p) { return p.name == c.parameter; });
  if (it == all.end()) {
    // a variable every plan may make (renames_node): it holds what the plan found
    const auto& made = made_variable_names();
    if (std::find(made.begin(), made.end(), c.parameter) != made.end()) return c;
    r.fail(node, key, fmt::format("'{}' is not a parameter of this playbook", c.parameter));
  }
  if (!it->choices.empty() && std::find(it->choices.begin(), it->choices.end(), c.value) == it->choices.end()) {
    std::string list;
    for (const auto& x : it->choices) list += (list.empty() ? "" : ", ") + x;
    r.fail(node, key, fmt::format("'{}' is not one of {}'s choices ({})", c.value, c.parameter, list));
  }
  return c;
}

}  // namespace

std::string_view to_string(StepType type) { return step_def(type).name(); }

std::optional<StepType> step_type_from_string(std::string_view text) {
  for (const auto* d : step_table())
    if (d->name() == text) return d->type();
  return std::nullopt;
}

bool changes_node(StepType type) { return step_def(type).changes_node(); }

std::vector<StepType> all_step_types() {
  std::vector<StepType> out;
  for (const auto* d : step_table()) out.push_back(d->type());
  return out;
}

std::vector<std::string> step_keys(StepType type) {
  std::vector<std::string> out;
  for (const auto& k : step_def(type).keys())
    if (k.required) out.push_back(k.name);
  for (const auto& k : step_def(type).keys())
    if (!k.required) out.push_back(k.name);
  return out;
}

const std::vector<std::string>& builtin_variables() { return made_variable_names(); }

const std::vector<Parameter>& builtin_parameters() {
  static const std::vector<Parameter> v = {
      {var_name(Var::accept_loss),
       "set to true to restore etcd data older than a live etcd that still answers: what was written since the "
       "backup is lost (the plan counts it)",
       "false",
       {"true", "false"}},
      {var_name(Var::accept_undecryptable),
       "set to true to restore etcd values encrypted with a key that kube-apiserver's EncryptionConfiguration no "
       "longer holds: they stay unreadable until that key is back",
       "false",
       {"true", "false"}},
      {var_name(Var::accept_gap),
       "set to true to restore to a time that falls in a gap of the change journal: the point used is then the "
       "journal's last revision before the gap",
       "false",
       {"true", "false"}},
      {var_name(Var::same_node),
       "set to true when the preflight refuses a node that does not look like the one the backup was taken on, "
       "and it is that node",
       "false",
       {"true", "false"}},
      {var_name(Var::key_file),
       "the node's saved key (a path on this machine), on a machine that lost its own: the generation and the "
       "journal are authenticated with it",
       "",
       {}},
      {var_name(Var::unauthenticated),
       "set to true to restore what no key here can authenticate (no key on this machine, a generation from "
       "before kdr authenticated them, another node's key); the journal records it",
       "false",
       {"true", "false"}},
      {var_name(Var::allow_setuid),
       "set to true to restore setuid/setgid bits on files whose counterparts on the node do not have them",
       "false",
       {"true", "false"}},
  };
  return v;
}

bool StepCondition::holds(const std::map<std::string, std::string>& vars) const {
  auto it = vars.find(parameter);
  const bool equal = it != vars.end() && it->second == value;
  return negated ? !equal : equal;
}

std::string StepCondition::text() const { return parameter + (negated ? "!=" : "=") + value; }

std::vector<std::string> variables_in(const std::string& text) {
  std::vector<std::string> out;
  for (std::size_t pos = text.find("${"); pos != std::string::npos; pos = text.find("${", pos + 2)) {
    const auto end = text.find('}', pos);
    if (end == std::string::npos) break;
    out.push_back(text.substr(pos + 2, end - pos - 2));
  }
  return out;
}

std::string substitute(const std::string& text, const std::map<std::string, std::string>& vars,
                       const std::string& where) {
  std::string out;
  std::size_t at = 0;
  for (;;) {
    const auto pos = text.find("${", at);
    if (pos == std::string::npos) break;
    const auto end = text.find('}', pos);
    if (end == std::string::npos) throw UsageError(fmt::format("{}: '${{' without a closing '}}' in '{}'", where, text));
    const auto name = text.substr(pos + 2, end - pos - 2);
    auto it = vars.find(name);
    if (it == vars.end()) throw UsageError(fmt::format("{}: unknown variable ${{{}}}", where, name));
    out += text.substr(at, pos - at);
    out += it->second;
    at = end + 1;
  }
  return out + text.substr(at);
}

Playbook parse_playbook(std::string_view text, const std::string& origin) {
  const auto root = core::load_yaml(text, origin);
  if (root.IsNull()) throw UsageError(fmt::format("{}: empty playbook", origin));
  core::YamlReader r(origin);
  Playbook p;
  p.file = origin;
  bool has_steps = false;
  YAML::Node steps_node;
  using Node = YAML::Node;
  using Key = std::string;
  r.mapping(root, "", {
    {"name", [&](const Node& n, const Key& k) {
       // It becomes part of the restore's id, a folder name of the state dir.
       p.name = r.text(n, k);
       const bool ok = !p.name.empty() && p.name.size() <= 64 && std::islower(static_cast<unsigned char>(p.name[0])) &&
                       std::all_of(p.name.begin(), p.name.end(), [](char c) {
                         return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-';
                       });
       if (!ok) r.fail(n, k, fmt::format("'{}': a playbook's name is lowercase letters, digits and '-', starting with a "
                                         "letter, at most 64 characters (it names the restore's folder)",
                                         p.name));
     }},
    {"description", [&](const Node& n, const Key& k) { p.description = r.text(n, k); }},
    {"when", [&](const Node& n, const Key& k) { p.when = r.strings(n, k, "a list of symptoms"); }},
    {"parameters", [&](const Node& n, const Key& k) {
       if (!n.IsSequence()) r.fail(n, k, "expected a list of parameters");
       for (std::size_t i = 0; i < n.size(); ++i) {
         const auto ik = fmt::format("{}[{}]", k, i);
         Parameter param;
         bool has_default = false;
         r.mapping(n[i], ik, {
           {"name", [&](const Node& v, const Key& kk) { param.name = r.text(v, kk); }},
           {"description", [&](const Node& v, const Key& kk) { param.description = r.text(v, kk); }},
           {"default", [&](const Node& v, const Key& kk) { param.default_value = r.text(v, kk); has_default = true; }},
           {"choices", [&](const Node& v, const Key& kk) { param.choices = r.strings(v, kk, "a list of values"); }},
           {"repeatable", [&](const Node& v, const Key& kk) {
              const auto t = r.text(v, kk);
              if (t != "true" && t != "false") r.fail(v, kk, "expected true or false");
              param.repeatable = t == "true";
            }},
         });
         if (param.name.empty()) r.fail(n[i], ik, "a parameter needs a 'name'");
         if (!has_default) r.fail(n[i], ik, fmt::format("parameter '{}' needs a 'default'", param.name));
         if (!param.choices.empty() &&
             std::find(param.choices.begin(), param.choices.end(), param.default_value) == param.choices.end())
           r.fail(n[i], ik, fmt::format("the default '{}' is not one of the choices", param.default_value));
         p.parameters.push_back(param);
       }
     }},
    {"steps", [&](const Node& n, const Key& k) {
       if (!n.IsSequence() || n.size() == 0) r.fail(n, k, "expected a non-empty list of steps");
       has_steps = true;
       steps_node = n;
     }},
  });
  if (p.name.empty()) r.fail(root, "name", "a playbook needs a 'name'");
  if (!has_steps) r.fail(root, "steps", "a playbook needs 'steps'");

  std::set<std::string> known(builtin_variables().begin(), builtin_variables().end());
  for (const auto& param : builtin_parameters()) known.insert(param.name);
  for (const auto& param : p.parameters) {
    if (std::any_of(builtin_parameters().begin(), builtin_parameters().end(),
                    [&](const Parameter& b) { return b.name == param.name; }))
      throw UsageError(fmt::format("{}: parameter '{}' is built in (every playbook has it); pick another name", origin,
                                   param.name));
    known.insert(param.name);
  }

  for (std::size_t i = 0; i < steps_node.size(); ++i) {
    const auto node = steps_node[i];
    const auto key = fmt::format("steps[{}]", i);
    if (!node.IsMap()) r.fail(node, key, "expected a mapping with a 'type'");
    const auto type_node = node["type"];
    if (!type_node) r.fail(node, key, "a step needs a 'type'");
    const auto type_name = r.text(type_node, key + ".type");
    const auto type = step_type_from_string(type_name);
    if (!type) {
      std::string list;
      for (const auto* d : step_table()) list += (list.empty() ? "" : ", ") + std::string(d->name());
      r.fail(type_node, key + ".type", fmt::format("unknown step type '{}' (known: {})", type_name, list));
    }
    const auto& def = step_def(*type);
    StepSpec spec;
    spec.type = *type;
    spec.where = core::yaml_where(origin, node);
    std::map<std::string, core::YamlReader::Handler> handlers;
    handlers["type"] = [](const Node&, const Key&) {};
    handlers["name"] = [&](const Node& v, const Key& k) { spec.title = r.text(v, k); };
    handlers["if"] = [&](const Node& v, const Key& k) { spec.condition = parse_condition(r, v, k, p.parameters); };
    for (const auto& f : def.keys()) {
      handlers[f.name] = [&, name = f.name](const Node& v, const Key& k) {
        spec.fields[name] = {field_value(r, v, k), core::yaml_where(origin, v)};
      };
    }
    r.mapping(node, key, handlers);
    for (const auto& f : def.keys())
      if (f.required && !spec.fields.count(f.name))
        r.fail(node, key, fmt::format("a {} step needs '{}'", def.name(), f.name));
    for (const auto& [name, field] : spec.fields) check_variables(field.value, known, field.where);
    p.steps.push_back(std::move(spec));
  }
  return p;
}

namespace {

// A playbook's `run` and `kubeadm` steps run as root: its file, and the folder that holds it,
// must be root's (or kdr's own user's) and writable by nobody else.
void check_playbook_owner(const core::bfs::path& file) {
  const auto st = core::lstat_path(file);
  if (!st) throw UsageError(fmt::format("{}: no such playbook file", file.string()));
  if (st->type != core::FileType::file) throw UsageError(fmt::format("{}: not a regular file", file.string()));
  if ((st->uid != 0 && st->uid != ::geteuid()) || (st->mode & 0022) != 0)
    throw UsageError(fmt::format("{}: owned by uid {} with mode {:04o}: a playbook's steps run as root, so kdr reads "
                                 "only playbooks that root owns and nobody else can write (chown root {} && chmod "
                                 "go-w {})",
                                 file.string(), st->uid, st->mode & 07777, file.string(), file.string()));
  const auto dir = file.has_parent_path() ? file.parent_path() : core::bfs::path(".");
  const auto dst = core::lstat_path(dir);
  try {
    if (dst) core::check_own_folder(dir, *dst);
  } catch (const core::Error& e) {
    throw UsageError(fmt::format("playbook {}: {}", file.string(), e.what()));
  }
}

// True when this kdr runs from its build folder (tests, the drill from a checkout): only then
// are the source tree's playbooks found. An installed kdr reads its installed playbooks.
bool running_from_build_tree() {
  const std::string build = KDR_BUILD_DIR;
  if (build.empty()) return false;
  const auto self = core::read_link("/proc/self/exe");
  return self && self->rfind(build + "/", 0) == 0;
}

}  // namespace

Playbook load_playbook(const core::bfs::path& file) {
  std::string text;
  check_playbook_owner(file);
  try {
    text = core::read_file(file);
  } catch (const core::Error& e) {
    throw UsageError(e.what());
  }
  return parse_playbook(text, file.string());
}

std::vector<core::bfs::path> playbook_dirs(const std::vector<std::string>& extra_dirs) {
  std::vector<core::bfs::path> dirs(extra_dirs.begin(), extra_dirs.end());
  dirs.emplace_back(KDR_PLAYBOOK_DIR);
  if (std::string_view(KDR_SOURCE_PLAYBOOK_DIR) != "" && running_from_build_tree())
    dirs.emplace_back(KDR_SOURCE_PLAYBOOK_DIR);
  return dirs;
}

namespace {

std::vector<core::bfs::path> yaml_files(const core::bfs::path& dir) {
  std::vector<core::bfs::path> out;
  auto st = core::lstat_path(dir);
  if (!st || st->type != core::FileType::directory) return out;
  for (const auto& name : core::list_dir(dir)) {
    if (name.empty() || name[0] == '.') continue;
    if (name.size() > 5 && (name.ends_with(".yaml") || name.ends_with(".yml"))) out.push_back(dir / name);
  }
  return out;
}

}  // namespace

PlaybookList list_playbooks(const std::vector<core::bfs::path>& dirs) {
  PlaybookList out;
  std::set<std::string> seen;
  for (const auto& dir : dirs) {
    for (const auto& file : yaml_files(dir)) {
      try {
        auto p = load_playbook(file);
        if (seen.insert(p.name).second) out.playbooks.push_back(std::move(p));
      } catch (const core::Error& e) {
        out.problems.push_back(e.what());
      }
    }
  }
  return out;
}

Playbook find_playbook(const std::string& name_or_file, const std::vector<core::bfs::path>& dirs) {
  if (name_or_file.find('/') != std::string::npos || name_or_file.ends_with(".yaml") ||
      name_or_file.ends_with(".yml"))
    return load_playbook(name_or_file);
  std::string known;
  for (const auto& dir : dirs) {
    for (const auto& file : yaml_files(dir)) {
      auto stem = file.stem().string();
      // A file named after the playbook is read first; a broken one is an error, not skipped.
      if (stem == name_or_file) {
        auto p = load_playbook(file);
        if (p.name == name_or_file) return p;
      }
    }
  }
  auto all = list_playbooks(dirs);
  for (auto& p : all.playbooks) {
    if (p.name == name_or_file) return p;
    known += (known.empty() ? "" : ", ") + p.name;
  }
  std::string searched;
  for (const auto& d : dirs) searched += (searched.empty() ? "" : ", ") + d.string();
  throw UsageError(fmt::format("no playbook named '{}' (known: {}; searched {})", name_or_file,
                               known.empty() ? "none" : known, searched));
}

}  // namespace kdr::restore
