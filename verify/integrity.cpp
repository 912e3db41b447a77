#include "verify/integrity.hpp"

#include "etcd/layout.hpp"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include "core/error.hpp"
#include "core/node_root.hpp"
#include "core/parallel.hpp"
#include "core/sha256.hpp"

namespace kdr::verify {

using core::FileType;

namespace {

constexpr const char* integrity_check = "integrity";

// SHA256SUMS as sha256sum writes it: "<hash>  <name>", a leading backslash for escaped names.
std::map<std::string, std::string> parse_sums(const std::string& text, Findings& findings) {
  std::map<std::string, std::string> sums;
  std::size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    bool escaped = !line.empty() && line.front() == '\\';
    if (escaped) line.erase(0, 1);
    if (line.size() < 67 || line.compare(64, 2, "  ") != 0 || !core::is_sha256_hex(line.substr(0, 64))) {
      findings.add(Severity::error, integrity_check, "sums", "SHA256SUMS", fmt::format("line {} is malformed", line_no));
      continue;
    }
    std::string name = line.substr(66);
    if (escaped) {
      std::string un;
      for (std::size_t i = 0; i < name.size(); ++i) {
        if (name[i] == '\\' && i + 1 < name.size()) {
          un += name[i + 1] == 'n' ? '\n' : name[i + 1];
          ++i;
        } else {
          un += name[i];
        }
      }
      name = un;
    }
    sums[name] = line.substr(0, 64);
  }
  return sums;
}

// The folders above the sources (/var, /var/lib for /var/lib/etcd) hold the tree together
// and are not entries of their own.
std::set<std::string> ancestors_of(const core::Manifest& m) {
  std::set<std::string> out;
  for (const auto& e : m.entries)
    for (auto slash = e.path.rfind('/'); slash != std::string::npos && slash > 0; slash = e.path.rfind('/', slash - 1))
      if (!out.insert(e.path.substr(0, slash)).second) break;
  return out;
}

void walk_extra(const core::bfs::path& dir, const std::string& node_path,
                const std::unordered_map<std::string, std::size_t>& index, const std::set<std::string>& ancestors,
                Findings& findings) {
  for (const auto& name : core::list_dir(dir)) {
    const std::string child = node_path == "/" ? "/" + name : node_path + "/" + name;
    const auto p = dir / name;
    auto st = core::lstat_path(p);
    const bool known = index.count(child) != 0 ||
                       (st && st->type == core::FileType::directory && ancestors.count(child) != 0);
    if (!known) {
      findings.add(Severity::error, integrity_check, "extra", child,
                   "in the generation's files/ but not in its manifest (added after the backup?)");
    }
    if (st && st->type == FileType::directory) walk_extra(p, child, index, ancestors, findings);
  }
}

// Hostile or damaged layouts that could make verify or a restore read or write outside the
// generation or outside a restore target. Returns the entries that must not be touched.
std::set<std::size_t> check_layout(const GenerationView& g, Findings& findings) {
  std::set<std::size_t> unsafe;
  const auto& entries = g.manifest->entries;
  const auto index = g.manifest->index();

  // 1. every entry lies within a source the generation recorded (a generation that records
  // none, which kdr never writes, vouches for no entry)
  if (g.meta.sources.empty() && !entries.empty()) {
    findings.add(Severity::error, integrity_check, "outside-sources", entries.front().path,
                 fmt::format("meta.json records no sources: none of the {} entries is restored", entries.size()));
    for (std::size_t i = 0; i < entries.size(); ++i) unsafe.insert(i);
  }
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    const bool covered = std::any_of(g.meta.sources.begin(), g.meta.sources.end(),
                                     [&](const auto& s) { return core::node_path_within(e.path, s.path); });
    if (!covered && !g.meta.sources.empty()) {
      findings.add(Severity::error, integrity_check, "outside-sources", e.path,
                   "lies outside every source of this generation: a restore never writes it");
      unsafe.insert(i);
    }
  }
  // 2. no entry lies beneath a symlink entry (a restore would write through the link)
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& path = entries[i].path;
    for (auto slash = path.rfind('/'); slash != std::string::npos && slash > 0; slash = path.rfind('/', slash - 1)) {
      auto it = index.find(path.substr(0, slash));
      if (it != index.end() && entries[it->second].type == FileType::symlink) {
        findings.add(Severity::error, integrity_check, "beneath-symlink", path,
                     fmt::format("lies beneath the symlink {} (-> {}): writing it would write through the link",
                                 entries[it->second].path, entries[it->second].target));
        unsafe.insert(i);
        break;
      }
    }
  }
  // 3. on disk, every folder above an entry is a real folder of the generation
  std::map<std::string, bool> dir_ok;  // generation-relative folder -> a real folder
  const auto real_dir = [&](const std::string& rel) {
    auto [it, fresh] = dir_ok.emplace(rel, false);
    if (fresh) {
      auto st = core::lstat_path(g.dir / rel);
      it->second = st && st->type == FileType::directory;
    }
    return it->second;
  };
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto rel = core::generation_relative_path(entries[i].path);
    for (auto slash = rel.find('/'); slash != std::string::npos; slash = rel.find('/', slash + 1)) {
      if (real_dir(rel.substr(0, slash))) continue;
      if (core::lstat_path(g.dir / rel.substr(0, slash)))
        findings.add(Severity::error, integrity_check, "unsafe-path", entries[i].path,
                     fmt::format("{} in the generation is not a folder (a symlink?): not followed", rel.substr(0, slash)));
      unsafe.insert(i);
      break;
    }
  }
  // 4. symlinks that point outside their source are restored as links and never followed;
  // kubeadm writes none under /etc/kubernetes or the etcd data dir, CA bundles have many
  std::size_t outside = 0;
  std::string first_outside;
  for (const auto& e : entries) {
    if (e.type != FileType::symlink) continue;
    const auto source = std::find_if(g.meta.sources.begin(), g.meta.sources.end(),
                                     [&](const auto& s) { return core::node_path_within(e.path, s.path); });
    if (source == g.meta.sources.end()) continue;
    std::string resolved = e.target;
    if (resolved.empty() || resolved.front() != '/') resolved = e.path.substr(0, e.path.rfind('/') + 1) + resolved;
    if (core::node_path_within(core::lexically_normal_node_path(resolved), source->path)) continue;
    if (outside++ == 0) first_outside = e.path;
    if (core::node_path_within(e.path, "/etc/kubernetes") || core::node_path_within(e.path, "/var/lib/etcd"))
      findings.add(Severity::warning, integrity_check, "symlink-outside", e.path,
                   fmt::format("points outside {} (-> {}); it is restored as a link and never followed", source->path,
                               e.target));
  }
  if (outside > 0)
    findings.add(Severity::info, integrity_check, "symlink-outside", first_outside,
                 fmt::format("{} symlink(s) point outside their source (CA bundles do); restored as links, never "
                             "followed",
                             outside));
  return unsafe;
}

