// The generation's etcd snapshot: present, its SHA-256 trailer intact, its bbolt structure
// readable (etcd/bbolt.hpp), and revision and key count as recorded at backup time.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/context.hpp"
#include "verify/integrity.hpp"

namespace kdr::verify {

struct EtcdCheck {
  // A run the change journal covered: no snapshot of its own; etcd is this revision of the
  // journal, replayed from an older generation's snapshot (kdr journal verify checks it).
  std::optional<std::int64_t> journal_revision;
  std::string journal_base;
  bool has_snapshot = false;
  bool snapshot_ok = false;
  std::int64_t revision = 0;
  std::uint64_t total_keys = 0;
};

// `with_snapshot`, when given, is called with the snapshot's plain file once it is checked
// (uncompressed into a private folder when it is zstd), while that file is still there.
EtcdCheck check_etcd_snapshot(const core::Context& ctx, const GenerationView& g, Findings& findings,
                              const std::function<void(const core::bfs::path&)>& with_snapshot = {});

}  // namespace kdr::verify
