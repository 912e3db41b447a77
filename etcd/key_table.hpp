// What a walk of etcd's key bucket keeps per key: a flat open-addressing table found by a
// 16-byte digest of the key (the first half of its SHA-256), not a heap node and a string per
// key. At 8 GiB and 175,683 keys, a map of strings held about 190 bytes a key, this table
// 16 + sizeof(T) bytes a slot at most 70% full. Two keys would share an entry only if their
// SHA-256 agreed in 128 bits. NewestEntries (newest_entries.hpp) bounds how large it grows.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

namespace kdr::etcd {

using KeyId = std::array<unsigned char, 16>;

// SHA-256 of the key, cut to 16 bytes, through one reused digest context (not thread-safe:
// one per walk).
class KeyIdHasher {
 public:
  KeyIdHasher();
  ~KeyIdHasher();
  KeyIdHasher(KeyIdHasher&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}
  KeyIdHasher& operator=(KeyIdHasher&& other) noexcept {
    std::swap(ctx_, other.ctx_);
    return *this;
  }
  KeyIdHasher(const KeyIdHasher&) = delete;
  KeyIdHasher& operator=(const KeyIdHasher&) = delete;
  KeyId operator()(std::string_view key);

 private:
  void* ctx_;  // EVP_MD_CTX
};

template <class T>
class KeyTable {
 public:
  // The entry of `id`: the one it has, or a new value-initialised one.
  T& at(const KeyId& id) {
    if (full()) grow();
    Slot& s = slots_[index_of(id)];
    if (!s.used) {
      s.used = true;
      s.id = id;
      s.value = T{};
      ++used_;
    }
    return s.value;
  }
  // True when the next new key makes the table grow to twice its slots.
  bool full() const { return (used_ + 1) * 10 > slots_.size() * 7; }
  // The memory its slots take now, and after it grows next.
  std::size_t bytes() const { return slots_.size() * sizeof(Slot); }
  std::size_t grown_bytes() const { return slots_.empty() ? first_slots * sizeof(Slot) : 2 * bytes(); }
  // Forgets every key, keeping the slots.
  void clear() {
    for (auto& s : slots_) s.used = false;
    used_ = 0;
  }
  // f(const KeyId&, const T&) for every entry, in no particular order.
  template <class F>
  void for_each_entry(F f) const {
    for (const auto& s : slots_)
      if (s.used) f(s.id, s.value);
  }
  std::size_t size() const { return used_; }
  bool empty() const { return used_ == 0; }

 private:
  static constexpr std::size_t first_slots = 1024;
  struct Slot {
    KeyId id{};
    T value{};
    bool used = false;
  };

  static std::size_t start_of(const KeyId& id, std::size_t mask) {
    std::uint64_t h = 0;
    std::memcpy(&h, id.data(), sizeof h);
    return static_cast<std::size_t>(h) & mask;
  }
  // the slot that holds `id`, or the free one where it would go
  std::size_t index_of(const KeyId& id) const {
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = start_of(id, mask);
    while (slots_[i].used && slots_[i].id != id) i = (i + 1) & mask;
    return i;
  }
  // twice the slots
  void grow() {
    std::vector<Slot> old(slots_.empty() ? first_slots : slots_.size() * 2);
    old.swap(slots_);
    for (const auto& s : old)
      if (s.used) slots_[index_of(s.id)] = s;
  }

  std::vector<Slot> slots_;
  std::size_t used_ = 0;
};

}  // namespace kdr::etcd
