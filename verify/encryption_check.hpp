// Check "encryption": will the Secrets in this generation decrypt? Its etcd snapshot records
// how many values are encrypted at rest with each key (meta.json etcd.snapshot.
// encrypted_values); a key that neither the generation's own EncryptionConfiguration nor the
// live one holds (rotated out and removed since, or a config that was never backed up) means
// values no kube-apiserver here can read: an error naming the key and the count.
#pragma once

#include <optional>
#include <string>

#include "core/context.hpp"
#include "core/encryption.hpp"
#include "verify/findings.hpp"
#include "verify/integrity.hpp"

namespace kdr::verify {

// The EncryptionConfiguration the generation's kube-apiserver manifest names, read from the
// generation's copy; empty when it names none. Throws Error when it names one the generation
// does not hold, or one that does not parse.
std::optional<core::EncryptionConfig> generation_encryption_config(const GenerationView& g,
                                                                   const std::string& static_pod_path);

void check_encryption(const core::Context& ctx, const GenerationView& g, bool live, Findings& findings);

}  // namespace kdr::verify
