#include "k8s/object_diff.hpp"

#include <fmt/format.h>

namespace kdr::k8s {

namespace {

std::string child_path(const std::string& parent, const std::string& key) {
  const bool plain = !key.empty() && key.find_first_of(".[]\"/ ") == std::string::npos;
  if (plain) return parent.empty() ? key : parent + "." + key;
  return parent + "[" + ojson(key).dump() + "]";
}

void diff_into(const ojson& a, const ojson& b, const std::string& path, std::vector<FieldChange>& out) {
  if (a == b) return;
  if (a.is_object() && b.is_object()) {
    for (const auto& [k, v] : a.items()) {
      if (b.contains(k)) diff_into(v, b[k], child_path(path, k), out);
      else out.push_back({child_path(path, k), v, std::nullopt});
    }
    for (const auto& [k, v] : b.items())
      if (!a.contains(k)) out.push_back({child_path(path, k), std::nullopt, v});
    return;
  }
  if (a.is_array() && b.is_array() && a.size() == b.size()) {
    for (std::size_t i = 0; i < a.size(); ++i) diff_into(a[i], b[i], fmt::format("{}[{}]", path, i), out);
    return;
  }
  out.push_back({path, a, b});
}

bool is_secret(const ojson& o) { return o.is_object() && o.value("kind", "") == "Secret" && o.value("apiVersion", "") == "v1"; }

// A Secret's value, or a map of them, as "***" (`tag`: " (before)", " (after)" when both exist).
ojson masked(const ojson& v, const std::string& tag) {
  if (!v.is_object()) return ojson("***" + tag);
  ojson out = ojson::object();
  for (const auto& [k, _] : v.items()) out[k] = "***" + tag;
  return out;
}

bool secret_value_path(const std::string& path) {
  for (const std::string top : {"data", "stringData"})
    if (path == top || path.rfind(top + ".", 0) == 0 || path.rfind(top + "[", 0) == 0) return true;
  return false;
}

}  // namespace

std::vector<FieldChange> diff_fields(const ojson& a, const ojson& b) {
  std::vector<FieldChange> out;
  diff_into(a, b, "", out);
  if (is_secret(a) || is_secret(b))
    for (auto& f : out) {
      if (!secret_value_path(f.path)) continue;
      const bool both = f.before && f.after;
      if (f.before) f.before = masked(*f.before, both ? " (before)" : "");
      if (f.after) f.after = masked(*f.after, both ? " (after)" : "");
    }
  return out;
}

namespace {

std::string short_value(const std::optional<ojson>& v) {
  if (!v) return "(none)";
  auto text = v->dump();
  if (text.size() > 120) {
    text.resize(117);
    text += "...";
  }
  return text;
}

}  // namespace

std::string change_text(const FieldChange& f) {
  return fmt::format("{}: {} -> {}", f.path.empty() ? "(the object)" : f.path, short_value(f.before), short_value(f.after));
}

ojson change_json(const FieldChange& f) {
  return {{"path", f.path}, {"before", f.before ? *f.before : ojson()}, {"after", f.after ? *f.after : ojson()}};
}

void drop_noise(ojson& object, const ResourceType& type) {
  if (!object.is_object()) return;
  if (object.contains("metadata") && object["metadata"].is_object()) {
    object["metadata"].erase("managedFields");
    object["metadata"].erase("resourceVersion");
  }
  if (type.qualified() == "nodes") object.erase("status");
  if (type.qualified() == "leases.coordination.k8s.io" && object.contains("spec") && object["spec"].is_object()) {
    object["spec"].erase("renewTime");
    object["spec"].erase("acquireTime");
  }
}

}  // namespace kdr::k8s
