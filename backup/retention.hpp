// Which generations to keep: the newest N, the newest of each hour for H hours, of each
// day for D days, of each ISO week for W weeks (UTC). A complete generation is preferred
// over a partial one in the same hour/day/week. The newest complete generation is always
// kept, and so is anything kdr cannot read, and the full snapshot a kept journal-covered
// generation extends.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/config.hpp"

namespace kdr::backup {

struct RetentionCandidate {
  std::string id;
  std::int64_t time = 0;  // seconds since the epoch
  bool complete = false;
  bool readable = true;
  // A run the change journal covered: its etcd is the journal replayed from this generation's
  // snapshot, which is kept as long as it is.
  std::string extends;
};

struct RetentionPlan {
  std::vector<std::string> keep;    // newest first
  std::vector<std::string> remove;  // newest first
  std::map<std::string, std::vector<std::string>> reasons;  // id -> why kept
};

RetentionPlan plan_retention(std::vector<RetentionCandidate> candidates, const core::RetentionPolicy& policy,
                             std::int64_t now);

}  // namespace kdr::backup
