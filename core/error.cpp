#include "core/error.hpp"

#include <cstring>

namespace kdr::core {

std::string errno_message(std::string_view what, const std::string& path, int err) {
  return fmt::format("{} {}: {}", what, path, std::strerror(err));
}

void throw_errno(std::string_view what, const std::string& path, int err) {
  throw SystemError(errno_message(what, path, err), err);
}

}  // namespace kdr::core
