// `kdr history`: every change of one object the change journal holds, across its epochs,
// oldest first: when, at which revision, what (created, updated, deleted), by which field
// manager (the newest entry of the object's managedFields: who wrote it), and what changed
// from the version before, field by field. The journal's first change of the object is
// compared with the object in the keyspace just before it (the journal over its base
// snapshot), when that can be read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/context.hpp"
#include "objects/diff.hpp"
#include "objects/query.hpp"

namespace kdr::objects {

struct HistoryEntry {
  std::uint32_t epoch = 0;
  std::int64_t revision = 0, time_ms = 0;
  enum class What { created, updated, deleted } what = What::updated;
  std::string manager, operation;    // from managedFields; empty for a delete
  bool first_seen = false;           // no earlier version in the journal to compare with
  std::vector<FieldChange> fields;   // against the version before
  std::string problem;               // the value could not be read
};

// Throws Error when there is no journal; an object it never saw has no entries.
std::vector<HistoryEntry> object_history(const core::Context& ctx, const ObjectQuery& q);

void print_history(const core::Context& ctx, const ObjectQuery& q, const std::vector<HistoryEntry>& entries);

}  // namespace kdr::objects
