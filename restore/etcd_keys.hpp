// Which keys of a snapshot restore-etcd-keys puts back, and what each one meets in the live
// etcd (where kube-apiserver keeps which object: core/registry_keys.hpp).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/registry_keys.hpp"
#include "core/sha256.hpp"
#include "etcd/client.hpp"
#include "k8s/resources.hpp"

namespace kdr::restore {

// One object put back by name: RESOURCE/NAMESPACE/NAME, or RESOURCE/NAME when the resource is
// cluster-scoped; RESOURCE as kubectl takes it (deployments, deploy, deployment.apps).
struct ObjectChoice {
  k8s::ResourceType type;
  std::string namespace_, name;
  std::string key;  // its etcd key
  // "Deployment payments/api"
  std::string text() const;
};
// Throws core::Error naming the value and what is wrong with it (an unknown resource with the
// names it may have meant, a namespace missing or too many parts).
ObjectChoice parse_object_choice(std::string_view value);

struct KeySelection {
  std::vector<std::string> namespaces;
  std::vector<std::string> prefixes;
  std::vector<ObjectChoice> objects;
  bool empty() const { return namespaces.empty() && prefixes.empty() && objects.empty(); }
  bool selects(std::string_view key) const;
  // "namespace payments, prefix /registry/configmaps/x/, Deployment payments/api"
  std::string text() const;
};

// Splits a parameter value "a,b" (repeated --set values are joined by commas) into its parts.
std::vector<std::string> split_list(std::string_view value);

using core::namespace_of;
using core::resource_of;

// The prefixes to read for a selection, given the snapshot's key names: one per resource of
// each namespace, the namespace objects themselves, the prefixes as given, and each object's
// key.
std::vector<std::string> read_prefixes(const KeySelection& selection, const std::vector<std::string>& snapshot_keys);

// What a plan keeps of a key: its value's SHA-256 and size and the encryption key it names, not
// the value, which is read again when it is written. A plan's memory grows with the number of
// keys chosen (about 150 bytes each), not with what their values weigh.
struct KeyFact {
  std::string key;
  core::Sha256Bytes value_sha256{};
  std::size_t value_size = 0;
  std::int64_t mod_revision = 0;
  std::string encryption_key;  // "aescbc:key1" (core::encryption_key_of); empty: stored in the clear
  static KeyFact of(const etcd::EtcdKeyValue& kv);
  bool same_value(const KeyFact& o) const { return value_size == o.value_size && value_sha256 == o.value_sha256; }
};

struct KeyWrite {
  KeyFact wanted;             // the point's
  std::int64_t replaces = 0;  // (overwrite) the live mod revision it replaces; 0: absent live
};

struct KeyConflict {
  std::string key;
  std::int64_t live_mod_revision = 0;
};

struct KeyPlan {
  std::vector<KeyWrite> to_write;       // absent live, or (overwrite) replacing a live value
  std::size_t same = 0;                 // live holds the same value already
  std::vector<KeyConflict> conflicts;   // live holds another value, left alone
  std::map<std::string, std::size_t> per_resource;  // the selected snapshot keys
  std::size_t selected = 0;
};

// Namespace objects first (a namespaced object needs its namespace), then in key order.
KeyPlan plan_keys(std::vector<KeyFact> wanted, std::vector<KeyFact> live, bool overwrite);

// "12 keys: configmaps 3, namespaces 1, pods 8"
std::string per_resource_text(const KeyPlan& plan);

}  // namespace kdr::restore
