// What a backup covers: the configured sources plus every hostPath volume of the static
// pod manifests, each path once (a path inside another source is covered by it), with
// the reason it is there.
#pragma once

#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/node_root.hpp"
#include "core/static_pods.hpp"
#include "etcd/layout.hpp"

namespace kdr::backup {

struct Source {
  std::string path;  // absolute node path
  std::vector<std::string> reasons;
  bool required = false;
  bool present = false;  // exists on the node now
};

struct SourcePlan {
  etcd::EtcdLayout etcd;              // how the node runs etcd, and where its data is
  std::vector<Source> sources;        // sorted by path, none inside another
  std::vector<std::string> notes;     // paths folded into another source, or excluded
  std::vector<std::string> warnings;  // unreadable manifests, missing optional paths, ...
  // host_paths.exclude as the copy applies it: without an exclusion that would leave out
  // kube-apiserver's EncryptionConfiguration (a warning says so).
  std::vector<std::string> excludes;
};

std::string join_reasons(const Source& source);

SourcePlan plan_sources(const core::Config& config, const core::NodeRoot& root);
// The same, from manifests already read and the etcd layout found from them.
SourcePlan plan_sources(const core::Config& config, const core::NodeRoot& root, const core::StaticPodScan& scan,
                        const etcd::EtcdLayout& etcd);

// True when `path` is one of `excludes` or lies below one.
bool is_excluded(const std::string& path, const std::vector<std::string>& excludes);

}  // namespace kdr::backup
