// Encryption at rest as kube-apiserver does it: the EncryptionConfiguration (its
// --encryption-provider-config) names providers and their keys, and each value it encrypted
// in etcd starts with `k8s:enc:<provider>:v1:<key name>:` (kms v2: `k8s:enc:kms:v2:<name>:`).
// A value whose key is not in the configuration kube-apiserver runs with cannot be read: a
// restore that writes such values (a generation from before a key rotation) is refused until
// the old key is back in the configuration.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/context.hpp"

namespace kdr::core {

// "aescbc:key1", "aesgcm:k2", "secretbox:key", "kms:plugin" of an encrypted value; empty for
// a value stored in the clear.
std::optional<std::string> encryption_key_of(std::string_view value);

// How many values name each key ("aescbc:key1" -> 120).
using EncryptionKeyUse = std::map<std::string, std::uint64_t>;
void count_encryption_key(std::string_view value, EncryptionKeyUse& use);

// One key of an aescbc, aesgcm or secretbox provider. `secret` is the key itself (decoded from
// the configuration's base64): it is never printed or logged.
struct EncryptionKey {
  std::string name;
  std::string secret;
};

struct EncryptionProvider {
  std::string type;                 // aescbc, aesgcm, secretbox, identity, kms
  std::vector<EncryptionKey> keys;  // aescbc, aesgcm, secretbox
  std::string kms_name, kms_endpoint, kms_api_version;  // kms (api version v1 or v2)
};

// One entry of `resources:`: the resources it names ("secrets", "*.apps", "*.*") and its
// providers in order (the first encrypts new writes; all of them decrypt).
struct EncryptionRule {
  std::vector<std::string> resources;
  std::vector<EncryptionProvider> providers;
};

struct EncryptionConfig {
  std::string file;           // where it was read (node path, or a generation's copy)
  std::set<std::string> keys;  // "aescbc:key1", "kms:plugin": what it can decrypt
  std::vector<EncryptionRule> rules;

  // The rule kube-apiserver applies to `resource` ("secrets", "deployments.apps"): the first
  // that names it, "*.<group>" or "*.*"; null when none does (stored in the clear).
  const EncryptionRule* rule_for(const std::string& resource, const std::string& group) const;
  // Whether kube-apiserver writes `resource` encrypted (its rule's first provider is not identity).
  bool encrypts(const std::string& resource, const std::string& group) const;
};

// Two configurations as one (a generation's and the live one): a value either decrypts is
// readable; `a`'s rules come first. Empty when both are.
std::optional<EncryptionConfig> combine(const std::optional<EncryptionConfig>& a, const std::optional<EncryptionConfig>& b);

// Parses an EncryptionConfiguration; throws Error naming the file (and line) when it is not one.
EncryptionConfig parse_encryption_config(std::string_view yaml, const std::string& file);

// The live kube-apiserver's, from its manifest's --encryption-provider-config (through its
// hostPath volume) under the node root; empty when it runs without one. Throws Error naming
// the file when it names one that cannot be read or parsed.
std::optional<EncryptionConfig> live_encryption_config(const Context& ctx);

// The keys in `use` that `config` (none: no encryption configured) cannot decrypt, with their counts.
EncryptionKeyUse undecryptable(const EncryptionKeyUse& use, const EncryptionConfig* config);
// "12 values encrypted with aescbc:key1, 3 with kms:old"
std::string key_use_text(const EncryptionKeyUse& use);

}  // namespace kdr::core
