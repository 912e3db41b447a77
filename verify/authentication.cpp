#include "verify/authentication.hpp"

namespace kdr::verify {

core::GenerationAuth check_authentication(const GenerationView& g, const core::NodeKey* key, Findings& findings) {
  auto auth = core::authenticate_generation(g.dir, g.id, g.meta_sha256, g.manifest_sha256, key);
  using core::AuthStatus;
  if (auth.authentic()) return auth;
  const auto severity = auth.status == AuthStatus::forged || auth.status == AuthStatus::other_key ? Severity::error
                                                                                               : Severity::warning;
  findings.add(severity, "authentication", std::string(core::to_string(auth.status)), core::generation_auth_file,
               auth.text);
  return auth;
}

}  // namespace kdr::verify
