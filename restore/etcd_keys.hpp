// Which keys of a snapshot restore-etcd-keys puts back, and what each one meets in the live
// etcd (where kube-apiserver keeps which object: core/registry_keys.hpp).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/registry_keys.hpp"
#include "etcd/client.hpp"

namespace kdr::restore {

struct KeySelection {
  std::vector<std::string> namespaces;
  std::vector<std::string> prefixes;
  bool empty() const { return namespaces.empty() && prefixes.empty(); }
  bool selects(std::string_view key) const;
  // "namespace payments, prefix /registry/configmaps/x/"
  std::string text() const;
};

// Splits a parameter value "a,b" (repeated --set values are joined by commas) into its parts.
std::vector<std::string> split_list(std::string_view value);

using core::namespace_of;
using core::resource_of;

// The prefixes to read for a selection, given the snapshot's key names: one per resource of
// each namespace, the namespace objects themselves, and the prefixes as given.
std::vector<std::string> read_prefixes(const KeySelection& selection, const std::vector<std::string>& snapshot_keys);

struct KeyConflict {
  core::EtcdKeyValue wanted;  // the snapshot's
  core::EtcdKeyValue live;
};

struct KeyPlan {
  std::vector<core::EtcdKeyValue> to_write;  // absent live, or (overwrite) replacing `replaced`
  std::map<std::string, core::EtcdKeyValue> replaced;  // key -> the live value it replaces
  std::vector<core::EtcdKeyValue> same;      // live holds the same value already
  std::vector<KeyConflict> conflicts;        // live holds another value, left alone
  std::map<std::string, std::size_t> per_resource;  // the selected snapshot keys
  std::size_t selected = 0;
};

// Namespace objects first (a namespaced object needs its namespace), then in key order.
KeyPlan plan_keys(std::vector<core::EtcdKeyValue> wanted, const std::vector<core::EtcdKeyValue>& live, bool overwrite);

// "12 keys: configmaps 3, namespaces 1, pods 8"
std::string per_resource_text(const KeyPlan& plan);

}  // namespace kdr::restore
