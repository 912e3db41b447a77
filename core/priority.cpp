#include "core/priority.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kdr::core {

void lower_io_priority(const Context& ctx) {
  const auto& p = ctx.config.io_priority;
  if (p == "normal") return;
  constexpr int ioprio_class_shift = 13, ioprio_who_process = 1;
  const int klass = p == "idle" ? 3 : 2;
  const int value = (klass << ioprio_class_shift) | (p == "idle" ? 0 : 7);
  if (::syscall(SYS_ioprio_set, ioprio_who_process, 0, value) != 0)
    ctx.out.detail("could not lower the I/O priority: {}", std::strerror(errno));
}

}  // namespace kdr::core
