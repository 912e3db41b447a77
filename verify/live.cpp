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

constexpr const char* live_check = "live";

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

namespace {

// One comparison of a generation with the live node, phase by phase: the live paths walked,
// each compared by type, size, target and metadata; the files of equal size hashed (on every
// core); then what the backup holds that the node lacks.
class LiveComparison {
 public:
  LiveComparison(const core::Context& ctx, const GenerationView& g, Findings& findings)
      : ctx_(ctx),
        g_(g),
        findings_(findings),
        etcd_dir_(etcd_data_dir_of(g, ctx.config)),
        index_(g.manifest->index()),
        as_root_(ctx.host->euid() == 0) {}

  LiveStats run() {
    for (const auto& s : g_.meta.sources)
      if (s.present) walk(ctx_.root, s.path, ctx_.config.exclude, live_);
    for (std::size_t i = 0; i < live_.size(); ++i) compare_entry(i);
    hash_same_sized();
    note_missing_on_node();
    return stats_;
  }

 private:
  // A difference, weighed: etcd's own files changing after the backup are expected.
  void note(const std::string& path, const FileStat* st, std::string kind, const std::string& what) {
    const bool after = st != nullptr && st->mtime_sec >= g_.meta.time;
    const auto severity = weigh(path, etcd_dir_, after || kind == "only-on-node");
    if (severity == Severity::info) {
      ++stats_.expected_etcd;
      findings_.add(Severity::info, live_check, "expected-etcd-change", path,
                    what + " (expected: etcd kept writing after the backup)");
      return;
    }
    findings_.add(severity, live_check, std::move(kind), path, what);
  }

  bool metadata_differs(const FileStat& st, const core::ManifestEntry& e) const {
    return st.mode != e.mode || (as_root_ && (st.uid != e.uid || st.gid != e.gid));
  }

  // Everything but the content of files of equal size (those go to hash_same_sized).
  void compare_entry(std::size_t i) {
    const auto& l = live_[i];
    seen_.insert(l.path);
    auto it = index_.find(l.path);
    if (it == index_.end()) {
      ++stats_.only_on_node;
      note(l.path, &l.st, "only-on-node", "on the node, not in the backup");
      return;
    }
    const auto& e = g_.manifest->entries[it->second];
    if (e.type != l.st.type) {
      ++stats_.content_differs;
      note(l.path, &l.st, "type-differs",
           fmt::format("a {} on the node, a {} in the backup", core::to_string(l.st.type), core::to_string(e.type)));
    } else if (e.type == FileType::symlink) {
      if (core::read_link(ctx_.root.host(l.path)).value_or("") != e.target) {
        ++stats_.content_differs;
        note(l.path, &l.st, "content-differs", "the symlink points elsewhere on the node");
      } else {
        ++stats_.identical;
      }
    } else if (e.type == FileType::file) {
      if (l.st.size == e.size) to_hash_.push_back(i);
      else compare_sizes(l, e);
    } else if (metadata_differs(l.st, e)) {  // folders: metadata only
      ++stats_.metadata_differs;
      note(l.path, &l.st, "metadata-differs", "mode or owner differs");
    } else {
      ++stats_.identical;
    }
  }

  void compare_sizes(const LivePath& l, const core::ManifestEntry& e) {
    ++stats_.content_differs;
    // etcd's database far smaller than the backup's is not etcd writing on: the live-etcd
    // check (verify/etcd_live.cpp) judges it by what etcd answers.
    if (etcd_db_shrank(l.path, etcd_dir_, l.st.size, e.size)) {
      ++stats_.expected_etcd;
      findings_.add(Severity::info, live_check, "etcd-db-rewritten", l.path,
                    fmt::format("{} bytes on the node, {} in the backup: rewritten smaller (a snapshot restore or a "
                                "defragmentation); whole only if etcd serves its keys (check live-etcd)",
                                l.st.size, e.size));
      return;
    }
    note(l.path, &l.st, "content-differs", fmt::format("{} bytes on the node, {} in the backup", l.st.size, e.size));
  }

  void hash_same_sized() {
    std::mutex mutex;
    core::parallel_for(to_hash_.size(), [&](std::size_t k) {
      const auto& l = live_[to_hash_[k]];
      const auto& e = g_.manifest->entries[index_.at(l.path)];
      std::string hash;
      try {
        hash = core::sha256_file(ctx_.root.host(l.path).string());
      } catch (const core::Error& ex) {
        std::lock_guard lock(mutex);
        findings_.add(Severity::warning, live_check, "unreadable", l.path, ex.what());
        return;
      }
      std::lock_guard lock(mutex);
      stats_.bytes_hashed += l.st.size;
      if (hash != e.sha256) {
        ++stats_.content_differs;
        note(l.path, &l.st, "content-differs", "same size, different content");
      } else if (metadata_differs(l.st, e) || l.st.mtime_sec != e.mtime_sec || l.st.mtime_nsec != e.mtime_nsec) {
        ++stats_.metadata_differs;
        note(l.path, &l.st, "metadata-differs",
             fmt::format("same content; mode {} owner {}:{} on the node, mode {} owner {}:{} in the backup (or mtime)",
                         core::mode_to_string(l.st.mode), l.st.uid, l.st.gid, core::mode_to_string(e.mode), e.uid,
                         e.gid));
      } else {
        ++stats_.identical;
      }
    });
  }

  void note_missing_on_node() {
    for (const auto& e : g_.manifest->entries) {
      if (seen_.count(e.path) || backup::is_excluded(e.path, ctx_.config.exclude)) continue;
      ++stats_.only_in_backup;
      // gone from the node: within etcd's data dir that is etcd's own housekeeping
      if (weigh(e.path, etcd_dir_, true) == Severity::info) {
        ++stats_.expected_etcd;
        findings_.add(Severity::info, live_check, "expected-etcd-change", e.path,
                      "in the backup, gone from the node (expected: etcd rotates its files)");
      } else {
        findings_.add(weigh(e.path, etcd_dir_, true), live_check, "only-in-backup", e.path,
                      "in the backup, missing on the node");
      }
    }
  }

  const core::Context& ctx_;
  const GenerationView& g_;
  Findings& findings_;
  const std::string etcd_dir_;
  const std::unordered_map<std::string, std::size_t> index_;
  const bool as_root_;
  LiveStats stats_;
  std::vector<LivePath> live_;
  std::unordered_set<std::string> seen_;
  std::vector<std::size_t> to_hash_;  // indexes into live_ whose content must be hashed
};

}  // namespace

LiveStats check_live(const core::Context& ctx, const GenerationView& g, Findings& findings) {
  if (!g.manifest) return {};
  return LiveComparison(ctx, g, findings).run();
}

}  // namespace kdr::verify
