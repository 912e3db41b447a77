#include "k8s/decode.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/base64.hpp"
#include "k8s/json_check.hpp"

namespace kdr::k8s {

namespace {

// apiVersion, kind, then metadata with the name and namespace the key gives: what is known of
// an object that does not decode.
ojson skeleton(const StoredObject& o) {
  ojson out = ojson::object();
  if (!o.api_version.empty()) out["apiVersion"] = o.api_version;
  if (!o.kind.empty()) out["kind"] = o.kind;
  else if (o.where && !o.where->type.custom) out["kind"] = o.where->type.kind;
  ojson meta = ojson::object();
  meta["name"] = utf8(o.name());
  if (!o.namespace_().empty()) meta["namespace"] = utf8(o.namespace_());
  out["metadata"] = meta;
  return out;
}

// metadata.resourceVersion as kube-apiserver sets it on read, in its place (after uid).
void set_resource_version(ojson& object, std::int64_t mod_revision) {
  if (!object.is_object() || mod_revision == 0) return;
  auto& meta = object["metadata"];
  if (!meta.is_object()) meta = ojson::object();
  const auto rv = std::to_string(mod_revision);
  if (meta.contains("resourceVersion")) {
    meta["resourceVersion"] = rv;
    return;
  }
  // The keys of an ordered object are const: the fields are moved into a new one.
  auto& fields = meta.get_ref<ojson::object_t&>();
  const bool has_uid = std::any_of(fields.begin(), fields.end(), [](const auto& f) { return f.first == "uid"; });
  ojson out = ojson::object();
  auto& rebuilt = out.get_ref<ojson::object_t&>();
  rebuilt.reserve(fields.size() + 1);
  for (auto& [k, v] : fields) {
    rebuilt.emplace_back(k, std::move(v));
    if (k == "uid") rebuilt.emplace_back("resourceVersion", rv);
  }
  if (!has_uid) rebuilt.emplace_back("resourceVersion", rv);
  meta = std::move(out);
}

void decode_protobuf(std::string_view plain, StoredObject& o, const Schema& schema) {
  const auto read = read_protobuf_envelope(plain);
  if (!read.envelope) {
    o.problem = read.problem;
    o.problem_kind = DecodeProblem::damaged;
    return;
  }
  const auto& env = *read.envelope;
  o.api_version = utf8(env.api_version);
  o.kind = utf8(env.kind);
  const auto* type = schema.message(env.api_version, env.kind);
  if (type == nullptr) {
    o.problem_kind = DecodeProblem::unknown_type;
    o.problem = fmt::format("{} {} is not among the Kubernetes types kdr knows ({}); shown as stored", env.api_version,
                            env.kind, schema.version());
    o.object = skeleton(o);
    o.object["protobuf"] = core::base64_encode(env.raw);
    return;
  }
  ojson body;
  try {
    body = decode_json(env.raw, type, schema);
  } catch (const DamagedObject& e) {
    o.problem = fmt::format("its {} {} protobuf is damaged: {}", env.api_version, env.kind, e.what());
    o.problem_kind = DecodeProblem::damaged;
    return;
  }
  o.object = ojson::object();
  auto& fields = o.object.get_ref<ojson::object_t&>();
  fields.reserve(body.size() + 2);
  fields.emplace_back("apiVersion", o.api_version);
  fields.emplace_back("kind", o.kind);
  for (auto& [k, v] : body.get_ref<ojson::object_t&>()) fields.emplace_back(k, std::move(v));
}

void decode_json(std::string_view plain, StoredObject& o) {
  auto parsed = parse_json_object(plain);
  if (!parsed) {
    o.problem = "its JSON is damaged (it does not parse)";
    o.problem_kind = DecodeProblem::damaged;
    return;
  }
  auto text = [&](const char* name) {
    return parsed->contains(name) && (*parsed)[name].is_string() ? (*parsed)[name].get<std::string>() : std::string();
  };
  o.api_version = text("apiVersion");
  o.kind = text("kind");
  o.object = std::move(*parsed);
}

// The same, checked and not built (DecodeOptions::check_only).
void check_json(std::string_view plain, StoredObject& o) {
  auto checked = check_json_object(plain);
  if (!checked.ok) {
    o.problem = fmt::format("its JSON is damaged ({})", checked.problem);
    o.problem_kind = DecodeProblem::damaged;
    return;
  }
  o.api_version = std::move(checked.api_version);
  o.kind = std::move(checked.kind);
}

}  // namespace

StoredObject decode_stored(std::string_view key, std::string_view value, std::int64_t mod_revision,
                           std::int64_t create_revision, const DecodeOptions& options, const Schema& schema) {
  StoredObject o;
  o.key = key;
  o.mod_revision = mod_revision;
  o.create_revision = create_revision;
  o.where = parse_object_key(key, options.prefix);
  std::string_view plain = value;
  o.decryption = decrypt_value(value, key, options.encryption);
  if (o.decryption.outcome == DecryptOutcome::decrypted) {
    plain = o.decryption.plaintext;
  } else if (o.decryption.outcome != DecryptOutcome::plain) {
    o.form = StoredForm::encrypted;
    o.problem = outcome_text(o.decryption, options.encryption);
    o.problem_kind = DecodeProblem::not_decrypted;
    o.object = skeleton(o);
    set_resource_version(o.object, mod_revision);
    return o;
  }
  o.form = stored_form(plain);
  switch (o.form) {
    case StoredForm::protobuf: decode_protobuf(plain, o, schema); break;
    case StoredForm::json:
      if (options.check_only) check_json(plain, o);
      else decode_json(plain, o);
      break;
    case StoredForm::encrypted:
      o.problem = "encrypted twice";
      o.problem_kind = DecodeProblem::damaged;
      break;
    case StoredForm::unrecognized:
      o.problem = "not a Kubernetes object (neither protobuf, JSON nor encrypted)";
      o.problem_kind = DecodeProblem::not_an_object;
      break;
  }
  if (o.object.is_null()) o.object = skeleton(o);
  set_resource_version(o.object, mod_revision);
  return o;
}

}  // namespace kdr::k8s
