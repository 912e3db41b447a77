// Whether a stored Namespace is being deleted, read from its value as kube-apiserver stores it:
// protobuf (the bytes `k8s\0`, then a runtime.Unknown whose `raw` (field 2) is a v1.Namespace:
// metadata = 1 with deletionTimestamp = 9, status = 3 with phase = 1), or JSON. `kubectl
// delete namespace` first puts the namespace with a deletionTimestamp and phase Terminating,
// then the controllers delete its contents, then it puts it again without finalizers, then it
// deletes the key.
#pragma once

#include <string_view>

namespace kdr::core {

struct NamespaceState {
  bool readable = false;     // false: encrypted, or neither form
  bool terminating = false;  // a deletionTimestamp, or status.phase Terminating
};

NamespaceState namespace_state(std::string_view value);

}  // namespace kdr::core
