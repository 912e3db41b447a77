// Kubernetes resources and their etcd keys: `<prefix>/<folder>/<namespace>/<name>` for namespaced
// resources, `<prefix>/<folder>/<name>` for cluster-scoped ones. The folder is the resource's
// plural, except the prefixes compiled into kube-apiserver (SpecialDefaultResourcePrefixes in
// kubernetes/pkg/kubeapiserver/default_storage_factory_builder.go: controllers, services/specs,
// services/endpoints, minions, ingress) and the API groups served by its aggregator and
// apiextensions servers, which keep their group in the folder (apiregistration.k8s.io/apiservices,
// apiextensions.k8s.io/customresourcedefinitions, and every custom resource: <group>/<plural>).
//
// The names users type (plural, singular, kubectl's short names) are kubectl's for Kubernetes 1.32.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kdr::k8s {

struct ResourceType {
  std::string resource;  // plural: deployments
  std::string group;     // apps; "" for the core group
  std::string version;   // the version kube-apiserver 1.32 stores: v1
  std::string kind;      // Deployment
  std::string singular;  // deployment
  std::vector<std::string> short_names;  // deploy
  std::string folder;    // under the prefix: deployments, minions, services/specs, <group>/<plural>
  bool namespaced = true;
  bool custom = false;   // a custom resource (or one kdr's table does not know), from its key alone

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  // deployments.apps, pods
  std::string qualified() const { return group.empty() ? resource : resource + "." + group; }
};

// Every resource kdr knows by name.
const std::vector<ResourceType>& builtin_resources();

// The resource a user names: plural, singular or short name, any case, optionally with its group
// (deployments.apps, deploy). nullopt when nothing matches.
std::optional<ResourceType> find_resource(std::string_view name);
// "did you mean" candidates for an unknown name (closest first, at most 3).
std::vector<std::string> resource_suggestions(std::string_view name);

// An object's place, read from its etcd key.
struct ObjectKey {
  ResourceType type;
  std::string namespace_;  // empty for cluster-scoped
  std::string name;
};

// Parses `key` under `prefix` (/registry); nullopt when it is not an object's key (outside the
// prefix, or too few parts).
std::optional<ObjectKey> parse_object_key(std::string_view key, std::string_view prefix = "/registry");

// The key prefix that holds every object of `type` (in `namespace_` when given), with a
// trailing slash: /registry/deployments/payments/
std::string key_prefix(const ResourceType& type, std::string_view namespace_, std::string_view prefix = "/registry");
std::string object_key(const ResourceType& type, std::string_view namespace_, std::string_view name,
                       std::string_view prefix = "/registry");

}  // namespace kdr::k8s
