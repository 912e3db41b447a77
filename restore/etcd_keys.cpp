#include "restore/etcd_keys.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "core/encryption.hpp"
#include "core/error.hpp"

namespace kdr::restore {

namespace {

constexpr std::string_view registry = core::registry_prefix;
auto segments_after_registry(std::string_view key) { return core::registry_segments(key); }

}  // namespace

std::vector<std::string> split_list(std::string_view value) {
  std::vector<std::string> out;
  while (!value.empty()) {
    const auto comma = value.find(',');
    auto part = value.substr(0, comma);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (!part.empty() && std::find(out.begin(), out.end(), part) == out.end()) out.emplace_back(part);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return out;
}

std::string ObjectChoice::text() const {
  return fmt::format("{} {}", type.kind, namespace_.empty() ? name : namespace_ + "/" + name);
}

ObjectChoice parse_object_choice(std::string_view value) {
  std::vector<std::string> parts;
  for (std::string_view rest = value;;) {
    const auto slash = rest.find('/');
    parts.emplace_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  const auto form = "expected RESOURCE/NAMESPACE/NAME, or RESOURCE/NAME for a cluster-scoped resource (e.g. "
                    "deployments/payments/api, namespaces/payments)";
  if (parts.size() < 2 || parts.size() > 3 || std::any_of(parts.begin(), parts.end(), [](const auto& p) {
        return p.empty() || p == "." || p == "..";
      }))
    throw core::Error(fmt::format("object '{}': {}", value, form));
  const auto type = k8s::find_resource(parts[0]);
  if (!type) {
    const auto maybe = k8s::resource_suggestions(parts[0]);
    std::string hint;
    for (const auto& m : maybe) hint += (hint.empty() ? "" : ", ") + m;
    throw core::Error(fmt::format("object '{}': kdr does not know the resource '{}'{}; a custom resource is put back by "
                                  "its key prefix (--set prefix=/registry/GROUP/PLURAL/NAMESPACE/NAME)",
                                  value, parts[0], hint.empty() ? "" : " (did you mean " + hint + "?)"));
  }
  if (type->namespaced && parts.size() != 3)
    throw core::Error(fmt::format("object '{}': {} are namespaced: {}/NAMESPACE/NAME", value, type->resource, parts[0]));
  if (!type->namespaced && parts.size() != 2)
    throw core::Error(fmt::format("object '{}': {} are cluster-scoped: {}/NAME", value, type->resource, parts[0]));
  ObjectChoice c{*type, parts.size() == 3 ? parts[1] : "", parts.back(), ""};
  c.key = k8s::object_key(c.type, c.namespace_, c.name, registry.substr(0, registry.size() - 1));
  return c;
}

bool KeySelection::selects(std::string_view key) const {
  for (const auto& o : objects)
    if (key == o.key) return true;
  for (const auto& p : prefixes)
    if (key.substr(0, p.size()) == p) return true;
  if (namespaces.empty()) return false;
  const auto ns = namespace_of(key);
  return ns && std::find(namespaces.begin(), namespaces.end(), *ns) != namespaces.end();
}

std::string KeySelection::text() const {
  std::vector<std::string> parts;
  for (const auto& n : namespaces) parts.push_back("namespace " + n);
  for (const auto& p : prefixes) parts.push_back("prefix " + p);
  for (const auto& o : objects) parts.push_back(o.text());
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

std::vector<std::string> read_prefixes(const KeySelection& selection, const std::vector<std::string>& snapshot_keys) {
  std::set<std::string> out(selection.prefixes.begin(), selection.prefixes.end());
  for (const auto& o : selection.objects) out.insert(o.key);
  for (const auto& key : snapshot_keys) {
    if (!selection.selects(key) || selection.namespaces.empty()) continue;
    const auto ns = namespace_of(key);
    if (!ns) continue;
    const auto s = segments_after_registry(key);
    if (s[0] == "namespaces" && s.size() == 2) out.insert(key);
    else if (core::resource_segments(s) == 2) out.insert(fmt::format("{}{}/{}/{}/", registry, s[0], s[1], s[2]));
    else out.insert(fmt::format("{}{}/{}/", registry, s[0], s[1]));
  }
  // a prefix inside another is read with it
  std::vector<std::string> list(out.begin(), out.end());
  std::vector<std::string> kept;
  for (const auto& p : list)
    if (kept.empty() || p.substr(0, kept.back().size()) != kept.back() || kept.back().back() != '/') kept.push_back(p);
  return kept;
}

KeyFact KeyFact::of(const etcd::EtcdKeyValue& kv) {
  return {kv.key, core::sha256_bytes(kv.value), kv.value.size(), kv.mod_revision,
          core::encryption_key_of(kv.value).value_or("")};
}

KeyPlan plan_keys(std::vector<KeyFact> wanted, std::vector<KeyFact> live, bool overwrite) {
  const auto by_key = [](const KeyFact& a, const KeyFact& b) { return a.key < b.key; };
  std::sort(live.begin(), live.end(), by_key);
  std::stable_sort(wanted.begin(), wanted.end(), [](const auto& a, const auto& b) {
    const bool an = resource_of(a.key) == "namespaces", bn = resource_of(b.key) == "namespaces";
    if (an != bn) return an;
    return a.key < b.key;
  });
  KeyPlan plan;
  for (auto& kv : wanted) {
    ++plan.per_resource[resource_of(kv.key)];
    ++plan.selected;
    const auto it = std::lower_bound(live.begin(), live.end(), kv, by_key);
    if (it == live.end() || it->key != kv.key) {
      plan.to_write.push_back({std::move(kv), 0});
    } else if (it->same_value(kv)) {
      ++plan.same;
    } else if (overwrite) {
      plan.to_write.push_back({std::move(kv), it->mod_revision});
    } else {
      plan.conflicts.push_back({kv.key, it->mod_revision});
    }
  }
  return plan;
}

std::string per_resource_text(const KeyPlan& plan) {
  std::string parts;
  for (const auto& [resource, n] : plan.per_resource) parts += (parts.empty() ? "" : ", ") + fmt::format("{} {}", resource, n);
  return fmt::format("{} key{}{}{}", plan.selected, plan.selected == 1 ? "" : "s", parts.empty() ? "" : ": ", parts);
}

}  // namespace kdr::restore
