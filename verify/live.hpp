// Against the live node: a recursive comparison of a generation with the paths it backed
// up, each entry classed identical, content differs, metadata differs, only in backup or
// only on the node. etcd's own files that changed after the backup (the db, the current
// WAL, new segments) are expected while etcd runs; a changed certificate, key, kubeconfig
// or manifest is not.
#pragma once

#include "core/context.hpp"
#include "verify/integrity.hpp"

namespace kdr::verify {

struct LiveStats {
  std::uint64_t identical = 0, content_differs = 0, metadata_differs = 0, only_in_backup = 0, only_on_node = 0,
                expected_etcd = 0, bytes_hashed = 0;
};

LiveStats check_live(const core::Context& ctx, const GenerationView& g, Findings& findings);

}  // namespace kdr::verify
