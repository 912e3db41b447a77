// `kdr diff`: the objects that differ between two points, and how, field by field.
//
// Two passes keep memory to the keys: each point's keys are read with a hash of their stored
// value; only keys whose bytes differ are read again and decoded (an encrypted value
// re-encrypted with a fresh IV has other bytes and the same object: it does not differ).
// What always changes is left out unless asked: metadata.managedFields and resourceVersion,
// the status of Nodes, a Lease's renew and acquire times, and Events.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/context.hpp"
#include "k8s/object_json.hpp"
#include "k8s/resources.hpp"
#include "objects/point.hpp"

namespace kdr::objects {

struct FieldChange {
  std::string path;             // spec.replicas, spec.template.spec.containers[0].image, metadata.labels.app
  std::optional<k8s::ojson> before, after;  // empty: not there
};

// The fields of `a` and `b` that differ, in a's order, then b's new ones.
std::vector<FieldChange> diff_fields(const k8s::ojson& a, const k8s::ojson& b);
// "spec.replicas: 3 -> 5" (values as JSON, long ones cut), and the same for --json.
std::string change_text(const FieldChange& f);
k8s::ojson change_json(const FieldChange& f);

// Takes out of `object` (of resource `type`) what changes all the time.
void drop_noise(k8s::ojson& object, const k8s::ResourceType& type);

struct ObjectDiff {
  enum class Kind { added, removed, changed };
  Kind kind = Kind::changed;
  k8s::ResourceType type;
  std::string namespace_, name, key;  // key: under the prefix (deployments/payments/api)
  std::vector<FieldChange> fields;    // changed
  std::string problem;                // a side that could not be read: compared as bytes
};

struct DiffScope {
  std::optional<k8s::ResourceType> type;  // empty: every resource
  std::string namespace_;                 // empty: every namespace
  std::string name;
  bool everything = false;                // --all: the noise too
};

std::vector<ObjectDiff> diff_points(PointReader& from, PointReader& to, const DiffScope& scope);

// The report (or --json).
void print_diff(const core::Context& ctx, const PointInfo& from, const PointInfo& to, const std::vector<ObjectDiff>& diffs,
                const DiffScope& scope);

}  // namespace kdr::objects
