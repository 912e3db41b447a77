// One stored value read as the Kubernetes object it is: decrypted when encrypted (with the
// EncryptionConfiguration given), its envelope opened, decoded with Kubernetes' types, and
// given the resourceVersion kube-apiserver gives it on read (the key's mod revision).
//
// A value that cannot be read is never an exception: `problem` says why, and `object` holds
// what is known (apiVersion, kind, name and namespace from the key), so that one bad object
// never hides the others.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/encryption.hpp"
#include "k8s/decrypt.hpp"
#include "k8s/envelope.hpp"
#include "k8s/object_json.hpp"
#include "k8s/resources.hpp"

namespace kdr::k8s {

// Why a value did not decode in full.
enum class DecodeProblem {
  none,
  not_decrypted,  // encrypted, and not opened (Decryption says why: no key, wrong key, KMS, ...)
  damaged,        // an envelope, protobuf or JSON that does not read
  unknown_type,   // a protobuf of a type kdr's schema lacks (shown as stored)
  not_an_object,  // neither protobuf, JSON nor encrypted (not kube-apiserver's)
};

struct StoredObject {
  std::string key;
  std::int64_t mod_revision = 0;
  std::int64_t create_revision = 0;
  std::optional<ObjectKey> where;  // from the key
  StoredForm form = StoredForm::unrecognized;  // of the plaintext (after decryption)
  Decryption decryption;          // plain, decrypted with a key, or why not
  std::string api_version, kind;  // as stored ("" when unknown)
  ojson object;                   // as kubectl prints it (Go field order)
  std::string problem;            // empty when decoded in full
  DecodeProblem problem_kind = DecodeProblem::none;

  bool decoded() const { return problem.empty(); }
  std::string name() const { return where ? where->name : key; }
  std::string namespace_() const { return where ? where->namespace_ : ""; }
};

struct DecodeOptions {
  const core::EncryptionConfig* encryption = nullptr;
  std::string prefix = "/registry";  // kube-apiserver's --etcd-prefix
  // JSON objects checked (k8s/json_check.hpp), not built: `object` is their skeleton. For
  // readers that count and check objects without printing them (the restore test).
  bool check_only = false;
};

StoredObject decode_stored(std::string_view key, std::string_view value, std::int64_t mod_revision,
                           std::int64_t create_revision, const DecodeOptions& options,
                           const Schema& schema = Schema::builtin());

}  // namespace kdr::k8s
