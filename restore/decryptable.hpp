// Will kube-apiserver read what a restore writes into etcd? Every value encrypted at rest
// names its key (core/encryption.hpp); the restore compares those keys with the
// EncryptionConfiguration kube-apiserver runs with after it: the live one, or, on a node that
// has none (a rebuild), the generation's. A key it does not hold refuses the restore before
// anything stops, naming the key, the number of values and the way out: put the old key back
// as a secondary key and restart kube-apiserver (or accept_undecryptable=true).
#pragma once

#include <optional>
#include <string>

#include "core/encryption.hpp"
#include "restore/preflight.hpp"
#include "restore/runner.hpp"

namespace kdr::restore {

// The refusal for `use` (the values to be written, as `what` names them: "generation X's
// snapshot"); empty when every value decrypts. accept_undecryptable=true turns it into a
// warning in `warning` (and returns empty).
std::optional<std::string> undecryptable_refusal(const Runner& r, const core::EncryptionKeyUse& use,
                                                 const std::string& what, std::string& warning);

// Every key a restore can read stored values with: the generation's EncryptionConfiguration and
// the live one (either may be missing or unreadable: then what the other holds).
std::optional<core::EncryptionConfig> reading_encryption_config(const Runner& r);

}  // namespace kdr::restore
