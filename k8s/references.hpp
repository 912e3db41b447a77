// The objects one object needs in order to work, read from its fields: what restore-etcd-keys
// checks are live before it puts an object back (and offers with with_dependencies=true).
//
//   - a namespaced object: its Namespace;
//   - a pod, or a pod template (Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs,
//     CronJobs, ReplicationControllers, PodTemplates): the ServiceAccount it names
//     (serviceAccountName; "default" is left out: the serviceaccounts controller makes it in
//     every namespace), its imagePullSecrets, the Secrets and ConfigMaps its volumes, projected
//     volumes, envFrom and env valueFrom name (those marked optional are left out: the kubelet
//     starts the pod without them), and the PersistentVolumeClaims its volumes name;
//   - a PersistentVolumeClaim: the PersistentVolume it is bound to (spec.volumeName).
#pragma once

#include <string>
#include <vector>

#include "k8s/object_json.hpp"
#include "k8s/resources.hpp"

namespace kdr::k8s {

struct Reference {
  ResourceType type;
  std::string namespace_;  // empty for cluster-scoped
  std::string name;
  std::string field;       // where the object names it: spec.template.spec.serviceAccountName, metadata.namespace
  bool operator==(const Reference& o) const {
    return type.resource == o.type.resource && type.group == o.type.group && namespace_ == o.namespace_ && name == o.name;
  }
};

// What `object` (decoded, at `where`) names, each once, in the order found.
std::vector<Reference> references_of(const ojson& object, const ObjectKey& where);

}  // namespace kdr::k8s
