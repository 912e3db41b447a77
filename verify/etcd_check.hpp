// The generation's etcd snapshot: present, its SHA-256 trailer intact, `snapshot status`
// readable, and revision and key count as recorded at backup time.
#pragma once

#include <cstdint>
#include <optional>

#include "core/context.hpp"
#include "verify/integrity.hpp"

namespace kdr::verify {

struct EtcdCheck {
  bool has_snapshot = false;
  bool snapshot_ok = false;
  std::int64_t revision = 0;
  std::uint64_t total_keys = 0;
};

EtcdCheck check_etcd_snapshot(const core::Context& ctx, const GenerationView& g, Findings& findings);

}  // namespace kdr::verify
