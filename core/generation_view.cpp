#include "core/generation_view.hpp"

#include "core/error.hpp"
#include "core/sha256.hpp"

namespace kdr::core {

GenerationView load_generation(const std::string& id, const bfs::path& dir, const GenerationMeta& meta,
                               const std::string& meta_sha256) {
  GenerationView g{id, dir, meta, std::nullopt, {}, std::nullopt, meta_sha256, {}, {}};
  g.recorded_etcd_data_dir = meta.node.recorded_etcd_data_dir();
  try {
    const auto text = read_backup_file(dir / "manifest.jsonl");
    g.manifest_sha256 = sha256_hex(text);
    g.manifest = Manifest::parse(text, (dir / "manifest.jsonl").string());
  } catch (const Error& e) {
    g.manifest_problem = e.what();
  }
  for (const auto& a : meta.artifacts) g.artifacts.push_back({a.path, a.sha256, a.size});
  return g;
}

bool safe_artifact_path(const std::string& p) {
  if (p.empty() || p.front() == '/' || p.rfind("files/", 0) == 0) return false;
  for (std::size_t pos = 0; pos <= p.size();) {
    auto next = p.find('/', pos);
    if (next == std::string::npos) next = p.size();
    const auto part = p.substr(pos, next - pos);
    if (part.empty() || part == "." || part == "..") return false;
    pos = next + 1;
  }
  return p.find('\0') == std::string::npos;
}

std::string etcd_data_dir_of(const GenerationView& g, const Config& config) {
  return g.recorded_etcd_data_dir ? *g.recorded_etcd_data_dir : config.etcd_data_dir;
}

StaticPodScan generation_pods(const GenerationView& g, const std::string& static_pod_path) {
  StaticPodScan scan;
  if (!g.manifest) return scan;
  for (const auto& e : g.manifest->entries) {
    if (e.type != FileType::file) continue;
    if (bfs::path(e.path).parent_path().string() != static_pod_path) continue;
    const auto name = bfs::path(e.path).filename().string();
    if (name.empty() || name[0] == '.') continue;
    try {
      auto pod = parse_static_pod(read_backup_file(g.dir / generation_relative_path(e.path)), e.path);
      pod.file = e.path;
      scan.pods.push_back(pod);
    } catch (const Error& err) {
      scan.problems.push_back(err.what());
    }
  }
  return scan;
}

}  // namespace kdr::core
