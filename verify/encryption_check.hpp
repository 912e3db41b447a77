// Check "encryption": will the Secrets in this generation decrypt? Its etcd snapshot records
// how many values are encrypted at rest with each key (meta.json etcd.snapshot.
// encrypted_values); a key that neither the generation's own EncryptionConfiguration nor the
// live one holds (rotated out and removed since, or a config that was never backed up) means
// values no kube-apiserver here can read: an error naming the key and the count.
//
// When the snapshot is sound, every encrypted value in it is then decrypted with those
// configurations' keys (k8s/decrypt.hpp): a value its key does not open is an error naming the
// key and the count; a value stored in the clear for a resource the configuration encrypts is a
// warning; values of a KMS plugin are counted, not checked (their key is not on the node).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "core/context.hpp"
#include "core/encryption.hpp"
#include "core/fs.hpp"

#include <nlohmann/json.hpp>
#include "verify/findings.hpp"
#include "verify/integrity.hpp"

namespace kdr::verify {

// The EncryptionConfiguration the generation's kube-apiserver manifest names, read from the
// generation's copy; empty when it names none. Throws Error when it names one the generation
// does not hold, or one that does not parse.
std::optional<core::EncryptionConfig> generation_encryption_config(const GenerationView& g,
                                                                   const std::string& static_pod_path);

// What the decryption of a snapshot found, per key ("aescbc:key1").
struct EncryptionKeyFacts {
  std::uint64_t values = 0, decrypt = 0, fail = 0;
  bool kms = false;
};
struct EncryptionFacts {
  std::map<std::string, EncryptionKeyFacts> keys;
  std::map<std::string, std::uint64_t> plain;  // resource -> values in the clear it should not have
  std::string config;                         // the configurations read
  nlohmann::json to_json() const;
  // "41 encrypted with aescbc:key1, all decrypt"
  std::string text() const;
};

// `snapshot`: the generation's snapshot, checked and uncompressed (null: not read).
std::optional<EncryptionFacts> check_encryption(const core::Context& ctx, const GenerationView& g, bool live,
                                                const core::bfs::path* snapshot, Findings& findings);

}  // namespace kdr::verify
