// Authentication: is the generation the one this node's key vouched for (core/generation_auth.hpp)?
// A finding of check "authentication": an error when it is forged, or made with another key;
// a warning when it cannot be told (no key on this machine, no AUTH); none when it holds.
#pragma once

#include "core/generation_auth.hpp"
#include "core/node_key.hpp"
#include "verify/findings.hpp"
#include "verify/integrity.hpp"

namespace kdr::verify {

core::GenerationAuth check_authentication(const GenerationView& g, const core::NodeKey* key, Findings& findings);

}  // namespace kdr::verify
