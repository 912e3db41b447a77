// `kdr restores` (the restore journals on this node) and `kdr playbooks` (the playbooks found,
// or one in full).
#include <sstream>

#include <nlohmann/json.hpp>

#include "restore/restore_run.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

using core::ExitCode;
using nlohmann::json;

std::vector<std::string> unfinished_restores(const core::Context& ctx) {
  std::vector<std::string> out;
  for (const auto& rec : list_restore_records(restores_dir(ctx)))
    if (!rec.summary.actions.empty() && rec.summary.state != RestoreState::done &&
        rec.summary.state != RestoreState::rolled_back)
      out.push_back(rec.id);
  return out;
}

ExitCode print_restores(const core::Context& ctx) {
  const auto records = list_restore_records(restores_dir(ctx));
  if (ctx.out.json()) {
    json list = json::array();
    for (const auto& r : records) {
      json j = {{"id", r.id}, {"dir", r.dir.string()}};
      if (!r.problem.empty()) {
        j["problem"] = r.problem;
      } else {
        const auto plan = PlanHeader::from_json(r.plan);
        j["playbook"] = plan.playbook;
        j["generation"] = plan.generation;
        j["vars"] = plan.vars;
        j["state"] = to_string(r.summary.state);
        j["steps_done"] = r.summary.done_steps.size();
        j["steps"] = plan.steps;
        j["changes"] = r.summary.actions.size();
        j["error"] = r.summary.last_error;
      }
      list.push_back(j);
    }
    ctx.out.raw(list.dump(2));
    return ExitCode::ok;
  }
  if (records.empty()) {
    ctx.out.info("no restores on this node ({})", restores_dir(ctx).string());
    return ExitCode::ok;
  }
  ctx.out.info("{:<44} {:<22} {:<24} {:<12} {}", "RESTORE", "PLAYBOOK", "GENERATION", "STATE", "STEPS");
  for (const auto& r : records) {
    if (!r.problem.empty()) {
      ctx.out.info("{:<44} unreadable: {}", r.id, r.problem);
      continue;
    }
    const auto plan = PlanHeader::from_json(r.plan);
    ctx.out.info("{:<44} {:<22} {:<24} {:<12} {}/{}", r.id, plan.playbook, plan.generation, to_string(r.summary.state),
                 r.summary.done_steps.size(), plan.steps);
  }
  return ExitCode::ok;
}

ExitCode print_playbooks(const core::Context& ctx, const std::vector<std::string>& dirs, const std::string& name) {
  const auto search = search_dirs(ctx, dirs);
  if (!name.empty()) {
    const auto pb = find_playbook(name, search);
    if (ctx.out.json()) {
      json steps = json::array();
      for (const auto& s : pb.steps) {
        json fields = json::object();
        for (const auto& [k, f] : s.fields) fields[k] = f.value;
        steps.push_back({{"type", to_string(s.type)}, {"name", s.title}, {"fields", fields},
                         {"if", s.condition ? json(s.condition->text()) : json(nullptr)}});
      }
      ctx.out.raw(json{{"name", pb.name}, {"file", pb.file}, {"description", pb.description}, {"when", pb.when},
                       {"steps", steps}}
                      .dump(2));
      return ExitCode::ok;
    }
    ctx.out.info("{}  ({})", pb.name, pb.file);
    ctx.out.info("");
    ctx.out.info("{}", pb.description);
    if (!pb.when.empty()) {
      ctx.out.info("When to use it:");
      for (const auto& w : pb.when) ctx.out.info("  - {}", w);
    }
    {
      ctx.out.info("Parameters (--set NAME=VALUE):");
      std::vector<Parameter> all = pb.parameters;
      all.insert(all.end(), builtin_parameters().begin(), builtin_parameters().end());
      for (const auto& p : all) {
        std::string choices;
        for (const auto& c : p.choices) choices += (choices.empty() ? "" : "|") + c;
        ctx.out.info("  {} = {}{}  {}", p.name, p.default_value, choices.empty() ? "" : " (" + choices + ")",
                     p.description);
      }
    }
    ctx.out.info("Steps ('*' changes the node):");
    for (std::size_t i = 0; i < pb.steps.size(); ++i) {
      const auto& s = pb.steps[i];
      std::string fields;
      for (const auto& [k, f] : s.fields)
        fields += (fields.empty() ? "" : ", ") + k + ": " + (f.value.is_string() ? f.value.get<std::string>() : f.value.dump());
      ctx.out.info("  {:>2} {} {}{}", i + 1, changes_node(s.type) ? '*' : ' ',
                   s.title.empty() ? std::string(to_string(s.type)) : s.title + " (" + std::string(to_string(s.type)) + ")",
                   fields.empty() ? "" : "  " + fields);
      if (s.condition) ctx.out.info("         only with {}", s.condition->text());
    }
    return ExitCode::ok;
  }
  const auto all = list_playbooks(search);
  for (const auto& p : all.problems) ctx.out.warn("{}", p);
  if (ctx.out.json()) {
    json list = json::array();
    for (const auto& p : all.playbooks) list.push_back({{"name", p.name}, {"file", p.file}, {"when", p.when}});
    ctx.out.raw(list.dump(2));
    return all.problems.empty() ? ExitCode::ok : ExitCode::usage;
  }
  for (const auto& p : all.playbooks) {
    // The description's first sentence, whole, wrapped under the name.
    std::string text;
    for (const char c : p.description) text += c == '\n' ? ' ' : c;
    if (const auto end = text.find(". "); end != std::string::npos) text.resize(end + 1);
    std::string line, first = p.name;
    std::istringstream words(text);
    for (std::string w; words >> w;) {
      if (!line.empty() && line.size() + 1 + w.size() > 76) {
        ctx.out.info("{:<24} {}", first, line);
        first.clear();
        line.clear();
      }
      line += (line.empty() ? "" : " ") + w;
    }
    ctx.out.info("{:<24} {}", first, line);
    for (const auto& w : p.when) ctx.out.info("{:<24}   when: {}", "", w);
  }
  if (all.playbooks.empty()) ctx.out.warn("no playbooks found");
  ctx.out.info("`kdr playbooks NAME` shows one in full; `kdr restore NAME --dry-run` shows its plan for this node.");
  return all.problems.empty() ? ExitCode::ok : ExitCode::usage;
}

}  // namespace kdr::restore
