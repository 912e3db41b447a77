// What restore-etcd-keys finds for the objects it puts back by name (--set object=...): for
// each, whether the point holds it and what it meets live (absent: created; the same; another
// version: what the restore would change, field by field); and the objects they need that are
// missing live (k8s/references.hpp), which with_dependencies=true puts back too, from the same
// point, with what those need in turn.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "etcd/client.hpp"
#include "k8s/decode.hpp"
#include "k8s/object_diff.hpp"
#include "k8s/references.hpp"
#include "restore/etcd_keys.hpp"

namespace kdr::restore {

struct ChosenObject {
  enum class State {
    missing_at_point,  // the point does not hold it
    create,            // absent live
    same,              // live holds the point's value
    differs,           // live holds another value
  };
  ObjectChoice choice;
  State state = State::missing_at_point;
  std::int64_t point_mod_revision = 0;
  std::int64_t live_mod_revision = 0;
  std::vector<k8s::FieldChange> changes;  // differs: live -> the point, what the restore changes
  std::string problem;                    // differs, but a side cannot be decoded
};

struct Dependency {
  k8s::Reference ref;
  std::string key;
  std::string needed_by;  // "Deployment payments/api"
  bool at_point = false;  // the point holds it (it is missing live)
  bool added = false;     // with_dependencies=true: put back too
  std::string text() const;  // "Secret payments/api-db"
};

struct ObjectPlan {
  std::vector<ChosenObject> objects;
  std::vector<Dependency> missing;  // needed, and missing live
  std::size_t live_dependencies = 0;  // needed, and live
  std::vector<etcd::EtcdKeyValue> added;  // with_dependencies: the missing ones the point holds
};

using KeyLookup = std::function<std::optional<etcd::EtcdKeyValue>(const std::string& key)>;

// `selection`: what else the restore puts back (a dependency it covers is not listed).
ObjectPlan plan_objects(const KeySelection& selection, const KeyLookup& at_point, const KeyLookup& live,
                        bool with_dependencies, const k8s::DecodeOptions& decode);

}  // namespace kdr::restore
