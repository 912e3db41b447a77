// Why kdr will not restore an etcd it does not run (an external etcd, one under systemd), and
// what to run instead: the refusal's text, with the commands for every member.
#pragma once

#include <string>

#include "core/generation_view.hpp"
#include "etcd/layout.hpp"

namespace kdr::restore {

// Throws Error(failed) with the instructions; nothing was changed.
[[noreturn]] void refuse_etcd_elsewhere(const core::GenerationView& g, etcd::EtcdKind kind, const etcd::EtcdLayout& live,
                                        const std::string& playbook);

}  // namespace kdr::restore
