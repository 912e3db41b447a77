#include "restore/pods.hpp"

#include <dirent.h>

#include <algorithm>
#include <cctype>
#include <map>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/process.hpp"

namespace kdr::restore {

namespace {

std::string base_name(const std::string& p) {
  const auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::vector<std::string> read_cmdline(int pid) {
  std::vector<std::string> argv;
  std::string text;
  try {
    text = core::read_file(fmt::format("/proc/{}/cmdline", pid));
  } catch (const core::Error&) {
    return argv;  // gone meanwhile
  }
  std::size_t at = 0;
  while (at < text.size()) {
    auto end = text.find('\0', at);
    if (end == std::string::npos) end = text.size();
    argv.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return argv;
}

std::vector<int> all_pids() {
  std::vector<int> pids;
  DIR* d = ::opendir("/proc");
  if (!d) core::throw_errno("opendir", "/proc", errno);
  while (auto* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (!name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isdigit(c); }))
      pids.push_back(std::stoi(name));
  }
  ::closedir(d);
  return pids;
}

}  // namespace

std::vector<PodProcess> pod_processes(const core::NodeRoot& root, const core::StaticPod& pod) {
  std::vector<std::string> commands;
  for (const auto& c : pod.containers)
    if (!c.command.empty()) commands.push_back(base_name(c.command.front()));
  if (commands.empty()) commands.push_back(pod.name);
  const std::string root_prefix = root.root().string() + "/";
  std::vector<PodProcess> out;
  const int self = static_cast<int>(::getpid());
  for (int pid : all_pids()) {
    if (pid == self) continue;
    auto argv = read_cmdline(pid);
    if (argv.empty()) continue;
    if (std::find(commands.begin(), commands.end(), base_name(argv.front())) == commands.end()) continue;
    if (!root.is_real_root()) {
      bool names_root = std::any_of(argv.begin() + 1, argv.end(),
                                    [&](const std::string& a) { return a.find(root_prefix) != std::string::npos; });
      if (!names_root) continue;
    }
    out.push_back({pid, std::move(argv)});
  }
  return out;
}

RunningCheck pod_running(const core::NodeRoot& root, const core::StaticPod& pod) {
  RunningCheck r;
  if (root.is_real_root() && !core::find_program("crictl").empty()) {
    r.how = "crictl";
    std::vector<std::string> ids;
    for (const auto& c : pod.containers) {
      core::ProcessOptions opts;
      opts.timeout = std::chrono::seconds(20);
      auto p = core::run_process({"crictl", "ps", "-q", "--state", "running", "--name", "^" + c.name + "$",
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

std::string data_dir_argument(const std::vector<std::string>& argv) {
  for (std::size_t i = 1; i < argv.size(); ++i) {
    if (argv[i].rfind("--data-dir=", 0) == 0) return argv[i].substr(11);
    if (argv[i] == "--data-dir" && i + 1 < argv.size()) return argv[i + 1];
  }
  return "";
}

}  // namespace kdr::restore
