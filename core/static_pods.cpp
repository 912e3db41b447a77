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

void read_containers(const YAML::Node& list, StaticPod& pod) {
  if (!list || !list.IsSequence()) return;
  for (const auto& c : list) {
    if (!c.IsMap()) continue;
    auto image = scalar_or_empty(c["image"]);
    if (!image.empty()) pod.images.push_back(image);
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
