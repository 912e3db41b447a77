// What a walk of etcd's key bucket keeps per key (its newest revision, the hash of its newest
// value): a flat open-addressing table found by a 16-byte digest of the key (the first half of
// its SHA-256), not a heap node and a string per key. The bucket is in revision order, so a
// walk must hold every key it has met until it ends; at 8 GiB and 175,683 keys, a map of
// strings held about 190 bytes a key, this table 16 + sizeof(T) bytes a slot at most 70% full.
// Two keys would share an entry only if their SHA-256 agreed in 128 bits.
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
  // The entry of `key`: the one it has, or a new value-initialised one.
  T& operator[](std::string_view key) { return at(hash_(key)); }
  // The same by the key's id (as for_each_entry gives it).
  T& at(const KeyId& id) {
    if ((used_ + 1) * 10 > slots_.size() * 7) grow();
    Slot& s = slots_[index_of(id)];
    if (!s.used) {
      s.used = true;
      s.id = last_;
      ++used_;
    }
    if (!s.live) {
      s.live = true;
      s.value = T{};
      ++live_;
    }
    return s.value;
  }
  // The entry of `key`, or nullptr.
  const T* find(std::string_view key) {
    if (slots_.empty()) return nullptr;
    const Slot& s = slots_[index_of(hash_(key))];
    return s.live ? &s.value : nullptr;
  }
  // Removes `key`'s entry (its slot stays: a later put of the key takes it again).
  void erase(std::string_view key) { erase(hash_(key)); }
  void erase(const KeyId& id) {
    if (slots_.empty()) return;
    kill(slots_[index_of(id)]);
  }
  // Removes the entries drop(const T&) says to.
  template <class F>
  void erase_if(F drop) {
    for (auto& s : slots_)
      if (s.live && drop(s.value)) kill(s);
  }
  // f(const T&) for every entry, in no particular order.
  template <class F>
  void for_each(F f) const {
    for (const auto& s : slots_)
      if (s.live) f(s.value);
  }
  // f(const KeyId&, const T&) for every entry, in no particular order.
  template <class F>
  void for_each_entry(F f) const {
    for (const auto& s : slots_)
      if (s.live) f(s.id, s.value);
  }
  std::size_t size() const { return live_; }
  bool empty() const { return live_ == 0; }

 private:
  struct Slot {
    KeyId id{};
    T value{};
    bool used = false;  // holds a key (live or removed)
    bool live = false;
  };

  void kill(Slot& s) {
    if (!s.live) return;
    s.live = false;
    --live_;
  }
  static std::size_t start_of(const KeyId& id, std::size_t mask) {
    std::uint64_t h = 0;
    std::memcpy(&h, id.data(), sizeof h);
    return static_cast<std::size_t>(h) & mask;
  }
  // the slot that holds `id`, or the free one where it would go (remembers `id` in last_)
  std::size_t index_of(const KeyId& id) {
    last_ = id;
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = start_of(id, mask);
    while (slots_[i].used && slots_[i].id != id) i = (i + 1) & mask;
    return i;
  }
  // twice the slots; removed keys' slots are left behind
  void grow() {
    std::vector<Slot> old(slots_.empty() ? 1024 : slots_.size() * 2);
    old.swap(slots_);
    const std::size_t mask = slots_.size() - 1;
    used_ = 0;
    for (const auto& s : old) {
      if (!s.live) continue;
      std::size_t i = start_of(s.id, mask);
      while (slots_[i].used) i = (i + 1) & mask;
      slots_[i] = s;
      ++used_;
    }
  }

  KeyIdHasher hash_;
  std::vector<Slot> slots_;
  std::size_t used_ = 0;
  std::size_t live_ = 0;
  KeyId last_{};
};

}  // namespace kdr::etcd
