#include "core/write_behind.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace kdr::core {

WriteBehind::WriteBehind(Sink sink, std::size_t buffers, std::size_t buffer_bytes) : sink_(std::move(sink)) {
  if (buffers < 2) buffers = 2;
  buffers_.reserve(buffers);
  for (std::size_t i = 0; i < buffers; ++i) {
    buffers_.emplace_back(buffer_bytes);
    free_.push_back(i);
  }
  thread_ = std::thread([this] { run(); });
}

WriteBehind::~WriteBehind() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
    full_.clear();
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WriteBehind::rethrow_locked() {
  if (error_) std::rethrow_exception(error_);
}

std::vector<char>& WriteBehind::buffer() {
  std::unique_lock lock(mutex_);
  if (have_filling_) return buffers_[filling_];
  changed_.wait(lock, [this] { return !free_.empty() || error_; });
  rethrow_locked();
  filling_ = free_.front();
  free_.pop_front();
  have_filling_ = true;
  return buffers_[filling_];
}

void WriteBehind::submit(std::size_t size) {
  {
    std::lock_guard lock(mutex_);
    rethrow_locked();
    if (!have_filling_) throw Error("WriteBehind::submit without a buffer");
    full_.push_back({filling_, std::min(size, buffers_[filling_].size())});
    have_filling_ = false;
  }
  changed_.notify_all();
}

void WriteBehind::finish() {
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return (full_.empty() && !busy_) || error_; });
    stop_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  rethrow_locked();
}

void WriteBehind::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] { return !full_.empty() || stop_; });
    if (full_.empty() || error_) return;  // stopped
    const auto item = full_.front();
    full_.pop_front();
    busy_ = true;
    lock.unlock();
    std::exception_ptr failed;
    try {
      sink_(buffers_[item.index].data(), item.size);
    } catch (...) {
      failed = std::current_exception();
    }
    lock.lock();
    busy_ = false;
    free_.push_back(item.index);
    if (failed) {
      error_ = failed;
      full_.clear();
    }
    changed_.notify_all();
    if (error_) return;
  }
}

}  // namespace kdr::core
