// verify's look at the etcd change journal: its breaks (gaps), a follower that does not run or
// lags, and the segment being written read through (checksums, continuity, digests). The whole
// journal, every segment, is `kdr journal verify`.
#pragma once

#include <cstdint>
#include <optional>

#include "core/context.hpp"
#include "core/node_key.hpp"
#include "verify/findings.hpp"

namespace kdr::verify {

struct JournalFacts {
  std::uint32_t epochs = 0;
  std::size_t gaps = 0;
  std::int64_t position = 0;
  bool follower_running = false;
};

// Empty when there is no journal in the backup folder. `live`: the follower's state is a
// fact of the node now, checked only when verify looks at the node.
// `key`: the node's key, which checks the newest segments' seals (null: none here).
std::optional<JournalFacts> check_journal(const core::Context& ctx, bool live, const core::NodeKey* key,
                                          Findings& findings);

}  // namespace kdr::verify
