// Reading an encrypted value back as kube-apiserver's encryption providers wrote it
// (k8s.io/apiserver/pkg/storage/value/encrypt), with the keys of an EncryptionConfiguration:
//
//   aescbc:    16-byte IV, then AES-CBC of the value with PKCS#7 padding (no authentication: a
//              wrong key shows as bad padding, or as plaintext that does not decode);
//   aesgcm:    12-byte nonce, then AES-GCM ciphertext and its 16-byte tag. The additional
//              authenticated data is the value's full etcd key, prefix included
//              ("/registry/secrets/payments/db"): kube-apiserver's etcd3 store passes
//              authenticatedDataString(path.Join(pathPrefix, key)) to TransformFromStorage, so a
//              value copied under another key does not decrypt;
//   secretbox: 24-byte nonce, then NaCl secretbox (XSalsa20-Poly1305, libsodium);
//   kms:       the key lives with the KMS plugin, outside the node's files: never checked offline.
#pragma once

#include <string>
#include <string_view>

#include "core/encryption.hpp"

namespace kdr::k8s {

enum class DecryptOutcome {
  plain,       // not encrypted
  decrypted,   // `plaintext` holds the value kube-apiserver encrypted
  no_config,   // encrypted, and no EncryptionConfiguration to read it with
  no_key,      // the configuration has no key of that provider and name
  wrong_key,   // the key it names does not open it (or it is damaged)
  kms,         // KMS: cannot be checked offline
  damaged,     // the encryption envelope itself is malformed or truncated
};

struct Decryption {
  DecryptOutcome outcome = DecryptOutcome::plain;
  std::string key;        // "aescbc:key1", "kms:vault"
  std::string plaintext;  // decrypted: the stored object
  std::string detail;     // what went wrong, or for KMS the plugin's endpoint
};

// `etcd_key` is the value's full key (aesgcm authenticates it).
Decryption decrypt_value(std::string_view stored, std::string_view etcd_key, const core::EncryptionConfig* config);

// "decrypts", "no key aescbc:key2 in /etc/kubernetes/enc.yaml", ...
std::string outcome_text(const Decryption& d, const core::EncryptionConfig* config);

// What kube-apiserver would store for `plain` under `etcd_key` with `provider` and `key` (for the
// tests' corpus, and to check a round trip): random IV or nonce.
std::string encrypt_value(std::string_view plain, std::string_view etcd_key, const std::string& provider,
                          const core::EncryptionKey& key);

}  // namespace kdr::k8s