// Files of the generation that share their data with files outside the backup folder: a
// hard link planted into the generation. Links between generations (unchanged files) are
// kdr's own and are counted inside.
void check_hard_links(const GenerationView& g, const std::set<std::size_t>& unsafe, Findings& findings) {
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::pair<std::size_t, std::uint64_t>> linked;  // -> entry, nlink
  const auto& entries = g.manifest->entries;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].type != FileType::file || unsafe.count(i)) continue;
    auto st = core::lstat_path(g.dir / core::generation_relative_path(entries[i].path));
    if (st && st->type == FileType::file && st->nlink > 1) linked[{st->dev, st->ino}] = {i, st->nlink};
  }
  if (linked.empty()) return;
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::uint64_t> seen;
  const auto generations = g.dir.parent_path();
  std::vector<core::bfs::path> stack{generations};
  while (!stack.empty()) {
    const auto dir = stack.back();
    stack.pop_back();
    std::vector<std::string> names;
    try {
      names = core::list_dir(dir);
    } catch (const core::Error&) {
      continue;
    }
    for (const auto& name : names) {
      auto st = core::lstat_path(dir / name);
      if (!st) continue;
      if (st->type == FileType::directory) stack.push_back(dir / name);
      else if (st->type == FileType::file && linked.count({st->dev, st->ino})) ++seen[{st->dev, st->ino}];
    }
  }
  for (const auto& [key, value] : linked) {
    const auto inside = seen[key];
    if (inside < value.second)
      findings.add(Severity::error, integrity_check, "hard-link-outside", entries[value.first].path,
                   fmt::format("shares its data with {} file(s) outside the backup folder: whoever writes there "
                               "changes this backup",
                               value.second - inside));
  }
}

}  // namespace

