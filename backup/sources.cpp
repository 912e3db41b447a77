#include "backup/sources.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "core/control_plane.hpp"
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
  const auto scan = core::scan_static_pods(root, config.static_pod_path);
  return plan_sources(config, root, scan, etcd::detect_etcd_layout(config, root, scan));
}

namespace {

// etcd's systemd unit, environment files and the folder of its certificates.
void add_systemd_files(const etcd::SystemdEtcd& s,
                       const std::function<void(const std::string&, const std::string&, bool)>& add) {
  if (!s.unit.empty()) add(s.unit, "etcd's systemd unit", false);
  for (const auto& f : s.env_files) add(f, "etcd's environment file", false);
  for (const char* key : {"ETCD_TRUSTED_CA_FILE", "ETCD_CERT_FILE", "ETCD_PEER_TRUSTED_CA_FILE"}) {
    auto it = s.env.find(key);
    if (it == s.env.end() || it->second.empty() || it->second.front() != '/') continue;
    const auto dir = it->second.substr(0, std::max<std::size_t>(1, it->second.rfind('/')));
    add(dir, fmt::format("etcd's certificates ({})", key), false);
  }
}

}  // namespace

SourcePlan plan_sources(const core::Config& config, const core::NodeRoot& root, const core::StaticPodScan& scan,
                        const etcd::EtcdLayout& etcd) {
  SourcePlan plan;
  plan.etcd = etcd;
  std::map<std::string, Source> candidates;  // ordered by path: parents come first
  auto add = [&](const std::string& path, const std::string& reason, bool required) {
    auto& s = candidates[path];
    s.path = path;
    s.reasons.push_back(reason);
    s.required = s.required || required;
  };
  for (const auto& s : config.sources) add(s.path, s.required ? "config (required)" : "config", s.required);
  // etcd's data dir is required wherever etcd keeps it on this node, and only there.
  if (etcd.local() && etcd.data_dir_mounted) add(etcd.data_dir, "etcd data dir (" + etcd.data_dir_origin + ")", true);
  for (const auto& p : etcd.problems) plan.warnings.push_back(p);
  if (etcd.systemd) {
    const std::function<void(const std::string&, const std::string&, bool)> add_fn = add;
    add_systemd_files(*etcd.systemd, [&](const std::string& path, const std::string& reason, bool required) {
      try {
        add_fn(core::normalize_node_path(path, reason), reason, required);
      } catch (const core::UsageError& e) {
        plan.warnings.push_back(fmt::format("{}: not backed up: {}", reason, e.what()));
      }
    });
  }

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

  // The EncryptionConfiguration kube-apiserver reads must be in every generation, wherever it
  // lives on the node and whatever the sources and exclusions say: without it no encrypted
  // Secret of the snapshot can be read again.
  std::set<std::string> always;
  for (const auto& f : core::apiserver_files(scan)) {
    if (f.flag != "encryption-provider-config" || !f.host_path) continue;
    try {
      const auto path = core::normalize_node_path(*f.host_path, "kube-apiserver --encryption-provider-config");
      add(path, "kube-apiserver's --encryption-provider-config", false);
      always.insert(path);
    } catch (const core::UsageError& e) {
      plan.warnings.push_back(fmt::format("kube-apiserver --encryption-provider-config: not backed up: {}", e.what()));
    }
  }

  for (const auto& x : config.exclude) {
    const bool holds = std::any_of(always.begin(), always.end(), [&](const std::string& a) { return is_excluded(a, {x}); });
    if (holds)
      plan.warnings.push_back(fmt::format("host_paths.exclude {} would leave out kube-apiserver's EncryptionConfiguration: "
                                          "not applied",
                                          x));
    else
      plan.excludes.push_back(x);
  }

  for (auto& [path, source] : candidates) {
    if (is_excluded(path, plan.excludes)) {
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
