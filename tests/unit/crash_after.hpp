// Stops a restore right after a given record of its journal reaches the disk, as a kill would
// stop it (the hook on Journal::record throws Crash; nothing after that record happens).
#pragma once

#include <cstddef>

#include "restore/journal.hpp"

namespace kdr::test {

// What the record hook throws: the restore stops there, as if killed.
struct Crash {};

// Stops the restore right after its `n`th journal record (0: never; counts them).
class CrashAfter {
 public:
  explicit CrashAfter(std::size_t n) : n_(n) {
    restore::set_record_hook([this](const core::bfs::path&) {
      if (++seen_ == n_) throw Crash{};
    });
  }
  ~CrashAfter() { restore::set_record_hook(nullptr); }
  CrashAfter(const CrashAfter&) = delete;
  CrashAfter& operator=(const CrashAfter&) = delete;
  std::size_t seen() const { return seen_; }

 private:
  std::size_t n_;
  std::size_t seen_ = 0;
};

}  // namespace kdr::test