GenerationView load_generation(const std::string& id, const core::bfs::path& dir, const core::GenerationMeta& meta,
                               const std::string& meta_sha256, Findings& findings) {
  auto g = core::load_generation(id, dir, meta, meta_sha256);
  if (!g.manifest_problem.empty())
    findings.add(Severity::error, integrity_check, "manifest", "manifest.jsonl",
                 fmt::format("the manifest cannot be read: {}", g.manifest_problem));
  return g;
}

bool HashScope::hashes_entry(const std::string& node_path) const {
  if (everything) return true;
  return std::any_of(paths.begin(), paths.end(), [&](const std::string& p) { return core::node_path_within(node_path, p); });
}

std::uint64_t bytes_to_hash(const GenerationView& g, const HashScope& scope) {
  std::uint64_t bytes = 0;
  if (g.manifest)
    for (const auto& e : g.manifest->entries)
      if (e.type == FileType::file && scope.hashes_entry(e.path)) bytes += e.size;
  for (const auto& a : g.artifacts)
    if (scope.hashes_artifact(a.path)) bytes += a.size;
  return bytes;
}

IntegrityStats check_integrity(const GenerationView& g, const std::string& etcd_data_dir, Findings& findings,
                               core::Progress* progress, const HashScope& scope) {
  IntegrityStats stats;
  if (!g.manifest) return stats;
  const auto& entries = g.manifest->entries;
  const bool as_root = ::geteuid() == 0;
  const auto unsafe = check_layout(g, findings);
  check_hard_links(g, unsafe, findings);
  // Files and the generation's own files are hashed together, largest first, on every core:
  // the etcd snapshot and the raw copy of its database at the same time.
  struct ToHash {
    std::string file, name, sha256;
    std::uint64_t size;
  };
  std::vector<ToHash> to_hash;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    ++stats.entries;
    if (unsafe.count(i)) continue;
    const auto p = g.dir / core::generation_relative_path(e.path);
    auto st = core::lstat_path(p);
    if (!st) {
      findings.add(Severity::error, integrity_check, "missing", e.path, "in the manifest but not in the generation");
      continue;
    }
    if (st->type != e.type) {
      findings.add(Severity::error, integrity_check, "type", e.path,
                   fmt::format("is a {}, the manifest says {}", core::to_string(st->type), core::to_string(e.type)));
      continue;
    }
    if (e.type != FileType::symlink && st->mode != e.mode)
      findings.add(Severity::error, integrity_check, "mode", e.path,
                   fmt::format("mode {}, the manifest says {}", core::mode_to_string(st->mode), core::mode_to_string(e.mode)));
    if (as_root && (st->uid != e.uid || st->gid != e.gid))
      findings.add(Severity::error, integrity_check, "owner", e.path,
                   fmt::format("owner {}:{}, the manifest says {}:{}", st->uid, st->gid, e.uid, e.gid));
    if (e.type == FileType::symlink) {
      const auto target = core::read_link(p).value_or("");
      if (target != e.target)
        findings.add(Severity::error, integrity_check, "target", e.path,
                     fmt::format("points at '{}', the manifest says '{}'", target, e.target));
      continue;
    }
    if (e.type == FileType::file) {
      if (st->size != e.size) {
        findings.add(Severity::error, integrity_check, st->size < e.size ? "truncated" : "size", e.path,
                     fmt::format("{} bytes, the manifest says {}", st->size, e.size));
        continue;
      }
      if (scope.hashes_entry(e.path)) to_hash.push_back({(g.dir / core::generation_relative_path(e.path)).string(), e.path, e.sha256, e.size});
      if (e.torn) {
        const bool etcd = !etcd_data_dir.empty() && core::node_path_within(e.path, etcd_data_dir);
        findings.add(etcd ? Severity::info : Severity::warning, integrity_check, "torn", e.path,
                     etcd ? "copied while etcd wrote to it; the consistent copy is the snapshot"
                          : "kept changing while it was copied; the copy may be inconsistent");
      }
    }
    if (st->mtime_sec != e.mtime_sec || st->mtime_nsec != e.mtime_nsec)
      findings.add(Severity::warning, integrity_check, "mtime", e.path, "modification time differs from the manifest");
  }

  const auto files_dir = g.dir / "files";
  if (core::lstat_path(files_dir)) walk_extra(files_dir, "/", g.manifest->index(), ancestors_of(*g.manifest), findings);

  // The generation's own files and SHA256SUMS
  std::map<std::string, std::string> expected;
  for (const auto& a : g.artifacts) {
    if (!core::safe_artifact_path(a.path)) {
      findings.add(Severity::error, integrity_check, "unsafe-path", a.path,
                   "meta.json names a generation file outside the generation's own folders: not read");
      continue;
    }
    expected[a.path] = a.sha256;
    const auto p = g.dir / a.path;
    const auto st = core::lstat_path(p);
    if (!st) {
      findings.add(Severity::error, integrity_check, "missing", a.path, "recorded in meta.json but not in the generation");
      continue;
    }
    if (st->type != FileType::file) {
      findings.add(Severity::error, integrity_check, "type", a.path, "is not a regular file (a symlink?): not read");
      continue;
    }
    if (scope.hashes_artifact(a.path)) to_hash.push_back({p.string(), a.path, a.sha256, st->size});
  }
  std::sort(to_hash.begin(), to_hash.end(), [](const ToHash& x, const ToHash& y) { return x.size > y.size; });
  std::mutex mutex;
  core::parallel_for(to_hash.size(), [&](std::size_t k) {
    const auto& h = to_hash[k];
    std::string actual;
    try {
      actual = core::sha256_file(h.file);
    } catch (const core::Error& ex) {
      std::lock_guard lock(mutex);
      findings.add(Severity::error, integrity_check, "unreadable", h.name, ex.what());
      return;
    }
    if (progress) progress->add(h.size);
    std::lock_guard lock(mutex);
    ++stats.files_hashed;
    stats.bytes_hashed += h.size;
    if (actual != h.sha256)
      findings.add(Severity::error, integrity_check, "content", h.name,
                   fmt::format("content does not match its SHA-256 (expected {}..., found {}...)", h.sha256.substr(0, 12),
                               actual.substr(0, 12)));
  });
  for (const auto& e : entries)
    if (e.type == FileType::file) expected[core::generation_relative_path(e.path)] = e.sha256;
  std::string sums_text;
  try {
    sums_text = core::read_backup_file(g.dir / "SHA256SUMS");
  } catch (const core::Error& e) {
    findings.add(Severity::error, integrity_check, "sums", "SHA256SUMS", e.what());
    return stats;
  }
  const auto sums = parse_sums(sums_text, findings);
  for (const auto& [name, hash] : expected) {
    auto it = sums.find(name);
    if (it == sums.end())
      findings.add(Severity::error, integrity_check, "sums", name, "missing from SHA256SUMS");
    else if (it->second != hash)
      findings.add(Severity::error, integrity_check, "sums", name, "SHA256SUMS and the manifest disagree");
  }
  for (const auto& [name, hash] : sums)
    if (!expected.count(name)) findings.add(Severity::error, integrity_check, "sums", name, "in SHA256SUMS but not in the manifest");
  return stats;
}

}  // namespace kdr::verify
