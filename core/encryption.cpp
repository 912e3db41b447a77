#include "core/encryption.hpp"

#include <fmt/format.h>

#include "core/base64.hpp"
#include "core/control_plane.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/static_pods.hpp"
#include "core/yaml_reader.hpp"

namespace kdr::core {

std::optional<std::string> encryption_key_of(std::string_view value) {
  constexpr std::string_view prefix = "k8s:enc:";
  if (value.substr(0, prefix.size()) != prefix) return std::nullopt;
  // <provider>:<version>:<key name>:
  const auto rest = value.substr(prefix.size(), 512);
  const auto p = rest.find(':');
  if (p == std::string_view::npos) return std::nullopt;
  const auto v = rest.find(':', p + 1);
  if (v == std::string_view::npos) return std::nullopt;
  const auto n = rest.find(':', v + 1);
  if (n == std::string_view::npos || n == v + 1) return std::nullopt;
  return fmt::format("{}:{}", rest.substr(0, p), rest.substr(v + 1, n - v - 1));
}

void count_encryption_key(std::string_view value, EncryptionKeyUse& use) {
  if (const auto key = encryption_key_of(value)) ++use[*key];
}

EncryptionConfig parse_encryption_config(std::string_view yaml, const std::string& file) {
  const auto root = load_yaml(yaml, file);
  if (!root.IsMap() || !root["kind"] || root["kind"].Scalar() != "EncryptionConfiguration")
    throw Error(fmt::format("{}: not an EncryptionConfiguration (kind: {})", file,
                            root.IsMap() && root["kind"] ? root["kind"].Scalar() : std::string("none")));
  EncryptionConfig c;
  c.file = file;
  const auto resources = root["resources"];
  if (!resources || !resources.IsSequence())
    throw Error(fmt::format("{}: an EncryptionConfiguration without a list of resources",
                            yaml_where(file, resources ? resources : root)));
  for (const auto& r : resources) {
    EncryptionRule rule;
    if (r["resources"] && r["resources"].IsSequence())
      for (const auto& name : r["resources"]) rule.resources.push_back(name.Scalar());
    const auto providers = r["providers"];
    if (!providers || !providers.IsSequence())
      throw Error(fmt::format("{}: resources[] without a list of providers", yaml_where(file, r)));
    for (const auto& p : providers) {
      if (!p.IsMap()) continue;
      for (const auto& entry : p) {
        EncryptionProvider provider;
        provider.type = entry.first.Scalar();
        const auto& body = entry.second;
        if (provider.type == "kms") {
          provider.kms_name = body["name"] ? body["name"].Scalar() : "";
          provider.kms_endpoint = body["endpoint"] ? body["endpoint"].Scalar() : "";
          provider.kms_api_version = body["apiVersion"] ? body["apiVersion"].Scalar() : "v1";
          if (!provider.kms_name.empty()) c.keys.insert("kms:" + provider.kms_name);
        } else if (body.IsMap() && body["keys"] && body["keys"].IsSequence()) {
          for (const auto& k : body["keys"]) {
            if (!k["name"]) continue;
            EncryptionKey key{k["name"].Scalar(), ""};
            if (k["secret"]) {
              try {
                key.secret = base64_decode(k["secret"].Scalar());
              } catch (const Error&) {
                throw Error(fmt::format("{}: the secret of {} key {} is not base64", yaml_where(file, k["secret"]),
                                        provider.type, key.name));
              }
            }
            c.keys.insert(provider.type + ":" + key.name);
            provider.keys.push_back(std::move(key));
          }
        }
        rule.providers.push_back(std::move(provider));
      }
    }
    c.rules.push_back(std::move(rule));
  }
  return c;
}

const EncryptionRule* EncryptionConfig::rule_for(const std::string& resource, const std::string& group) const {
  const auto qualified = group.empty() ? resource : resource + "." + group;
  for (const auto& rule : rules)
    for (const auto& name : rule.resources)
      if (name == qualified || name == "*.*" || (name == "*." + group) || (group.empty() && name == "*."))
        return &rule;
  return nullptr;
}

bool EncryptionConfig::encrypts(const std::string& resource, const std::string& group) const {
  const auto* rule = rule_for(resource, group);
  return rule != nullptr && !rule->providers.empty() && rule->providers.front().type != "identity";
}

std::optional<EncryptionConfig> combine(const std::optional<EncryptionConfig>& a, const std::optional<EncryptionConfig>& b) {
  if (!a) return b;
  if (!b) return a;
  auto out = *a;
  out.file += " and " + b->file;
  out.keys.insert(b->keys.begin(), b->keys.end());
  out.rules.insert(out.rules.end(), b->rules.begin(), b->rules.end());
  return out;
}

std::optional<EncryptionConfig> live_encryption_config(const Context& ctx) {
  const auto scan = scan_static_pods(ctx.root, ctx.config.static_pod_path);
  for (const auto& f : apiserver_files(scan)) {
    if (f.flag != "encryption-provider-config") continue;
    const auto path = f.host_path.value_or(f.container_path);
    const auto host = ctx.root.host(path);
    if (!lstat_path(host))
      throw Error(fmt::format("kube-apiserver's --encryption-provider-config names {}, which does not exist on the node",
                              path));
    return parse_encryption_config(read_file(host), path);
  }
  return std::nullopt;
}

EncryptionKeyUse undecryptable(const EncryptionKeyUse& use, const EncryptionConfig* config) {
  EncryptionKeyUse out;
  for (const auto& [key, n] : use)
    if (config == nullptr || !config->keys.count(key)) out[key] = n;
  return out;
}

std::string key_use_text(const EncryptionKeyUse& use) {
  std::string out;
  for (const auto& [key, n] : use)
    out += fmt::format("{}{} value{} encrypted with {}", out.empty() ? "" : ", ", n, n == 1 ? "" : "s", key);
  return out;
}

}  // namespace kdr::core
