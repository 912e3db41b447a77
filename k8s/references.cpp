#include "k8s/references.hpp"

#include <fmt/format.h>

namespace kdr::k8s {

namespace {

// Where each kind keeps its pod spec, as k8s.io/api 1.32 defines them.
const ojson* pod_spec_of(const ojson& object, const ResourceType& type, std::string& path) {
  std::vector<std::string> steps;
  const auto& r = type.qualified();
  if (r == "pods") steps = {"spec"};
  else if (r == "deployments.apps" || r == "replicasets.apps" || r == "statefulsets.apps" || r == "daemonsets.apps" ||
           r == "jobs.batch" || r == "replicationcontrollers")
    steps = {"spec", "template", "spec"};
  else if (r == "cronjobs.batch") steps = {"spec", "jobTemplate", "spec", "template", "spec"};
  else if (r == "podtemplates") steps = {"template", "spec"};
  else return nullptr;
  const ojson* at = &object;
  for (const auto& s : steps) {
    if (!at->is_object() || !at->contains(s)) return nullptr;
    at = &(*at)[s];
    path += (path.empty() ? "" : ".") + s;
  }
  return at->is_object() ? at : nullptr;
}

std::string text_at(const ojson& o, const char* key) {
  if (!o.is_object()) return "";
  const auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : "";
}

bool optional_ref(const ojson& o) {
  const auto it = o.is_object() ? o.find("optional") : o.end();
  return it != o.end() && it->is_boolean() && it->get<bool>();
}

const ojson& member(const ojson& o, const char* key) {
  static const ojson none;
  if (!o.is_object()) return none;
  const auto it = o.find(key);
  return it == o.end() ? none : *it;
}

class Collector {
 public:
  Collector(std::vector<Reference>& out, std::string ns) : out_(out), ns_(std::move(ns)) {}

  void add(const char* resource, const std::string& name, const std::string& field, bool namespaced = true) {
    if (name.empty()) return;
    auto type = find_resource(resource);
    if (!type) return;
    Reference ref{*type, namespaced ? ns_ : "", name, field};
    for (const auto& r : out_)
      if (r == ref) return;
    out_.push_back(std::move(ref));
  }

  void pod_spec(const ojson& spec, const std::string& at) {
    const auto sa = text_at(spec, "serviceAccountName");
    if (sa != "default") add("serviceaccounts", sa, at + ".serviceAccountName");
    std::size_t i = 0;
    for (const auto& s : member(spec, "imagePullSecrets")) add("secrets", text_at(s, "name"), fmt::format("{}.imagePullSecrets[{}]", at, i++));
    i = 0;
    for (const auto& v : member(spec, "volumes")) volume(v, fmt::format("{}.volumes[{}]", at, i++));
    for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
      i = 0;
      for (const auto& c : member(spec, list)) container(c, fmt::format("{}.{}[{}]", at, list, i++));
    }
  }

  void pvc_spec(const ojson& spec) { add("persistentvolumes", text_at(spec, "volumeName"), "spec.volumeName", false); }

 private:
  void volume(const ojson& v, const std::string& at) {
    const auto& secret = member(v, "secret");
    if (!optional_ref(secret)) add("secrets", text_at(secret, "secretName"), at + ".secret.secretName");
    const auto& cm = member(v, "configMap");
    if (!optional_ref(cm)) add("configmaps", text_at(cm, "name"), at + ".configMap.name");
    add("persistentvolumeclaims", text_at(member(v, "persistentVolumeClaim"), "claimName"),
        at + ".persistentVolumeClaim.claimName");
    std::size_t i = 0;
    for (const auto& source : member(member(v, "projected"), "sources")) {
      const auto where = fmt::format("{}.projected.sources[{}]", at, i++);
      const auto& s = member(source, "secret");
      if (!optional_ref(s)) add("secrets", text_at(s, "name"), where + ".secret.name");
      const auto& c = member(source, "configMap");
      if (!optional_ref(c)) add("configmaps", text_at(c, "name"), where + ".configMap.name");
    }
  }

  void container(const ojson& c, const std::string& at) {
    std::size_t i = 0;
    for (const auto& from : member(c, "envFrom")) {
      const auto where = fmt::format("{}.envFrom[{}]", at, i++);
      const auto& s = member(from, "secretRef");
      if (!optional_ref(s)) add("secrets", text_at(s, "name"), where + ".secretRef.name");
      const auto& m = member(from, "configMapRef");
      if (!optional_ref(m)) add("configmaps", text_at(m, "name"), where + ".configMapRef.name");
    }
    i = 0;
    for (const auto& env : member(c, "env")) {
      const auto where = fmt::format("{}.env[{}].valueFrom", at, i++);
      const auto& from = member(env, "valueFrom");
      const auto& s = member(from, "secretKeyRef");
      if (!optional_ref(s)) add("secrets", text_at(s, "name"), where + ".secretKeyRef.name");
      const auto& m = member(from, "configMapKeyRef");
      if (!optional_ref(m)) add("configmaps", text_at(m, "name"), where + ".configMapKeyRef.name");
    }
  }

  std::vector<Reference>& out_;
  std::string ns_;
};

}  // namespace

std::vector<Reference> references_of(const ojson& object, const ObjectKey& where) {
  std::vector<Reference> out;
  Collector c(out, where.namespace_);
  if (!where.namespace_.empty()) c.add("namespaces", where.namespace_, "metadata.namespace", false);
  std::string path;
  if (const auto* spec = pod_spec_of(object, where.type, path)) c.pod_spec(*spec, path);
  if (where.type.qualified() == "persistentvolumeclaims") c.pvc_spec(member(object, "spec"));
  return out;
}

}  // namespace kdr::k8s
