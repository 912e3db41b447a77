#include "restore/pods.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/process.hpp"
#include "core/process_table.hpp"

namespace kdr::restore {

std::vector<PodProcess> pod_processes(const core::NodeRoot& root, const core::StaticPod& pod) {
  std::vector<std::string> commands;
  for (const auto& c : pod.containers)
    if (!c.command.empty()) commands.push_back(core::base_name(c.command.front()));
  if (commands.empty()) commands.push_back(pod.name);
  std::vector<PodProcess> out;
  for (auto& p : core::node_processes(root, commands)) out.push_back({p.pid, std::move(p.argv)});
  return out;
}

RunningCheck pod_running(const core::Context& ctx, const core::StaticPod& pod) {
  const auto& root = ctx.root;
  RunningCheck r;
  if (root.is_real_root() && !ctx.programs->find("crictl").empty()) {
    r.how = "crictl";
    std::vector<std::string> ids;
    for (const auto& c : pod.containers) {
      core::ProcessOptions opts;
      opts.timeout = std::chrono::seconds(20);
      auto p = ctx.programs->run({"crictl", "ps", "-q", "--state", "running", "--name", "^" + c.name + "$",
                                  "--label", "io.kubernetes.pod.namespace=kube-system"},
                                  opts);
      if (!p.ok()) {
        r.how = "process table (crictl failed: " + (p.started ? p.err : p.start_error) + ")";
        ids.clear();
        break;
      }
      std::size_t at = 0;
      while (at < p.out.size()) {
        auto nl = p.out.find('\n', at);
        if (nl == std::string::npos) nl = p.out.size();
        if (nl > at) ids.push_back(p.out.substr(at, nl - at));
        at = nl + 1;
      }
    }
    if (r.how == "crictl") {
      r.running = !ids.empty();
      for (const auto& id : ids) r.detail += (r.detail.empty() ? "container " : ", ") + id;
      return r;
    }
  } else {
    r.how = "process table";
  }
  for (const auto& p : pod_processes(root, pod)) {
    r.running = true;
    r.detail += (r.detail.empty() ? "" : ", ") + fmt::format("pid {} ({})", p.pid, p.argv.front());
  }
  return r;
}

std::vector<std::string> stray_manifests(const core::NodeRoot& root, const std::string& static_pod_path) {
  std::vector<std::string> problems;
  const auto dir = root.host(static_pod_path);
  auto st = core::lstat_path(dir);
  if (!st || st->type != core::FileType::directory) return problems;
  std::map<std::string, std::string> by_pod;
  for (const auto& name : core::list_dir(dir)) {
    if (name.empty() || name[0] == '.') continue;  // the kubelet ignores hidden files
    const auto node_path = static_pod_path + "/" + name;
    const bool manifest_name = name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json");
    if (!manifest_name) {
      problems.push_back(fmt::format(
          "{} is in the static pod folder: the kubelet runs every file there, so this copy would run as a "
          "second pod beside the restored one. Move it out of {} (e.g. to /root) and run kdr again",
          node_path, static_pod_path));
      continue;
    }
    try {
      auto pod = core::parse_static_pod(core::read_file(dir / name), node_path);
      auto [it, fresh] = by_pod.emplace(pod.name, node_path);
      if (!fresh)
        problems.push_back(fmt::format("{} and {} both define pod '{}': the kubelet would run it twice. Move the "
                                       "one that is not the real manifest out of {}",
                                       it->second, node_path, pod.name, static_pod_path));
    } catch (const core::Error& e) {
      problems.push_back(fmt::format("{} is not a pod manifest the kubelet can run: {}", node_path, e.what()));
    }
  }
  return problems;
}

std::string data_dir_argument(const std::vector<std::string>& argv) { return core::flag_argument(argv, "data-dir"); }

bool wanted(const std::vector<std::string>& names, const std::string& pod) {
  return names.empty() || std::find(names.begin(), names.end(), pod) != names.end();
}

std::string pods_text(const std::vector<std::string>& names) {
  if (names.empty()) return "all static pods";
  std::string out;
  for (const auto& p : names) out += (out.empty() ? "" : ", ") + p;
  return out;
}

void etcd_first(std::vector<core::StaticPod>& pods) {
  std::stable_partition(pods.begin(), pods.end(), [](const core::StaticPod& p) { return p.name == "etcd"; });
}

}  // namespace kdr::restore
