#include "core/static_pods.hpp"

#include <yaml-cpp/yaml.h>

#include "core/error.hpp"

namespace kdr::core {

namespace {

std::string at_line(const std::string& origin, const YAML::Node& node) {
  const auto mark = node.Mark();
  return mark.line < 0 ? origin : fmt::format("{}:{}", origin, mark.line + 1);
}

std::string scalar_or_empty(const YAML::Node& node) {
  return node && node.IsScalar() ? node.Scalar() : std::string();
}

void read_strings(const YAML::Node& list, std::vector<std::string>& out) {
  if (!list || !list.IsSequence()) return;
  for (const auto& v : list)
    if (v.IsScalar()) out.push_back(v.Scalar());
}

void read_containers(const YAML::Node& list, StaticPod& pod) {
  if (!list || !list.IsSequence()) return;
  for (const auto& c : list) {
    if (!c.IsMap()) continue;
    Container container;
    container.name = scalar_or_empty(c["name"]);
    container.image = scalar_or_empty(c["image"]);
    read_strings(c["command"], container.command);
    read_strings(c["args"], container.command);
    if (const auto mounts = c["volumeMounts"]; mounts && mounts.IsSequence())
      for (const auto& m : mounts)
        if (m.IsMap()) container.mounts.push_back({scalar_or_empty(m["name"]), scalar_or_empty(m["mountPath"])});
    if (!container.image.empty()) pod.images.push_back(container.image);
    pod.containers.push_back(std::move(container));
  }
}

}  // namespace

StaticPod parse_static_pod(std::string_view text, const std::string& origin) {
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(text));
  } catch (const YAML::ParserException& e) {
    throw Error(fmt::format("{}:{}: not valid YAML: {}", origin, e.mark.line + 1, e.msg));
  }
  if (!doc.IsMap()) throw Error(fmt::format("{}: not a pod manifest (expected a mapping)", origin));
  if (scalar_or_empty(doc["kind"]) != "Pod")
    throw Error(fmt::format("{}: not a pod manifest (kind is '{}')", origin, scalar_or_empty(doc["kind"])));
  StaticPod pod;
  pod.file = origin;
  if (const auto meta = doc["metadata"]; meta && meta.IsMap()) pod.name = scalar_or_empty(meta["name"]);
  const auto spec = doc["spec"];
  if (!spec || !spec.IsMap()) throw Error(fmt::format("{}: pod has no spec", origin));
  read_containers(spec["initContainers"], pod);
  read_containers(spec["containers"], pod);
  const auto volumes = spec["volumes"];
  if (!volumes) return pod;
  if (!volumes.IsSequence()) throw Error(fmt::format("{}: spec.volumes is not a list", at_line(origin, volumes)));
  for (const auto& v : volumes) {
    if (!v.IsMap()) throw Error(fmt::format("{}: a volume is not a mapping", at_line(origin, v)));
    const auto hp = v["hostPath"];
    if (!hp) continue;
    if (!hp.IsMap() || !hp["path"] || !hp["path"].IsScalar())
      throw Error(fmt::format("{}: hostPath volume without a path", at_line(origin, v)));
    pod.host_paths.push_back({scalar_or_empty(v["name"]), hp["path"].Scalar(), scalar_or_empty(hp["type"])});
  }
  return pod;
}

std::optional<std::string> StaticPod::flag(std::string_view flag_name) const {
  const std::string eq = "--" + std::string(flag_name) + "=";
  const std::string bare = "--" + std::string(flag_name);
  for (const auto& c : containers) {
    for (std::size_t i = 0; i < c.command.size(); ++i) {
      const auto& a = c.command[i];
      if (a.compare(0, eq.size(), eq) == 0) return a.substr(eq.size());
      if (a == bare && i + 1 < c.command.size()) return c.command[i + 1];
    }
  }
  return std::nullopt;
}

namespace {
// The deepest mount of `c` that holds `container_path`.
const VolumeMount* mount_of(const Container& c, const std::string& container_path) {
  const VolumeMount* best = nullptr;
  for (const auto& m : c.mounts)
    if (node_path_within(container_path, m.mount_path) && (best == nullptr || m.mount_path.size() > best->mount_path.size()))
      best = &m;
  return best;
}
}  // namespace

std::optional<std::string> StaticPod::volume_of(const Container& c, const std::string& container_path) const {
  const VolumeMount* mount = mount_of(c, container_path);
  if (mount == nullptr) return std::nullopt;
  for (const auto& hp : host_paths)
    if (hp.name == mount->name) return hp.name;
  return std::nullopt;
}

std::optional<std::string> StaticPod::host_path_of(const Container& c, const std::string& container_path) const {
  const VolumeMount* best = mount_of(c, container_path);
  if (best == nullptr) return std::nullopt;
  for (const auto& hp : host_paths) {
    if (hp.name != best->name) continue;
    std::string mount = best->mount_path;
    while (mount.size() > 1 && mount.back() == '/') mount.pop_back();
    std::string host = hp.path;
    while (host.size() > 1 && host.back() == '/') host.pop_back();
    return host + container_path.substr(mount == "/" ? 0 : mount.size());
  }
  return std::nullopt;
}

const StaticPod* find_pod(const StaticPodScan& scan, std::string_view component) {
  for (const auto& p : scan.pods)
    if (p.name == component || (!p.containers.empty() && p.containers.front().name == component))
      return &p;
  return nullptr;
}

StaticPodScan scan_static_pods(const NodeRoot& root, const std::string& static_pod_path) {
  StaticPodScan scan;
  const auto dir = root.host(static_pod_path);
  auto st = lstat_path(dir);
  if (!st || st->type != FileType::directory) {
    scan.problems.push_back(fmt::format("static pod folder {} does not exist", static_pod_path));
    return scan;
  }
  for (const auto& name : list_dir(dir)) {
    if (name.front() == '.') continue;  // the kubelet ignores hidden files
    const std::string node_file = static_pod_path + "/" + name;
    try {
      auto fst = lstat_path(dir / name);
      if (!fst || fst->type != FileType::file) continue;
      scan.pods.push_back(parse_static_pod(read_file(dir / name), node_file));
    } catch (const Error& e) {
      scan.problems.emplace_back(e.what());
    }
  }
  return scan;
}

}  // namespace kdr::core
