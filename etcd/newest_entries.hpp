// Each key's newest entry in a walk of etcd's key bucket, in memory of a bounded size whatever
// the number of keys.
//
// The key bucket is in revision order, so which entry of a key is its newest is known only when
// the walk ends: the walk must remember every key it has met. The table of 16-byte key ids
// (key_table.hpp) takes 50 to 100 bytes a key, and a database of 8 GiB in small objects holds
// millions of keys. So the table has a ceiling (`table_bytes`). When it is full, its entries
// are set aside in an unnamed file (SpillFile), split into 64 parts by their key id, and the
// table starts again empty. At the end each part is read back on its own, into a table of about
// 1/64th of the keys, and each key's newest entry is the one of highest order.
//
// The file is opened with O_TMPFILE (0600, never named, gone when closed) in the first place
// that takes it: the folder of the file walked, then /var/tmp, then /tmp. A walk with no place
// that takes one, or whose disk fills up, keeps the rest of its keys in memory.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "etcd/key_table.hpp"

namespace kdr::etcd {

// Records of one size in an unnamed file, in `parts` parts, buffered.
class SpillFile {
 public:
  static constexpr std::size_t parts = 64;
  // The file in the first of `places` that takes one; nullptr when none does.
  static std::unique_ptr<SpillFile> open(std::size_t record_size, const std::vector<core::bfs::path>& places);
  ~SpillFile();
  SpillFile(const SpillFile&) = delete;
  SpillFile& operator=(const SpillFile&) = delete;

  // Throws Error naming the folder when the file cannot be written (a full disk).
  void put(std::size_t part, const unsigned char* record);
  // f(record) for every record put in `part`, in the order put.
  void read(std::size_t part, const std::function<void(const unsigned char*)>& f);
  std::uint64_t records() const { return records_; }

 private:
  struct Chunk {
    std::uint64_t offset;
    std::uint32_t bytes;
  };
  SpillFile(int fd, std::size_t record_size, std::string where);
  void write_out(std::size_t part);

  int fd_;
  std::size_t record_size_;
  std::size_t chunk_bytes_;
  std::string where_;
  std::uint64_t end_ = 0;
  std::uint64_t records_ = 0;
  std::vector<std::vector<unsigned char>> buffers_;
  std::vector<std::vector<Chunk>> chunks_;
};

// Where a walk of `walked` sets entries aside: its folder, /var/tmp, /tmp.
std::vector<core::bfs::path> spill_places(const core::bfs::path& walked);

// 16 MiB: a table of the keyspace digest's entries (72-byte slots) stops at 131,072 slots
// (9 MiB, the next size would pass 16), about 90,000 keys, and is set aside then.
inline constexpr std::size_t default_key_table_bytes = std::size_t{16} << 20;

// T: what is kept of an entry (trivially copyable). `order` rises with the revision through
// the walk; a parallel walk puts its run's number in the high bits.
template <class T>
class NewestEntries {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  explicit NewestEntries(std::vector<core::bfs::path> places, std::size_t table_bytes = default_key_table_bytes)
      : places_(std::move(places)), table_bytes_(table_bytes) {}

  void add(std::string_view key, std::uint64_t order, bool deleted, const T& payload) {
    add(hash_(key), Entry{order, payload, deleted, true});
  }
  // Takes in what `other` walked (another run of the same walk).
  void merge(NewestEntries&& other) {
    other.table_.for_each_entry([this](const KeyId& id, const Entry& e) { add(id, e); });
    other.table_ = {};
    if (other.own_) others_.push_back(std::move(other.own_));
    for (auto& s : other.others_) others_.push_back(std::move(s));
    other.others_.clear();
  }
  // f(std::uint64_t order, const T&) for each key's newest entry that is not a deletion, in no
  // particular order. Once: the entries are gone after it.
  template <class F>
  void for_each_live(F f) {
    const auto live = [&f](const KeyId&, const Entry& e) {
      if (!e.deleted) f(e.order, e.payload);
    };
    if (!own_ && others_.empty()) {
      table_.for_each_entry(live);
      table_ = {};
      return;
    }
    if (own_) others_.push_back(std::move(own_));
    // each part: what the files hold of it, and what the table still holds of it
    for (std::size_t part = 0; part < SpillFile::parts; ++part) {
      KeyTable<Entry> newest;
      for (auto& s : others_)
        s->read(part, [&newest](const unsigned char* r) {
          KeyId id;
          Entry e;
          std::memcpy(id.data(), r, id.size());
          std::memcpy(&e.order, r + 16, sizeof e.order);
          e.deleted = r[24] != 0;
          std::memcpy(&e.payload, r + 25, sizeof(T));
          e.set = true;
          keep_newer(newest.at(id), e);
        });
      table_.for_each_entry([&newest, part](const KeyId& id, const Entry& e) {
        if (part_of(id) == part) keep_newer(newest.at(id), e);
      });
      newest.for_each_entry(live);
    }
    table_ = {};
    others_.clear();
  }
  // Entries written to files so far (what the tests look at).
  std::uint64_t set_aside_count() const {
    std::uint64_t n = own_ ? own_->records() : 0;
    for (const auto& s : others_) n += s->records();
    return n;
  }

