#include "k8s/envelope.hpp"

#include <cstdint>

#include "core/protobuf_wire.hpp"

namespace kdr::k8s {

using core::put_bytes;

namespace {

constexpr std::string_view protobuf_magic{"k8s\0", 4};
constexpr std::string_view encrypted_prefix = "k8s:enc:";

// runtime.Unknown's and runtime.TypeMeta's field numbers (k8s.io/apimachinery/pkg/runtime/
// generated.proto; tests/unit/test_k8s_envelope.cpp checks them against the built-in schema).
constexpr std::uint64_t unknown_type_meta = 1, unknown_raw = 2, unknown_content_encoding = 3, unknown_content_type = 4;
constexpr std::uint64_t type_meta_api_version = 1, type_meta_kind = 2;

}  // namespace

StoredForm stored_form(std::string_view stored) {
  if (stored.substr(0, protobuf_magic.size()) == protobuf_magic) return StoredForm::protobuf;
  if (stored.substr(0, encrypted_prefix.size()) == encrypted_prefix) return StoredForm::encrypted;
  const auto first = stored.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && stored[first] == '{') return StoredForm::json;
  return StoredForm::unrecognized;
}

ProtobufRead read_protobuf_envelope(std::string_view stored) {
  if (stored_form(stored) != StoredForm::protobuf) return {std::nullopt, "it does not start with k8s\\0"};
  ProtobufEnvelope env;
  bool has_type = false, has_raw = false;
  std::string problem;
  const bool parsed = core::for_each_bytes_field(stored.substr(protobuf_magic.size()), [&](std::uint64_t field, std::string_view bytes) {
    if (field == unknown_type_meta) {
      has_type = true;
      if (!core::for_each_bytes_field(bytes, [&](std::uint64_t f, std::string_view v) {
            if (f == type_meta_api_version) env.api_version = v;
            if (f == type_meta_kind) env.kind = v;
          }))
        problem = "its typeMeta is damaged";
    } else if (field == unknown_raw) {
      has_raw = true;
      env.raw = bytes;
    } else if (field == unknown_content_encoding) {
      env.content_encoding = bytes;
    } else if (field == unknown_content_type) {
      env.content_type = bytes;
    }
  });
  if (!parsed) return {std::nullopt, "its envelope (runtime.Unknown) is truncated or damaged"};
  if (!problem.empty()) return {std::nullopt, problem};
  if (!has_type || env.kind.empty() || env.api_version.empty()) return {std::nullopt, "its envelope names no apiVersion and kind"};
  if (!has_raw) return {std::nullopt, "its envelope holds no object"};
  if (!env.content_encoding.empty()) return {std::nullopt, "its content encoding '" + env.content_encoding + "' is not one kdr reads"};
  return {std::move(env), ""};
}

std::optional<EncryptedEnvelope> read_encrypted_envelope(std::string_view stored) {
  if (stored.substr(0, encrypted_prefix.size()) != encrypted_prefix) return std::nullopt;
  auto rest = stored.substr(encrypted_prefix.size());
  EncryptedEnvelope env;
  auto take = [&](std::string& out) {
    const auto colon = rest.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    out = rest.substr(0, colon);
    rest.remove_prefix(colon + 1);
    return true;
  };
  if (!take(env.provider) || !take(env.version) || !take(env.key_name)) return std::nullopt;
  env.payload = rest;
  return env;
}

std::string write_protobuf_envelope(std::string_view api_version, std::string_view kind, std::string_view raw) {
  std::string type_meta;
  put_bytes(type_meta, type_meta_api_version, api_version);
  put_bytes(type_meta, type_meta_kind, kind);
  std::string out(protobuf_magic);
  put_bytes(out, unknown_type_meta, type_meta);
  put_bytes(out, unknown_raw, raw);
  put_bytes(out, unknown_content_encoding, "");
  put_bytes(out, unknown_content_type, "");
  return out;
}

}  // namespace kdr::k8s
