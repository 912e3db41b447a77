// Two versions of one Kubernetes object, field by field: what `kdr diff`, `kdr history` and the
// plan of restore-etcd-keys show.
//
// A Secret's values never appear: a changed value prints as "*** (before)" -> "*** (after)",
// an added or removed one as "***", as `kubectl diff` masks them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "k8s/object_json.hpp"
#include "k8s/resources.hpp"

namespace kdr::k8s {

struct FieldChange {
  std::string path;                 // spec.replicas, spec.template.spec.containers[0].image, metadata.labels.app
  std::optional<ojson> before, after;  // empty: not there
};

// The fields of `a` and `b` that differ, in a's order, then b's new ones; a Secret's data and
// stringData values masked.
std::vector<FieldChange> diff_fields(const ojson& a, const ojson& b);
// "spec.replicas: 3 -> 5" (values as JSON, long ones cut), and the same for --json.
std::string change_text(const FieldChange& f);
ojson change_json(const FieldChange& f);

// Takes out of `object` (of resource `type`) what changes all the time: metadata.managedFields
// and resourceVersion, a Node's status, a Lease's renew and acquire times.
void drop_noise(ojson& object, const ResourceType& type);

}  // namespace kdr::k8s
