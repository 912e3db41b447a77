#include "restore/decryptable.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "verify/encryption_check.hpp"

namespace kdr::restore {

std::optional<std::string> undecryptable_refusal(const Runner& r, const core::EncryptionKeyUse& use,
                                                 const std::string& what, std::string& warning) {
  if (use.empty()) return std::nullopt;
  std::optional<core::EncryptionConfig> config;
  std::string where;
  try {
    config = core::live_encryption_config(r.ctx);
    if (config) where = fmt::format("the live EncryptionConfiguration ({})", config->file);
  } catch (const core::Error& e) {
    return fmt::format("{} holds values encrypted at rest ({}), and kube-apiserver's EncryptionConfiguration cannot be "
                       "read: {}",
                       what, core::key_use_text(use), e.what());
  }
  if (!config && !core::lstat_path(r.host(r.var(Var::static_pod_path)) / "kube-apiserver.yaml")) {
    // no kube-apiserver on the node yet (a rebuild): the generation's comes back with its files
    try {
      config = verify::generation_encryption_config(r.gen, r.var(Var::static_pod_path));
      if (config) where = fmt::format("the generation's EncryptionConfiguration ({})", config->file);
    } catch (const core::Error& e) {
      where = e.what();
    }
  }
  if (!config && where.empty()) where = "kube-apiserver runs without an EncryptionConfiguration";
  const auto lost = core::undecryptable(use, config ? &*config : nullptr);
  if (lost.empty()) return std::nullopt;
  const auto text = fmt::format(
      "{} holds {}, and {} does not hold {}: kube-apiserver could not read them", what, core::key_use_text(lost),
      where, lost.size() == 1 ? "that key" : "those keys");
  if (r.flag(Var::accept_undecryptable)) {
    warning = "accepted (accept_undecryptable=true): " + text;
    return std::nullopt;
  }
  return text +
         ". Put the old key back into kube-apiserver's EncryptionConfiguration as a secondary key (listed after the "
         "current one, under the same provider), restart kube-apiserver (move its manifest out of the static pod "
         "folder and back), then run the restore again; or --set accept_undecryptable=true to write them anyway";
}

std::optional<core::EncryptionConfig> reading_encryption_config(const Runner& r) {
  std::optional<core::EncryptionConfig> generation, live;
  try {
    generation = verify::generation_encryption_config(r.gen, r.var(Var::static_pod_path));
  } catch (const core::Error&) {
    // verify names it; the values it would decrypt are shown as undecryptable
  }
  try {
    live = core::live_encryption_config(r.ctx);
  } catch (const core::Error&) {
  }
  return core::combine(generation, live);
}

}  // namespace kdr::restore
