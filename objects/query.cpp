#include "objects/query.hpp"

#include <fmt/format.h>

#include "core/error.hpp"

namespace kdr::objects {

namespace {

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(' ');
  const auto e = s.find_last_not_of(' ');
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

const k8s::ojson* label(const k8s::ojson& object, const std::string& key) {
  if (!object.is_object() || !object.contains("metadata")) return nullptr;
  const auto& m = object.at("metadata");
  if (!m.is_object() || !m.contains("labels")) return nullptr;
  const auto& l = m.at("labels");
  if (!l.is_object() || !l.contains(key)) return nullptr;
  return &l.at(key);
}

}  // namespace

bool LabelSelector::matches(const k8s::ojson& object) const {
  for (const auto& t : terms) {
    const auto* v = label(object, t.key);
    const bool equal = v != nullptr && v->is_string() && v->get<std::string>() == t.value;
    switch (t.op) {
      case Term::Op::equals:
        if (!equal) return false;
        break;
      case Term::Op::not_equals:
        if (equal) return false;
        break;
      case Term::Op::exists:
        if (v == nullptr) return false;
        break;
      case Term::Op::not_exists:
        if (v != nullptr) return false;
        break;
    }
  }
  return true;
}

LabelSelector parse_selector(const std::string& text) {
  LabelSelector s;
  if (trim(text).empty()) return s;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    const auto part = trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    start = comma == std::string::npos ? text.size() + 1 : comma + 1;
    LabelSelector::Term t;
    if (const auto ne = part.find("!="); ne != std::string::npos) {
      t = {trim(part.substr(0, ne)), trim(part.substr(ne + 2)), LabelSelector::Term::Op::not_equals};
    } else if (const auto eq2 = part.find("=="); eq2 != std::string::npos) {
      t = {trim(part.substr(0, eq2)), trim(part.substr(eq2 + 2)), LabelSelector::Term::Op::equals};
    } else if (const auto eq = part.find('='); eq != std::string::npos) {
      t = {trim(part.substr(0, eq)), trim(part.substr(eq + 1)), LabelSelector::Term::Op::equals};
    } else if (!part.empty() && part.front() == '!') {
      t = {trim(part.substr(1)), "", LabelSelector::Term::Op::not_exists};
    } else {
      t = {part, "", LabelSelector::Term::Op::exists};
    }
    if (t.key.empty() || t.key.find_first_of(" ()") != std::string::npos)
      throw core::UsageError(fmt::format("-l {}: '{}' is not a label selector term (key=value, key!=value, key, !key; "
                                         "set-based selectors are not supported)",
                                         text, part));
    s.terms.push_back(std::move(t));
  }
  return s;
}

ObjectQuery make_query(const std::string& resource, const std::string& name, const std::string& namespace_,
                       bool all_namespaces, const std::string& selector) {
  ObjectQuery q;
  auto what = resource;
  q.name = name;
  if (const auto slash = what.find('/'); slash != std::string::npos) {
    if (!name.empty())
      throw core::UsageError(fmt::format("{}: give the name either as RESOURCE/NAME or as a second argument, not both",
                                         resource));
    q.name = what.substr(slash + 1);
    what = what.substr(0, slash);
    if (q.name.empty()) throw core::UsageError(fmt::format("{}: no name after the /", resource));
  }
  if (auto t = k8s::find_resource(what)) {
    q.type = *t;
  } else if (const auto dot = what.find('.'); dot != std::string::npos && dot > 0 && dot + 1 < what.size()) {
    // A custom resource: <plural>.<group>, stored under <group>/<plural>.
    q.type.resource = what.substr(0, dot);
    q.type.group = what.substr(dot + 1);
    q.type.folder = q.type.group + "/" + q.type.resource;
    q.type.singular = q.type.resource;
    q.type.custom = true;
    q.type.namespaced = true;
  } else {
    const auto suggestions = k8s::resource_suggestions(what);
    std::string hint;
    for (const auto& s : suggestions) hint += (hint.empty() ? " (did you mean " : ", ") + s;
    if (!hint.empty()) hint += "?)";
    throw core::UsageError(fmt::format(
        "no resource type \"{}\" among the ones kdr knows{}; a custom resource is named <plural>.<group>", what, hint));
  }
  q.all_namespaces = all_namespaces && q.name.empty();
  if (q.type.namespaced && !q.all_namespaces) q.namespace_ = namespace_.empty() ? "default" : namespace_;
  q.selector = parse_selector(selector);
  return q;
}

std::string query_prefix(const ObjectQuery& q, const std::string& etcd_prefix) {
  if (!q.name.empty()) return k8s::object_key(q.type, q.namespace_, q.name, etcd_prefix);
  return k8s::key_prefix(q.type, q.namespace_, etcd_prefix);
}

void each_object(PointReader& point, const ObjectQuery& q, const std::function<void(k8s::StoredObject&&)>& visit) {
  const auto& info = point.info();
  k8s::DecodeOptions options;
  options.encryption = info.encryption ? &*info.encryption : nullptr;
  options.prefix = info.etcd_prefix;
  const auto prefix = query_prefix(q, info.etcd_prefix);
  point.read(prefix, [&](const etcd::EtcdKeyValue& kv) {
    if (!q.name.empty() && kv.key != prefix) return;  // "api" is not "api-2"
    auto o = k8s::decode_stored(kv.key, kv.value, kv.mod_revision, kv.create_revision, options);
    // A custom resource's key with one part after its folder is cluster-scoped.
    if (!o.where) return;
    if (o.decoded() && !q.selector.empty() && !q.selector.matches(o.object)) return;
    visit(std::move(o));
  });
}

}  // namespace kdr::objects
