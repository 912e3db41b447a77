#include "restore/object_plan.hpp"

#include <deque>
#include <set>

#include <fmt/format.h>

namespace kdr::restore {

namespace {

std::string object_text(const k8s::ResourceType& type, const std::string& ns, const std::string& name) {
  return fmt::format("{} {}", type.kind, ns.empty() ? name : ns + "/" + name);
}

k8s::StoredObject decoded(const etcd::EtcdKeyValue& kv, const k8s::DecodeOptions& decode) {
  return k8s::decode_stored(kv.key, kv.value, kv.mod_revision, kv.create_revision, decode);
}

// live -> point, without what always differs between two versions.
void compare(ChosenObject& c, const etcd::EtcdKeyValue& live, const etcd::EtcdKeyValue& point,
             const k8s::DecodeOptions& decode) {
  auto a = decoded(live, decode), b = decoded(point, decode);
  if (!a.decoded() || !b.decoded()) {
    c.problem = !a.decoded() ? "live: " + a.problem : "at the point: " + b.problem;
    return;
  }
  k8s::drop_noise(a.object, c.choice.type);
  k8s::drop_noise(b.object, c.choice.type);
  c.changes = k8s::diff_fields(a.object, b.object);
}

}  // namespace

std::string Dependency::text() const { return object_text(ref.type, ref.namespace_, ref.name); }

ObjectPlan plan_objects(const KeySelection& selection, const KeyLookup& at_point, const KeyLookup& live,
                        bool with_dependencies, const k8s::DecodeOptions& decode) {
  ObjectPlan plan;
  struct Pending {
    etcd::EtcdKeyValue kv;
    std::string text;
  };
  std::deque<Pending> needs;  // objects put back whose references are still to check
  std::set<std::string> seen;
  for (const auto& choice : selection.objects) {
    ChosenObject c;
    c.choice = choice;
    seen.insert(choice.key);
    const auto point = at_point(choice.key);
    if (point) {
      c.point_mod_revision = point->mod_revision;
      const auto now = live(choice.key);
      if (!now) c.state = ChosenObject::State::create;
      else if (now->value == point->value) c.state = ChosenObject::State::same;
      else {
        c.state = ChosenObject::State::differs;
        c.live_mod_revision = now->mod_revision;
        compare(c, *now, *point, decode);
      }
      needs.push_back({*point, choice.text()});
    }
    plan.objects.push_back(std::move(c));
  }
  while (!needs.empty()) {
    const auto next = std::move(needs.front());
    needs.pop_front();
    const auto o = decoded(next.kv, decode);
    if (!o.where) continue;
    for (auto& ref : k8s::references_of(o.object, *o.where)) {
      const auto key = k8s::object_key(ref.type, ref.namespace_, ref.name, decode.prefix);
      if (!seen.insert(key).second || selection.selects(key)) continue;
      if (live(key)) {
        ++plan.live_dependencies;
        continue;
      }
      Dependency d;
      d.ref = std::move(ref);
      d.key = key;
      d.needed_by = next.text;
      if (const auto kv = at_point(key)) {
        d.at_point = true;
        if (with_dependencies) {
          d.added = true;
          plan.added.push_back(*kv);
          needs.push_back({*kv, d.text()});
        }
      }
      plan.missing.push_back(std::move(d));
    }
  }
  return plan;
}

}  // namespace kdr::restore
