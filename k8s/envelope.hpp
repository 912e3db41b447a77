// The forms in which kube-apiserver stores a value in etcd (k8s.io/apimachinery's protobuf
// serializer, its JSON serializer, and the encryption-at-rest transformers):
//
//   protobuf:  "k8s\0" then a runtime.Unknown: typeMeta (1: apiVersion 1, kind 2), raw (2: the
//              object's own protobuf), contentEncoding (3), contentType (4), written in that order
//              with 3 and 4 always present, even empty (runtime.Unknown.NestedMarshalTo);
//   JSON:      the object as JSON ({"apiVersion":..., "kind":...}): custom resources, and anything
//              stored with a JSON storage media type;
//   encrypted: "k8s:enc:<provider>:v1:<key name>:" then the provider's ciphertext (kms v2:
//              "k8s:enc:kms:v2:<plugin name>:").
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kdr::k8s {

enum class StoredForm { protobuf, json, encrypted, unrecognized };

struct ProtobufEnvelope {
  std::string api_version;  // "apps/v1", "v1"
  std::string kind;
  std::string_view raw;     // the object's protobuf (points into the stored value)
  std::string content_encoding, content_type;
};

struct EncryptedEnvelope {
  std::string provider;     // aescbc, aesgcm, secretbox, kms
  std::string version;      // v1 (kms: v1 or v2)
  std::string key_name;
  std::string_view payload;  // what follows the prefix (points into the stored value)
};

StoredForm stored_form(std::string_view stored);

// The protobuf envelope's parts; an error text naming what is damaged when it does not parse.
struct ProtobufRead {
  std::optional<ProtobufEnvelope> envelope;
  std::string problem;
};
ProtobufRead read_protobuf_envelope(std::string_view stored);

// The encryption prefix's parts; nullopt when `stored` does not start with a well-formed one.
std::optional<EncryptedEnvelope> read_encrypted_envelope(std::string_view stored);

// What kube-apiserver writes for an object of `kind` in `api_version` whose protobuf is `raw`.
std::string write_protobuf_envelope(std::string_view api_version, std::string_view kind, std::string_view raw);

}  // namespace kdr::k8s
