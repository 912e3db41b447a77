// The gentle I/O priority of kdr's long jobs (the backup, a restore test): config
// io_priority (idle, best-effort-low, normal) for this process and what it starts.
#pragma once

#include "core/context.hpp"

namespace kdr::core {

// ioprio_set(2): the job (and the programs it starts: etcdctl, etcdutl, a private etcd) only
// gets the disk when etcd does not need it. Without an I/O scheduler that honours priorities
// (none, mq-deadline) it has no effect; the bandwidth cap still does.
void lower_io_priority(const Context& ctx);

}  // namespace kdr::core
