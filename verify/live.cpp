#include "verify/live.hpp"

#include "verify/etcd_live.hpp"

#include <unistd.h>

#include <mutex>
#include <unordered_set>

#include "backup/sources.hpp"
#include "core/error.hpp"
#include "core/node_root.hpp"
#include "core/parallel.hpp"
#include "core/sha256.hpp"

namespace kdr::verify {

using core::FileStat;
using core::FileType;

namespace {

constexpr const char* check_name = "live";

struct LivePath {
  std::string path;
  FileStat st;
};

void walk(const core::NodeRoot& root, const std::string& node_path, const std::vector<std::string>& excludes,
          std::vector<LivePath>& out) {
  if (backup::is_excluded(node_path, excludes)) return;
  auto st = core::lstat_path(root.host(node_path));
  if (!st || st->type == FileType::other) return;
  out.push_back({node_path, *st});
  if (st->type != FileType::directory) return;
  std::vector<std::string> names;
  try {
    names = core::list_dir(root.host(node_path));
  } catch (const core::Error&) {
    return;
  }
  for (const auto& n : names) walk(root, node_path == "/" ? "/" + n : node_path + "/" + n, excludes, out);
}

// How much a difference matters: etcd's files move on while etcd runs; what kubeadm
// wrote under /etc/kubernetes must not change behind the operator's back.
Severity weigh(const std::string& path, const std::string& etcd_data_dir, bool changed_after_backup) {
  if (!etcd_data_dir.empty() && core::node_path_within(path, etcd_data_dir) && changed_after_backup)
    return Severity::info;
  if (core::node_path_within(path, "/etc/kubernetes")) return Severity::error;
  return Severity::warning;
}

}  // namespace

LiveStats check_live(const core::Context& ctx, const GenerationView& g, Findings& findings) {
  LiveStats stats;
  if (!g.manifest) return stats;
  const auto etcd_dir = etcd_data_dir_of(g, ctx.config);
  const auto index = g.manifest->index();
  const bool as_root = ctx.host->euid() == 0;
  std::vector<LivePath> live;
  for (const auto& s : g.meta.sources)
    if (s.present) walk(ctx.root, s.path, ctx.config.exclude, live);

  auto note = [&](const std::string& path, const FileStat* st, std::string kind, const std::string& what) {
    const bool after = st != nullptr && st->mtime_sec >= g.meta.time;
    const auto severity = weigh(path, etcd_dir, after || kind == "only-on-node");
    if (severity == Severity::info) {
      ++stats.expected_etcd;
      findings.add(Severity::info, check_name, "expected-etcd-change", path,
                   what + " (expected: etcd kept writing after the backup)");
      return;
    }
    findings.add(severity, check_name, std::move(kind), path, what);
  };

  std::unordered_set<std::string> seen;
  std::vector<std::size_t> compare;  // indexes into live whose content must be hashed
  for (std::size_t i = 0; i < live.size(); ++i) {
    const auto& l = live[i];
    seen.insert(l.path);
    auto it = index.find(l.path);
    if (it == index.end()) {
      ++stats.only_on_node;
      note(l.path, &l.st, "only-on-node", "on the node, not in the backup");
      continue;
    }
    const auto& e = g.manifest->entries[it->second];
    if (e.type != l.st.type) {
      ++stats.content_differs;
      note(l.path, &l.st, "type-differs",
           fmt::format("a {} on the node, a {} in the backup", core::to_string(l.st.type), core::to_string(e.type)));
      continue;
    }
    if (e.type == FileType::symlink) {
      if (core::read_link(ctx.root.host(l.path)).value_or("") != e.target) {
        ++stats.content_differs;
        note(l.path, &l.st, "content-differs", "the symlink points elsewhere on the node");
      } else {
        ++stats.identical;
      }
      continue;
    }
    if (e.type == FileType::file) {
      if (l.st.size != e.size) {
        ++stats.content_differs;
        // etcd's database far smaller than the backup's is not etcd writing on: the live-etcd
        // check (verify/etcd_live.cpp) judges it by what etcd answers.
        if (etcd_db_shrank(l.path, etcd_dir, l.st.size, e.size)) {
          ++stats.expected_etcd;
          findings.add(Severity::info, check_name, "etcd-db-rewritten", l.path,
                       fmt::format("{} bytes on the node, {} in the backup: rewritten smaller (a snapshot restore or "
                                   "a defragmentation); whole only if etcd serves its keys (check live-etcd)",
                                   l.st.size, e.size));
          continue;
        }
        note(l.path, &l.st, "content-differs", fmt::format("{} bytes on the node, {} in the backup", l.st.size, e.size));
        continue;
      }
      compare.push_back(i);
      continue;
    }
    // folders: metadata only
    if (l.st.mode != e.mode || (as_root && (l.st.uid != e.uid || l.st.gid != e.gid))) {
      ++stats.metadata_differs;
      note(l.path, &l.st, "metadata-differs", "mode or owner differs");
    } else {
      ++stats.identical;
    }
  }

  std::mutex mutex;
  core::parallel_for(compare.size(), [&](std::size_t k) {
    const auto& l = live[compare[k]];
    const auto& e = g.manifest->entries[index.at(l.path)];
    std::string hash;
    try {
      hash = core::sha256_file(ctx.root.host(l.path).string());
    } catch (const core::Error& ex) {
      std::lock_guard lock(mutex);
      findings.add(Severity::warning, check_name, "unreadable", l.path, ex.what());
      return;
    }
    std::lock_guard lock(mutex);
    stats.bytes_hashed += l.st.size;
    if (hash != e.sha256) {
      ++stats.content_differs;
      note(l.path, &l.st, "content-differs", "same size, different content");
    } else if (l.st.mode != e.mode || (as_root && (l.st.uid != e.uid || l.st.gid != e.gid)) ||
               l.st.mtime_sec != e.mtime_sec || l.st.mtime_nsec != e.mtime_nsec) {
      ++stats.metadata_differs;
      note(l.path, &l.st, "metadata-differs",
           fmt::format("same content; mode {} owner {}:{} on the node, mode {} owner {}:{} in the backup (or mtime)",
                       core::mode_to_string(l.st.mode), l.st.uid, l.st.gid, core::mode_to_string(e.mode), e.uid, e.gid));
    } else {
      ++stats.identical;
    }
  });

  for (const auto& e : g.manifest->entries) {
    if (seen.count(e.path) || backup::is_excluded(e.path, ctx.config.exclude)) continue;
    ++stats.only_in_backup;
    // gone from the node: within etcd's data dir that is etcd's own housekeeping
    const auto severity = weigh(e.path, etcd_dir, true);
    if (severity == Severity::info) {
      ++stats.expected_etcd;
      findings.add(Severity::info, check_name, "expected-etcd-change", e.path,
                   "in the backup, gone from the node (expected: etcd rotates its files)");
    } else {
      findings.add(severity, check_name, "only-in-backup", e.path, "in the backup, missing on the node");
    }
  }
  return stats;
}

}  // namespace kdr::verify
