#include "backup/sources.hpp"

#include <algorithm>
#include <map>

#include "core/error.hpp"

namespace kdr::backup {

using core::Error;

bool is_excluded(const std::string& path, const std::vector<std::string>& excludes) {
  return std::any_of(excludes.begin(), excludes.end(), [&](const auto& e) { return core::node_path_within(path, e); });
}

std::string join_reasons(const Source& source) {
  std::string out;
  for (const auto& r : source.reasons) out += (out.empty() ? "" : "; ") + r;
  return out;
}

SourcePlan plan_sources(const core::Config& config, const core::NodeRoot& root) {
  return plan_sources(config, root, core::scan_static_pods(root, config.static_pod_path));
}

SourcePlan plan_sources(const core::Config& config, const core::NodeRoot& root, const core::StaticPodScan& scan) {
  SourcePlan plan;
  std::map<std::string, Source> candidates;  // ordered by path: parents come first
  auto add = [&](const std::string& path, const std::string& reason, bool required) {
    auto& s = candidates[path];
    s.path = path;
    s.reasons.push_back(reason);
    s.required = s.required || required;
  };
  for (const auto& s : config.sources) add(s.path, s.required ? "config (required)" : "config", s.required);

  if (config.discover_host_paths) {
    for (const auto& p : scan.problems) plan.warnings.push_back(p);
    for (const auto& pod : scan.pods) {
      for (const auto& hp : pod.host_paths) {
        const auto reason = fmt::format("hostPath '{}' of {} ({})", hp.name, pod.name.empty() ? "?" : pod.name, pod.file);
        try {
          add(core::normalize_node_path(hp.path, pod.file), reason, false);
        } catch (const core::UsageError& e) {
          plan.warnings.push_back(fmt::format("{}: not backed up: {}", reason, e.what()));
        }
      }
    }
  }

  for (auto& [path, source] : candidates) {
    if (is_excluded(path, config.exclude)) {
      plan.notes.push_back(fmt::format("{} excluded by host_paths.exclude ({})", path, join_reasons(source)));
      continue;
    }
    const std::string& candidate = path;  // a structured binding cannot be captured before C++20 in clang 14
    auto parent = std::find_if(plan.sources.begin(), plan.sources.end(),
                               [&](const Source& s) { return core::node_path_within(candidate, s.path); });
    if (parent != plan.sources.end()) {
      plan.notes.push_back(fmt::format("{} is inside {}: backed up once, as part of it ({})", path, parent->path,
                                       join_reasons(source)));
      parent->required = parent->required || source.required;
      continue;
    }
    source.present = core::lstat_path(root.host(path)).has_value();
    if (!source.present && !source.required)
      plan.warnings.push_back(fmt::format("{} does not exist on the node ({})", path, join_reasons(source)));
    plan.sources.push_back(source);
  }
  return plan;
}

}  // namespace kdr::backup
