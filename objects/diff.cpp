#include "objects/diff.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "k8s/decode.hpp"
#include "k8s/object_diff.hpp"
#include "objects/get.hpp"

namespace kdr::objects {

namespace {

using k8s::ojson;
using k8s::change_json;
using k8s::change_text;
using k8s::diff_fields;
using k8s::drop_noise;

std::string suffix_of(const std::string& key, const std::string& prefix) {
  return key.size() > prefix.size() + 1 ? key.substr(prefix.size() + 1) : key;
}

// Where a scope reads under a point's prefix, and which keys it keeps there.
struct Reach {
  std::string prefix;
  PointReader::KeyFilter keep;
};

Reach reach_of(const DiffScope& scope, const std::string& etcd_prefix) {
  Reach r;
  if (scope.type && !scope.name.empty()) r.prefix = k8s::object_key(*scope.type, scope.namespace_, scope.name, etcd_prefix);
  else if (scope.type) r.prefix = k8s::key_prefix(*scope.type, scope.namespace_, etcd_prefix);
  else r.prefix = etcd_prefix + "/";
  const auto ns = scope.namespace_;
  const bool everything = scope.everything;
  const bool exact = scope.type && !scope.name.empty();
  r.keep = [ns, everything, exact, etcd_prefix, prefix = r.prefix](std::string_view key) {
    if (exact && key != prefix) return false;
    const auto where = k8s::parse_object_key(key, etcd_prefix);
    if (!where) return false;
    if (!everything && where->type.resource == "events") return false;
    if (ns.empty()) return true;
    return where->namespace_ == ns || (where->type.resource == "namespaces" && where->name == ns);
  };
  return r;
}

// Pass 1: key (under the prefix) -> a hash of its stored value.
std::unordered_map<std::string, std::size_t> hashes(PointReader& p, const DiffScope& scope) {
  std::unordered_map<std::string, std::size_t> out;
  const auto& prefix = p.info().etcd_prefix;
  const auto r = reach_of(scope, prefix);
  p.read(r.prefix, [&](const etcd::EtcdKeyValue& kv) { out[suffix_of(kv.key, prefix)] = std::hash<std::string>{}(kv.value); },
         r.keep);
  return out;
}

// Pass 2: the decoded objects of `keys`.
std::map<std::string, k8s::StoredObject> objects_of(PointReader& p, const DiffScope& scope, const std::set<std::string>& keys) {
  std::map<std::string, k8s::StoredObject> out;
  const auto& info = p.info();
  const auto r = reach_of(scope, info.etcd_prefix);
  k8s::DecodeOptions options;
  options.encryption = info.encryption ? &*info.encryption : nullptr;
  options.prefix = info.etcd_prefix;
  p.read(
      r.prefix,
      [&](const etcd::EtcdKeyValue& kv) {
        auto o = k8s::decode_stored(kv.key, kv.value, kv.mod_revision, kv.create_revision, options);
        if (o.where && !scope.everything) drop_noise(o.object, o.where->type);
        out.emplace(suffix_of(kv.key, info.etcd_prefix), std::move(o));
      },
      [&](std::string_view key) {
        return r.keep(key) && keys.count(suffix_of(std::string(key), info.etcd_prefix)) != 0;
      });
  return out;
}

ojson to_json(const ObjectDiff& d) {
  ojson j = {{"resource", k8s::utf8(d.type.qualified())}, {"namespace", k8s::utf8(d.namespace_)},
             {"name", k8s::utf8(d.name)}, {"key", k8s::utf8(d.key)}};
  if (!d.problem.empty()) j["problem"] = d.problem;
  if (d.kind == ObjectDiff::Kind::changed) {
    j["fields"] = ojson::array();
    for (const auto& f : d.fields) j["fields"].push_back(change_json(f));
  }
  return j;
}

}  // namespace

std::vector<ObjectDiff> diff_points(PointReader& from, PointReader& to, const DiffScope& scope) {
  const auto a = hashes(from, scope);
  const auto b = hashes(to, scope);
  std::set<std::string> removed, added, differ;
  for (const auto& [k, h] : a) {
    const auto it = b.find(k);
    if (it == b.end()) removed.insert(k);
    else if (it->second != h) differ.insert(k);
  }
  for (const auto& [k, h] : b)
    if (a.count(k) == 0) added.insert(k);
  std::set<std::string> wanted = differ;
  wanted.insert(removed.begin(), removed.end());
  auto before = objects_of(from, scope, wanted);
  wanted = differ;
  wanted.insert(added.begin(), added.end());
  auto after = objects_of(to, scope, wanted);

  std::vector<ObjectDiff> out;
  auto add = [&](ObjectDiff::Kind kind, const std::string& key, const k8s::StoredObject& o) {
    ObjectDiff d;
    d.kind = kind;
    d.key = key;
    if (o.where) d.type = o.where->type;
    d.namespace_ = o.namespace_();
    d.name = o.name();
    return d;
  };
  for (const auto& k : removed)
    if (const auto it = before.find(k); it != before.end()) out.push_back(add(ObjectDiff::Kind::removed, k, it->second));
  for (const auto& k : added)
    if (const auto it = after.find(k); it != after.end()) out.push_back(add(ObjectDiff::Kind::added, k, it->second));
  for (const auto& k : differ) {
    const auto x = before.find(k), y = after.find(k);
    if (x == before.end() || y == after.end()) continue;
    auto d = add(ObjectDiff::Kind::changed, k, y->second);
    if (!x->second.decoded() || !y->second.decoded()) {
      d.problem = !x->second.decoded() ? "before: " + x->second.problem : "after: " + y->second.problem;
      out.push_back(std::move(d));
      continue;
    }
    d.fields = diff_fields(x->second.object, y->second.object);
    if (!d.fields.empty()) out.push_back(std::move(d));
  }
  std::sort(out.begin(), out.end(), [](const ObjectDiff& p, const ObjectDiff& q) {
    return std::tie(p.type.resource, p.namespace_, p.name) < std::tie(q.type.resource, q.namespace_, q.name);
  });
  return out;
}

void print_diff(const core::Context& ctx, const PointInfo& from, const PointInfo& to, const std::vector<ObjectDiff>& diffs,
                const DiffScope& scope) {
  if (ctx.out.json()) {
    ojson j = {{"from", from.text}, {"to", to.text}, {"added", ojson::array()}, {"removed", ojson::array()},
               {"changed", ojson::array()}};
    for (const auto& d : diffs)
      j[d.kind == ObjectDiff::Kind::added ? "added" : d.kind == ObjectDiff::Kind::removed ? "removed" : "changed"].push_back(
          to_json(d));
    ctx.out.raw(j.dump(2));
    return;
  }
  ctx.out.info("kdr diff: from {}", from.text);
  ctx.out.info("          to   {}", to.text);
  for (const auto* info : {&from, &to})
    for (const auto& w : info->warnings) ctx.out.warn("{}", w);
  std::size_t counts[3] = {0, 0, 0};
  for (const auto& d : diffs) {
    const char* mark = d.kind == ObjectDiff::Kind::added ? "+" : d.kind == ObjectDiff::Kind::removed ? "-" : "~";
    ++counts[static_cast<int>(d.kind)];
    const auto where = d.namespace_.empty() ? d.name : d.namespace_ + "/" + d.name;
    ctx.out.info("  {} {} {}", mark, d.type.qualified(), where);
    if (!d.problem.empty()) ctx.out.info("      stored bytes differ; {}", d.problem);
    for (const auto& f : d.fields) ctx.out.info("      {}", change_text(f));
  }
  if (diffs.empty()) ctx.out.info("no object differs");
  else
    ctx.out.info("{} object{} differ: {} added, {} removed, {} changed", diffs.size(), diffs.size() == 1 ? "" : "s", counts[0],
                 counts[1], counts[2]);
  if (!scope.everything)
    ctx.out.info("(left out: Events, managedFields, resourceVersion, the status of Nodes, Leases' renew times; --all shows them)");
}

}  // namespace kdr::objects
