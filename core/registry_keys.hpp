// Where kube-apiserver keeps objects in etcd: /registry/<resource>/<namespace>/<name> (built-in
// resources), /registry/<group>/<resource>/<namespace>/<name> (custom resources, whose group
// has a dot), /registry/<resource>/<name> for cluster-scoped ones, and a namespace at
// /registry/namespaces/<name>. Services are the exception: /registry/services/specs/<ns>/<name>
// and /registry/services/endpoints/<ns>/<name>.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kdr::core {

inline constexpr std::string_view registry_prefix = "/registry/";

// The path segments after /registry/; empty for a key outside it.
std::vector<std::string_view> registry_segments(std::string_view key);
// A resource segment that names a custom resource's group ("cert-manager.io").
bool is_group_segment(std::string_view segment);
// How many of `segments` name the resource: 2 for <group>/<plural> and for the services'
// own layout (services/specs, services/endpoints), else 1; the namespace follows them.
std::size_t resource_segments(const std::vector<std::string_view>& segments);

// The namespace a key belongs to, when it is a namespaced object or a namespace.
std::optional<std::string> namespace_of(std::string_view key);
// What kind of object: "configmaps", "cert-manager.io/certificates", "namespaces"; for keys
// outside /registry/, the first path segment.
std::string resource_of(std::string_view key);
// The key of namespace `name`'s own object.
std::string namespace_key(std::string_view name);

}  // namespace kdr::core
