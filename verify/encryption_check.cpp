#include "verify/encryption_check.hpp"

#include <fmt/format.h>

#include "core/control_plane.hpp"
#include "core/error.hpp"
#include "core/generation.hpp"
#include "core/generation_view.hpp"
#include "etcd/snapshot_keys.hpp"
#include "k8s/decrypt.hpp"
#include "k8s/resources.hpp"

namespace kdr::verify {

namespace {
constexpr const char* encryption_check_name = "encryption";
}

std::optional<core::EncryptionConfig> generation_encryption_config(const GenerationView& g,
                                                                   const std::string& static_pod_path) {
  for (const auto& f : core::apiserver_files(generation_pods(g, static_pod_path))) {
    if (f.flag != "encryption-provider-config") continue;
    const auto path = f.host_path.value_or(f.container_path);
    const auto file = g.dir / core::generation_relative_path(path);
    if (!core::lstat_path(file))
      throw core::Error(fmt::format("the generation's kube-apiserver names --encryption-provider-config {}, which the "
                                    "generation does not hold",
                                    path));
    return core::parse_encryption_config(core::read_backup_file(file), "generation " + g.id + ": " + path);
  }
  return std::nullopt;
}

namespace {

// Every value of the snapshot under kube-apiserver's prefix, decrypted where it is encrypted.
EncryptionFacts census(const core::bfs::path& snapshot, const std::string& prefix, const core::EncryptionConfig* config) {
  EncryptionFacts facts;
  etcd::read_snapshot_keys(snapshot, {prefix + "/", std::nullopt, nullptr}, [&](const etcd::EtcdKeyValue& kv) {
    const auto d = k8s::decrypt_value(kv.value, kv.key, config);
    if (d.outcome == k8s::DecryptOutcome::plain) {
      const auto where = k8s::parse_object_key(kv.key, prefix);
      if (where && config != nullptr && config->encrypts(where->type.resource, where->type.group))
        ++facts.plain[where->type.qualified()];
      return;
    }
    auto& k = facts.keys[d.key.empty() ? "(malformed prefix)" : d.key];
    ++k.values;
    if (d.outcome == k8s::DecryptOutcome::decrypted) ++k.decrypt;
    else if (d.outcome == k8s::DecryptOutcome::kms) k.kms = true;
    else ++k.fail;
  });
  return facts;
}

}  // namespace

nlohmann::json EncryptionFacts::to_json() const {
  auto k = nlohmann::json::object();
  for (const auto& [name, f] : keys)
    k[name] = {{"values", f.values}, {"decrypt", f.decrypt}, {"fail", f.fail}, {"kms", f.kms}};
  return {{"keys", k}, {"plain", plain}, {"config", config}};
}

std::string EncryptionFacts::text() const {
  std::string out;
  for (const auto& [name, f] : keys) {
    if (!out.empty()) out += "; ";
    if (f.kms) out += fmt::format("{} encrypted by KMS plugin {} (not checkable offline)", f.values, name);
    else if (f.fail == 0) out += fmt::format("{} encrypted with {}, all decrypt", f.values, name);
    else out += fmt::format("{} encrypted with {}, {} DO NOT DECRYPT", f.values, name, f.fail);
  }
  for (const auto& [resource, n] : plain)
    out += fmt::format("{}{} {} stored in the clear", out.empty() ? "" : "; ", n, resource);
  return out.empty() ? "no value encrypted at rest" : out;
}

std::optional<EncryptionFacts> check_encryption(const core::Context& ctx, const GenerationView& g, bool live,
                                                const core::bfs::path* snapshot, Findings& findings) {
  const auto& snap = g.meta.etcd.snapshot;
  const bool recorded = snap && snap->encrypted_values && !snap->encrypted_values->empty();
  std::optional<core::EncryptionConfig> own, now;
  try {
    own = generation_encryption_config(g, ctx.config.static_pod_path);
  } catch (const core::Error& e) {
    findings.add(recorded ? Severity::error : Severity::warning, encryption_check_name, "config", "kube-apiserver", e.what());
  }
  if (live) {
    try {
      now = core::live_encryption_config(ctx);
    } catch (const core::Error& e) {
      findings.add(Severity::warning, encryption_check_name, "config", "kube-apiserver", e.what());
    }
  }
  core::EncryptionKeyUse lost;
  if (recorded)
    for (const auto& [key, n] : *snap->encrypted_values)
      if (!(own && own->keys.count(key)) && !(now && now->keys.count(key))) lost[key] = n;
  if (!lost.empty())
    findings.add(Severity::error, encryption_check_name, "unknown-key", snap->file,
                 fmt::format("{} in the snapshot, and no EncryptionConfiguration here holds {} ({}{}): kube-apiserver "
                             "cannot read them. Find the old key (an older generation's EncryptionConfiguration, a "
                             "secret store) and put it back into the live configuration as a secondary key",
                             core::key_use_text(lost), lost.size() == 1 ? "that key" : "those keys",
                             own ? "the generation's " + own->file : std::string("the generation holds none"),
                             live ? (now ? ", the live " + now->file : std::string(", the live kube-apiserver has none"))
                                  : std::string()));
  if (snapshot == nullptr || (!recorded && !own && !now)) return std::nullopt;
  const auto config = core::combine(own, now);
  const auto prefix = core::apiserver_etcd_prefix(core::generation_pods(g, ctx.config.static_pod_path));
  auto facts = census(*snapshot, prefix, config ? &*config : nullptr);
  facts.config = config ? config->file : "";
  for (const auto& [key, f] : facts.keys) {
    if (f.kms)
      findings.add(Severity::info, encryption_check_name, "kms", snap->file,
                   fmt::format("{} value{} encrypted by the KMS plugin {}: its key lives with the plugin, outside the "
                               "node; kdr cannot check them offline",
                               f.values, f.values == 1 ? "" : "s", key));
    else if (f.fail > 0 && lost.count(key) == 0)
      findings.add(Severity::error, encryption_check_name, "undecryptable", snap->file,
                   fmt::format("{} of {} value{} encrypted with {} do not decrypt with {}'s key of that name: the "
                               "key was changed under the same name, or the values are damaged. kube-apiserver "
                               "cannot read them",
                               f.fail, f.values, f.values == 1 ? "" : "s", key,
                               config ? config->file : std::string("the EncryptionConfiguration")));
  }
  for (const auto& [resource, n] : facts.plain)
    findings.add(Severity::warning, encryption_check_name, "plaintext", snap->file,
                 fmt::format("{} {} stored in the clear although {} encrypts them (written before encryption was "
                             "turned on, or by identity first): rewrite them (kubectl get {} -A -o json | kubectl "
                             "replace -f -) to encrypt them",
                             n, resource, facts.config, resource));
  return facts;
}

}  // namespace kdr::verify
