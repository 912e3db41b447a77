#include "verify/encryption_check.hpp"

#include <fmt/format.h>

#include "core/control_plane.hpp"
#include "core/error.hpp"
#include "core/generation.hpp"

namespace kdr::verify {

namespace {
constexpr const char* check_name = "encryption";
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

void check_encryption(const core::Context& ctx, const GenerationView& g, bool live, Findings& findings) {
  const auto& snap = g.meta.etcd.snapshot;
  if (!snap || !snap->encrypted_values || snap->encrypted_values->empty()) return;
  const auto& use = *snap->encrypted_values;
  std::optional<core::EncryptionConfig> own, now;
  try {
    own = generation_encryption_config(g, ctx.config.static_pod_path);
  } catch (const core::Error& e) {
    findings.add(Severity::warning, check_name, "config", "kube-apiserver", e.what());
  }
  if (live) {
    try {
      now = core::live_encryption_config(ctx);
    } catch (const core::Error& e) {
      findings.add(Severity::warning, check_name, "config", "kube-apiserver", e.what());
    }
  }
  core::EncryptionKeyUse lost;
  for (const auto& [key, n] : use)
    if (!(own && own->keys.count(key)) && !(now && now->keys.count(key))) lost[key] = n;
  if (lost.empty()) return;
  findings.add(Severity::error, check_name, "unknown-key", snap->file,
               fmt::format("{} in the snapshot, and no EncryptionConfiguration here holds {} ({}{}): kube-apiserver "
                           "cannot read them. Find the old key (an older generation's EncryptionConfiguration, a "
                           "secret store) and put it back into the live configuration as a secondary key",
                           core::key_use_text(lost), lost.size() == 1 ? "that key" : "those keys",
                           own ? "the generation's " + own->file : std::string("the generation holds none"),
                           live ? (now ? ", the live " + now->file : std::string(", the live kube-apiserver has none"))
                                : std::string()));
}

}  // namespace kdr::verify
