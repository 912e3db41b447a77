#include "etcd/keyspace_digest.hpp"

#include <fcntl.h>
#include <openssl/evp.h>

#include <cerrno>

#include <deque>
#include <functional>
#include <mutex>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/protobuf_wire.hpp"
#include "etcd/bbolt.hpp"
#include "etcd/newest_entries.hpp"

namespace kdr::etcd {

namespace {

std::uint64_t lane(const PairHash& h, std::size_t i) {
  std::uint64_t v = 0;
  for (std::size_t b = 0; b < 8; ++b) v |= static_cast<std::uint64_t>(h[i * 8 + b]) << (8 * b);
  return v;
}

// The key and value fields (1 and 5) of an mvccpb.KeyValue; false when it does not parse.
bool parse_key_value(std::string_view m, std::string_view& key, std::string_view& value) {
  bool have_key = false;
  value = {};
  const bool parsed = core::for_each_bytes_field(m, [&](std::uint64_t field, std::string_view bytes) {
    if (field == 1) {
      key = bytes;
      have_key = true;
    } else if (field == 5) {
      value = bytes;
    }
  });
  return parsed && have_key;
}

// Reads the key bucket in up to `parts` runs at once (read_bolt_bucket_runs).
using ReadRuns = std::function<std::size_t(std::size_t parts, const BoltRunVisitor&)>;

// The walks of a snapshot's key bucket on two threads: hashing its values is most of a
// walk's time (1.3 s of CPU a GiB), and the two halves of the bucket are read at once.
constexpr std::size_t walk_threads = 2;

// f(const T&) for what `keep` makes of each live key's newest value, off the key bucket read in
// revision order: a put replaces what the key held, a deletion removes it. The bucket is read in
// runs on their own threads (keep(key, value) must be safe to call from them at once); each run
// keeps its keys' last word (NewestEntries, in bounded memory), in the order of the run's number
// and its entry, and the runs are merged: of a key, the entry of highest order counts.
template <class T, class Keep, class F>
void for_each_live_key(const std::string& name, const ReadRuns& read_runs, std::size_t table_bytes, Keep keep, F f) {
  struct Run {
    NewestEntries<T> keys;
    std::uint64_t entries = 0;
  };
  const auto places = spill_places(name);
  std::deque<Run> runs;
  read_runs(walk_threads, [&](std::size_t index) -> BoltVisitor {
    Run& run = runs.emplace_back(Run{NewestEntries<T>(places, table_bytes)});
    const std::uint64_t base = static_cast<std::uint64_t>(index) << 56;
    return [&run, &name, &keep, index, base](std::string_view revision, std::string_view kv) {
      const auto order = base | ++run.entries;
      if (kv.empty()) return;  // etcdutl's --bump-revision placeholder: an empty value at the bumped revision
      std::string_view key, value;
      if ((revision.size() != 17 && revision.size() != 18) || !parse_key_value(kv, key, value))
        throw core::Error(fmt::format("{}: entry {} of the key bucket{} is not an etcd revision and key-value", name,
                                      run.entries, index == 0 ? "" : fmt::format(" (part {} of its walk)", index + 1)));
      if (revision.size() == 18) run.keys.add(key, order, true, T{});  // a deletion
      else run.keys.add(key, order, false, keep(key, value));
    };
  });
  if (runs.empty()) return;
  auto& all = runs.front().keys;
  for (std::size_t i = 1; i < runs.size(); ++i) all.merge(std::move(runs[i].keys));
  all.for_each_live([&f](std::uint64_t, const T& value) { f(value); });
}

KeyspaceDigest digest_of_bucket(const std::string& name, const ReadRuns& read_runs, std::size_t table_bytes) {
  KeyspaceDigest d;
  for_each_live_key<PairHash>(name, read_runs, table_bytes, pair_hash, [&d](const PairHash& hash) { d.add(hash); });
  return d;
}

// The encryption keys values name, each given a number (0: none) so that a key's entry holds
// a number and not the name. Safe to use from several threads.
class EncryptionKeyNames {
 public:
  std::uint32_t number(std::string_view value) {
    const auto name = core::encryption_key_of(value);
    if (!name) return 0;
    const std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < names_.size(); ++i)
      if (names_[i] == *name) return static_cast<std::uint32_t>(i + 1);
    names_.push_back(*name);
    return static_cast<std::uint32_t>(names_.size());
  }
  const std::string& name(std::uint32_t number) const {
    const std::lock_guard lock(mutex_);
    return names_.at(number - 1);
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> names_;
};

ReadRuns read_key_bucket(const std::string& file) {
  return [file](std::size_t parts, const BoltRunVisitor& v) { return read_bolt_bucket_runs(file, "key", parts, v); };
}

}  // namespace

core::EncryptionKeyUse encryption_keys_of_snapshot(const std::string& file) {
  EncryptionKeyNames names;
  core::EncryptionKeyUse use;
  for_each_live_key<std::uint32_t>(
      file, read_key_bucket(file), default_key_table_bytes, [&names](std::string_view, std::string_view value) { return names.number(value); },
      [&](std::uint32_t number) {
        if (number != 0) ++use[names.name(number)];
      });
  return use;
}

SnapshotKeyspace keyspace_of_snapshot(const std::string& file) {
  core::Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) core::throw_errno("open", file, errno);
  return keyspace_of_snapshot(fd, file);
}

