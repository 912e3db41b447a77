#include "k8s/resources.hpp"

#include <algorithm>
#include <cctype>

namespace kdr::k8s {

namespace {

struct Row {
  const char* resource;
  const char* group;
  const char* version;
  const char* kind;
  std::vector<std::string> short_names;
  const char* folder;  // "" for the resource's plural
  bool namespaced;
};

// Kubernetes 1.32's built-in resources that kube-apiserver stores in etcd (kubectl api-resources;
// folders from SpecialDefaultResourcePrefixes and the aggregator and apiextensions servers).
const std::vector<Row> rows = {
    {"bindings", "", "v1", "Binding", {}, "", true},
    {"configmaps", "", "v1", "ConfigMap", {"cm"}, "", true},
    {"endpoints", "", "v1", "Endpoints", {"ep"}, "services/endpoints", true},
    {"events", "", "v1", "Event", {"ev"}, "", true},
    {"limitranges", "", "v1", "LimitRange", {"limits"}, "", true},
    {"namespaces", "", "v1", "Namespace", {"ns"}, "", false},
    {"nodes", "", "v1", "Node", {"no"}, "minions", false},
    {"persistentvolumeclaims", "", "v1", "PersistentVolumeClaim", {"pvc"}, "", true},
    {"persistentvolumes", "", "v1", "PersistentVolume", {"pv"}, "", false},
    {"pods", "", "v1", "Pod", {"po"}, "", true},
    {"podtemplates", "", "v1", "PodTemplate", {}, "", true},
    {"replicationcontrollers", "", "v1", "ReplicationController", {"rc"}, "controllers", true},
    {"resourcequotas", "", "v1", "ResourceQuota", {"quota"}, "", true},
    {"secrets", "", "v1", "Secret", {}, "", true},
    {"serviceaccounts", "", "v1", "ServiceAccount", {"sa"}, "", true},
    {"services", "", "v1", "Service", {"svc"}, "services/specs", true},
    {"rangeallocations", "", "v1", "RangeAllocation", {}, "ranges", false},
    {"mutatingwebhookconfigurations", "admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", {}, "", false},
    {"validatingwebhookconfigurations", "admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", {}, "", false},
    {"validatingadmissionpolicies", "admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy", {}, "", false},
    {"validatingadmissionpolicybindings", "admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding", {}, "", false},
    {"customresourcedefinitions", "apiextensions.k8s.io", "v1", "CustomResourceDefinition", {"crd", "crds"},
     "apiextensions.k8s.io/customresourcedefinitions", false},
    {"apiservices", "apiregistration.k8s.io", "v1", "APIService", {}, "apiregistration.k8s.io/apiservices", false},
    {"controllerrevisions", "apps", "v1", "ControllerRevision", {}, "", true},
    {"daemonsets", "apps", "v1", "DaemonSet", {"ds"}, "", true},
    {"deployments", "apps", "v1", "Deployment", {"deploy"}, "", true},
    {"replicasets", "apps", "v1", "ReplicaSet", {"rs"}, "", true},
    {"statefulsets", "apps", "v1", "StatefulSet", {"sts"}, "", true},
    {"horizontalpodautoscalers", "autoscaling", "v2", "HorizontalPodAutoscaler", {"hpa"}, "", true},
    {"cronjobs", "batch", "v1", "CronJob", {"cj"}, "", true},
    {"jobs", "batch", "v1", "Job", {}, "", true},
    {"certificatesigningrequests", "certificates.k8s.io", "v1", "CertificateSigningRequest", {"csr"}, "", false},
    {"leases", "coordination.k8s.io", "v1", "Lease", {}, "", true},
    {"endpointslices", "discovery.k8s.io", "v1", "EndpointSlice", {}, "", true},
    {"flowschemas", "flowcontrol.apiserver.k8s.io", "v1", "FlowSchema", {}, "", false},
    {"prioritylevelconfigurations", "flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration", {}, "", false},
    {"ingressclasses", "networking.k8s.io", "v1", "IngressClass", {}, "", false},
    {"ingresses", "networking.k8s.io", "v1", "Ingress", {"ing"}, "ingress", true},
    {"networkpolicies", "networking.k8s.io", "v1", "NetworkPolicy", {"netpol"}, "", true},
    {"runtimeclasses", "node.k8s.io", "v1", "RuntimeClass", {}, "", false},
    {"poddisruptionbudgets", "policy", "v1", "PodDisruptionBudget", {"pdb"}, "", true},
    {"clusterrolebindings", "rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", {}, "", false},
    {"clusterroles", "rbac.authorization.k8s.io", "v1", "ClusterRole", {}, "", false},
    {"rolebindings", "rbac.authorization.k8s.io", "v1", "RoleBinding", {}, "", true},
    {"roles", "rbac.authorization.k8s.io", "v1", "Role", {}, "", true},
    {"priorityclasses", "scheduling.k8s.io", "v1", "PriorityClass", {"pc"}, "", false},
    {"csidrivers", "storage.k8s.io", "v1", "CSIDriver", {}, "", false},
    {"csinodes", "storage.k8s.io", "v1", "CSINode", {}, "", false},
    {"csistoragecapacities", "storage.k8s.io", "v1", "CSIStorageCapacity", {}, "", true},
    {"storageclasses", "storage.k8s.io", "v1", "StorageClass", {"sc"}, "", false},
    {"volumeattachments", "storage.k8s.io", "v1", "VolumeAttachment", {}, "", false},
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

ResourceType type_of(const Row& row) {
  ResourceType t;
  t.resource = row.resource;
  t.group = row.group;
  t.version = row.version;
  t.kind = row.kind;
  t.singular = lower(row.kind);
  t.short_names = row.short_names;
  t.folder = *row.folder != '\0' ? row.folder : row.resource;
  t.namespaced = row.namespaced;
  return t;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

const std::vector<ResourceType>& builtin_resources() {
  static const std::vector<ResourceType> all = [] {
    std::vector<ResourceType> out;
    for (const auto& row : rows) out.push_back(type_of(row));
    return out;
  }();
  return all;
}

std::optional<ResourceType> find_resource(std::string_view name) {
  auto wanted = lower(name);
  std::string group;
  if (const auto dot = wanted.find('.'); dot != std::string::npos) {
    group = wanted.substr(dot + 1);
    wanted = wanted.substr(0, dot);
  }
  for (const auto& t : builtin_resources()) {
    if (!group.empty() && t.group != group) continue;
    if (t.resource == wanted || t.singular == wanted ||
        std::find(t.short_names.begin(), t.short_names.end(), wanted) != t.short_names.end())
      return t;
  }
  return std::nullopt;
}

std::vector<std::string> resource_suggestions(std::string_view name) {
  const auto wanted = lower(name);
  std::vector<std::pair<std::size_t, std::string>> scored;
  for (const auto& t : builtin_resources()) {
    auto best = std::min(edit_distance(wanted, t.resource), edit_distance(wanted, t.singular));
    for (const auto& s : t.short_names) best = std::min(best, edit_distance(wanted, s));
    if (best <= std::max<std::size_t>(2, wanted.size() / 3)) scored.emplace_back(best, t.resource);
  }
  std::sort(scored.begin(), scored.end());
  std::vector<std::string> out;
  for (const auto& [score, resource] : scored)
    if (out.size() < 3) out.push_back(resource);
  return out;
}

std::optional<ObjectKey> parse_object_key(std::string_view key, std::string_view prefix) {
  if (prefix.empty() || key.substr(0, prefix.size()) != prefix || key.size() <= prefix.size() + 1 ||
      key[prefix.size()] != '/')
    return std::nullopt;
  const auto rest = key.substr(prefix.size() + 1);
  // The longest known folder the key is in.
  const ResourceType* best = nullptr;
  for (const auto& t : builtin_resources())
    if (rest.size() > t.folder.size() && rest.substr(0, t.folder.size()) == t.folder && rest[t.folder.size()] == '/' &&
        (best == nullptr || t.folder.size() > best->folder.size()))
      best = &t;
  std::vector<std::string> parts;
  std::size_t start = 0;
  ResourceType type;
  if (best != nullptr) {
    type = *best;
    start = best->folder.size() + 1;
  } else {
    // A custom resource (<group>/<plural>/...) or a resource this table does not know (<plural>/...).
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    const auto first = std::string(rest.substr(0, slash));
    type.custom = true;
    type.namespaced = true;  // decided below by the number of parts
    if (first.find('.') != std::string::npos) {
      const auto second = rest.find('/', slash + 1);
      if (second == std::string_view::npos) return std::nullopt;
      type.group = first;
      type.resource = std::string(rest.substr(slash + 1, second - slash - 1));
      start = second + 1;
    } else {
      type.resource = first;
      start = slash + 1;
    }
    type.folder = std::string(rest.substr(0, start - 1));
    type.singular = type.resource;
  }
  for (std::size_t pos = start; pos <= rest.size();) {
    const auto slash = rest.find('/', pos);
    const auto end = slash == std::string_view::npos ? rest.size() : slash;
    parts.emplace_back(rest.substr(pos, end - pos));
    pos = end + 1;
  }
  for (const auto& p : parts)
    if (p.empty()) return std::nullopt;
  if (type.custom) type.namespaced = parts.size() == 2;
  if (parts.size() != (type.namespaced ? 2u : 1u)) return std::nullopt;
  ObjectKey out{type, type.namespaced ? parts[0] : "", parts.back()};
  return out;
}

std::string key_prefix(const ResourceType& type, std::string_view namespace_, std::string_view prefix) {
  std::string out = std::string(prefix) + "/" + type.folder + "/";
  if (type.namespaced && !namespace_.empty()) out += std::string(namespace_) + "/";
  return out;
}

std::string object_key(const ResourceType& type, std::string_view namespace_, std::string_view name, std::string_view prefix) {
  return key_prefix(type, type.namespaced ? namespace_ : "", prefix) + std::string(name);
}

}  // namespace kdr::k8s
