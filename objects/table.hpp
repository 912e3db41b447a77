// The columns `kdr get` prints per resource, as kubectl prints them for the common kinds
// (kubectl's printers in kubernetes/pkg/printers/internalversion), and AGE as kubectl writes
// durations (k8s.io/apimachinery/pkg/util/duration.HumanDuration). One table, here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "k8s/object_json.hpp"
#include "k8s/resources.hpp"

namespace kdr::objects {

using CellFn = std::string (*)(const k8s::ojson& object);

struct Column {
  const char* header;
  CellFn cell;
  bool wide_only = false;  // -o wide
};

// The columns between NAME and AGE for `type` (none for most resources).
const std::vector<Column>& columns_for(const k8s::ResourceType& type);

// "45s", "3m20s", "5h12m", "4d", "2y30d"
std::string human_duration(std::int64_t seconds);

// metadata.creationTimestamp in seconds since the epoch; 0 when absent.
std::int64_t creation_time(const k8s::ojson& object);

}  // namespace kdr::objects