SnapshotKeyspace keyspace_of_snapshot(const core::Fd& fd, const std::string& file) {
  struct Facts {
    PairHash hash;
    std::uint32_t encryption_key;
  };
  EncryptionKeyNames names;
  SnapshotKeyspace k;
  for_each_live_key<Facts>(
      file,
      [&fd, &file](std::size_t parts, const BoltRunVisitor& v) { return read_bolt_bucket_runs(fd, file, "key", parts, v); },
      default_key_table_bytes,
      [&names](std::string_view key, std::string_view value) {
        return Facts{pair_hash(key, value), names.number(value)};
      },
      [&](const Facts& facts) {
        k.digest.add(facts.hash);
        if (facts.encryption_key != 0) ++k.encryption[names.name(facts.encryption_key)];
      });
  return k;
}

SnapshotKeyspace keyspace_of_snapshot(const std::string& file, const WatchedKeys& watched,
                                      std::vector<WatchedPair>& found) {
  struct Facts {
    PairHash hash;
    std::uint32_t encryption_key;
    std::uint32_t watched;  // its index in `watched` + 1; 0: not watched
  };
  found.assign(watched.size(), WatchedPair{});
  EncryptionKeyNames names;
  SnapshotKeyspace k;
  for_each_live_key<Facts>(
      file, read_key_bucket(file), default_key_table_bytes,
      [&names, &watched](std::string_view key, std::string_view value) {
        const auto it = watched.find(key);
        return Facts{pair_hash(key, value), names.number(value), it == watched.end() ? 0 : it->second + 1};
      },
      [&](const Facts& facts) {
        k.digest.add(facts.hash);
        if (facts.encryption_key != 0) ++k.encryption[names.name(facts.encryption_key)];
        if (facts.watched != 0) {
          auto& f = found.at(facts.watched - 1);
          f.present = true;
          f.hash = facts.hash;
          if (facts.encryption_key != 0) f.encryption_key = names.name(facts.encryption_key);
        }
      });
  return k;
}

KeyspaceDigest digest_of_snapshot(const std::string& file) {
  return digest_of_bucket(file, read_key_bucket(file), default_key_table_bytes);
}

KeyspaceDigest digest_of_snapshot_bytes(const std::string& bytes, const std::string& name, std::size_t table_bytes) {
  return digest_of_bucket(
      name,
      [&](std::size_t parts, const BoltRunVisitor& v) { return read_bolt_bucket_runs_bytes(bytes, name, "key", parts, v); },
      table_bytes);
}

PairHash pair_hash(std::string_view key, std::string_view value) {
  const auto n = static_cast<std::uint32_t>(key.size());
  const unsigned char len[4] = {static_cast<unsigned char>(n >> 24), static_cast<unsigned char>(n >> 16),
                                static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
  PairHash out{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) throw core::Error("OpenSSL: cannot create a digest context");
  unsigned int size = 0;
  const bool ok = EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 && EVP_DigestUpdate(ctx, len, sizeof len) == 1 &&
                  EVP_DigestUpdate(ctx, key.data(), key.size()) == 1 &&
                  EVP_DigestUpdate(ctx, value.data(), value.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, out.data(), &size) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) throw core::Error("OpenSSL: SHA-256 failed");
  return out;
}

void KeyspaceDigest::add(const PairHash& h) {
  for (std::size_t i = 0; i < 4; ++i) lanes[i] += lane(h, i);
  ++keys;
}

void KeyspaceDigest::remove(const PairHash& h) {
  for (std::size_t i = 0; i < 4; ++i) lanes[i] -= lane(h, i);
  --keys;
}

std::string KeyspaceDigest::hex() const {
  std::string out;
  out.reserve(64);
  for (const auto l : lanes)
    for (std::size_t b = 0; b < 8; ++b) out += fmt::format("{:02x}", static_cast<unsigned>((l >> (8 * b)) & 0xff));
  return out;
}

KeyspaceDigest KeyspaceDigest::from_hex(std::string_view hex, std::int64_t keys) {
  if (hex.size() != 64) throw core::Error(fmt::format("not a keyspace digest (64 hex digits): '{}'", hex));
  KeyspaceDigest d;
  d.keys = keys;
  for (std::size_t i = 0; i < 4; ++i) {
    std::uint64_t v = 0;
    for (std::size_t b = 0; b < 8; ++b) {
      const auto pair = hex.substr(i * 16 + b * 2, 2);
      unsigned byte = 0;
      for (const char c : pair) {
        byte <<= 4;
        if (c >= '0' && c <= '9') byte |= static_cast<unsigned>(c - '0');
        else if (c >= 'a' && c <= 'f') byte |= static_cast<unsigned>(c - 'a' + 10);
        else throw core::Error(fmt::format("not a keyspace digest (64 hex digits): '{}'", hex));
      }
      v |= static_cast<std::uint64_t>(byte) << (8 * b);
    }
    d.lanes[i] = v;
  }
  return d;
}

}  // namespace kdr::etcd
