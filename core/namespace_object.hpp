// Whether a stored Namespace (or any object) is being deleted, read from its value as
// kube-apiserver stores it: protobuf (the bytes `k8s\0`, then a runtime.Unknown whose `raw`
// (field 2) is the object: metadata = 1 (in every kind) with deletionTimestamp = 9; a
// Namespace's status = 3 with phase = 1), or JSON. `kubectl
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

// Any object, read the same way: whether its deletion was asked for (metadata.deletionTimestamp
// is set: an object with finalizers stays until the controllers take them off).
struct ObjectState {
  bool readable = false;  // false: encrypted, or neither form
  bool deleting = false;
};
ObjectState object_state(std::string_view value);

}  // namespace kdr::core
