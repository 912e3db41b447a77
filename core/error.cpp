#include "core/error.hpp"

#include <cerrno>
#include <cstring>

namespace kdr::core {

std::string errno_message(std::string_view what, const std::string& path, int err) {
  return fmt::format("{} {}: {}", what, path, std::strerror(err));
}

bool is_disk_full(const Error& e) {
  const auto* s = dynamic_cast<const SystemError*>(&e);
  return s != nullptr && (s->err() == ENOSPC || s->err() == EDQUOT);
}

void throw_errno(std::string_view what, const std::string& path, int err) {
  throw SystemError(errno_message(what, path, err), err);
}

}  // namespace kdr::core