 private:
  struct Entry {
    std::uint64_t order = 0;
    T payload{};
    bool deleted = false;
    bool set = false;
  };
  static constexpr std::size_t record_size = 16 + 8 + 1 + sizeof(T);

  static std::size_t part_of(const KeyId& id) { return id[15] % SpillFile::parts; }
  static void keep_newer(Entry& held, const Entry& e) {
    if (!held.set || e.order > held.order) held = e;
  }
  void add(const KeyId& id, const Entry& e) {
    if (table_.full() && table_.grown_bytes() > table_bytes_ && !table_.empty() && !no_place_) set_aside();
    keep_newer(table_.at(id), e);
  }
  // the table's entries into the file; the table starts again empty
  void set_aside() {
    if (table_.empty()) return;
    if (!own_) own_ = SpillFile::open(record_size, places_);
    if (!own_) {
      no_place_ = true;
      return;
    }
    unsigned char r[record_size];
    try {
      table_.for_each_entry([&](const KeyId& id, const Entry& e) {
        std::memcpy(r, id.data(), id.size());
        std::memcpy(r + 16, &e.order, sizeof e.order);
        r[24] = e.deleted ? 1 : 0;
        std::memcpy(r + 25, &e.payload, sizeof(T));
        own_->put(part_of(id), r);
      });
    } catch (const core::Error&) {
      // a full disk: what was written stays (an entry twice is harmless), the rest in memory
      no_place_ = true;
      return;
    }
    table_.clear();
  }

  std::vector<core::bfs::path> places_;
  std::size_t table_bytes_;
  KeyIdHasher hash_;
  KeyTable<Entry> table_;
  std::unique_ptr<SpillFile> own_;                  // what this walk set aside
  std::vector<std::unique_ptr<SpillFile>> others_;  // what merged runs set aside
  bool no_place_ = false;
};

// Entries of a walk marked by their number (from 1, in the walk's order): which of them a second
// walk of the same bucket hands on. One bit an entry.
class EntryMarks {
 public:
  explicit EntryMarks(std::uint64_t entries) : bits_(entries / 64 + 1) {}
  void mark(std::uint64_t n) {
    bits_.at(n / 64) |= std::uint64_t{1} << (n % 64);
    ++marked_;
  }
  bool marked(std::uint64_t n) const { return n / 64 < bits_.size() && (bits_[n / 64] >> (n % 64) & 1) != 0; }
  // Whether any of the entries from..to-1 is marked.
  bool any(std::uint64_t from, std::uint64_t to) const {
    for (std::uint64_t n = from; n < to; ++n) {
      if (n % 64 == 0 && n + 64 <= to) {  // a whole word at once
        if (n / 64 < bits_.size() && bits_[n / 64] != 0) return true;
        n += 63;
        continue;
      }
      if (marked(n)) return true;
    }
    return false;
  }
  std::uint64_t count() const { return marked_; }

 private:
  std::vector<std::uint64_t> bits_;
  std::uint64_t marked_ = 0;
};

// What NewestEntries keeps of an entry when its number (its order) is all that is wanted.
struct NoPayload {};

}  // namespace kdr::etcd
