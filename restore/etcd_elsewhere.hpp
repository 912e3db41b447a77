// Why kdr will not restore an etcd it does not run (an external etcd, one under systemd), and
// what to run instead: the refusal's text, with the commands for every member.
#pragma once

#include <string>

#include "core/etcd_layout.hpp"
#include "verify/integrity.hpp"

namespace kdr::restore {

// Throws Error(failed) with the instructions; nothing was changed.
[[noreturn]] void refuse_etcd_elsewhere(const verify::GenerationView& g, core::EtcdKind kind, const core::EtcdLayout& live,
                                        const std::string& playbook);

}  // namespace kdr::restore
