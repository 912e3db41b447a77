// Fatal errors: thrown deep, caught once at the top, printed as `kdr: error: ...`
// with the exit code they carry. Recoverable problems travel as values instead.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "core/exit_codes.hpp"

namespace kdr::core {

class Error : public std::runtime_error {
 public:
  explicit Error(std::string message, ExitCode code = ExitCode::failed)
      : std::runtime_error(std::move(message)), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

// An error caused by the operator's input (command line, config, playbook).
class UsageError : public Error {
 public:
  explicit UsageError(std::string message) : Error(std::move(message), ExitCode::usage) {}
};

// A failed system call: the message names the path, err() is its errno (ENOSPC: a full disk).
class SystemError : public Error {
 public:
  SystemError(std::string message, int err) : Error(std::move(message)), err_(err) {}
  int err() const { return err_; }

 private:
  int err_;
};

// A system call that failed because the disk (or the user's quota) is full: ENOSPC, EDQUOT.
bool is_disk_full(const Error& e);

// "open /x/y: Permission denied": the path and the system's own words.
std::string errno_message(std::string_view what, const std::string& path, int err);

// Throws SystemError.
[[noreturn]] void throw_errno(std::string_view what, const std::string& path, int err);

}  // namespace kdr::core
