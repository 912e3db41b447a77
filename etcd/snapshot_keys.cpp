#include "etcd/snapshot_keys.hpp"

#include <array>
#include <unordered_map>

#include <fmt/format.h>

#include "core/error.hpp"
#include "etcd/bbolt.hpp"

namespace kdr::core {

namespace {

constexpr std::size_t revision_size = 17;  // 8 + '_' + 8; a deletion adds 't'

std::int64_t main_revision(std::string_view rev) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v = v << 8 | static_cast<unsigned char>(rev[i]);
  return static_cast<std::int64_t>(v);
}

// Reads varints and length-delimited fields (what mvccpb.KeyValue has).
bool parse_fields(std::string_view m, EtcdKeyValue& out, bool& has_key) {
  std::size_t pos = 0;
  auto varint = [&](std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= m.size()) return false;
      const auto b = static_cast<unsigned char>(m[pos++]);
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  };
  while (pos < m.size()) {
    std::uint64_t tag = 0, v = 0;
    if (!varint(tag)) return false;
    const auto field = tag >> 3;
    switch (tag & 7) {
      case 0:
        if (!varint(v)) return false;
        if (field == 2) out.create_revision = static_cast<std::int64_t>(v);
        else if (field == 3) out.mod_revision = static_cast<std::int64_t>(v);
        else if (field == 4) out.version = static_cast<std::int64_t>(v);
        else if (field == 6) out.lease = static_cast<std::int64_t>(v);
        break;
      case 2:
        if (!varint(v) || v > m.size() - pos) return false;
        if (field == 1) {
          out.key.assign(m.substr(pos, v));
          has_key = true;
        } else if (field == 5) {
          out.value.assign(m.substr(pos, v));
        }
        pos += v;
        break;
      case 1:
        if (m.size() - pos < 8) return false;
        pos += 8;
        break;
      case 5:
        if (m.size() - pos < 4) return false;
        pos += 4;
        break;
      default: return false;
    }
  }
  return true;
}

// The key field alone, without copying the value.
bool key_of(std::string_view m, std::string_view& key) {
  std::size_t pos = 0;
  while (pos < m.size()) {
    std::uint64_t tag = 0, v = 0;
    for (int shift = 0;; shift += 7) {
      if (pos >= m.size() || shift >= 64) return false;
      const auto b = static_cast<unsigned char>(m[pos++]);
      tag |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) break;
    }
    const auto wire = tag & 7;
    if (wire == 0) {
      while (pos < m.size() && (static_cast<unsigned char>(m[pos]) & 0x80) != 0) ++pos;
      if (pos++ >= m.size()) return false;
    } else if (wire == 2) {
      for (int shift = 0;; shift += 7) {
        if (pos >= m.size() || shift >= 64) return false;
        const auto b = static_cast<unsigned char>(m[pos++]);
        v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
        if ((b & 0x80) == 0) break;
      }
      if (v > m.size() - pos) return false;
      if ((tag >> 3) == 1) {
        key = m.substr(pos, v);
        return true;
      }
      pos += v;
    } else if (wire == 1) {
      pos += 8;
    } else if (wire == 5) {
      pos += 4;
    } else {
      return false;
    }
  }
  return false;
}

}  // namespace

bool parse_mvcc_key_value(std::string_view m, EtcdKeyValue& out) {
  out = EtcdKeyValue{};
  bool has_key = false;
  return parse_fields(m, out, has_key) && has_key;
}

SnapshotRead read_snapshot_keys(const bfs::path& file, const SnapshotFilter& filter,
                                const std::function<void(const EtcdKeyValue&)>& visit) {
  SnapshotRead out;
  // Pass 1: each wanted key's newest entry (its revision bytes; a deletion marks it gone).
  std::unordered_map<std::string, std::array<char, revision_size + 1>> newest;
  std::int64_t oldest = 0;
  read_bolt_bucket(file, "key", [&](std::string_view rev, std::string_view kv) {
    ++out.entries;
    if (kv.empty()) return;  // etcdutl's --bump-revision placeholder
    std::string_view key;
    if ((rev.size() != revision_size && rev.size() != revision_size + 1) || !key_of(kv, key))
      throw Error(fmt::format("{}: entry {} of the key bucket is not an etcd revision and key-value", file.string(),
                              out.entries));
    const auto main = main_revision(rev);
    if (oldest == 0) oldest = main;
    out.revision = std::max(out.revision, main);
    if (filter.at_revision && main > *filter.at_revision) return;
    if (key.substr(0, filter.prefix.size()) != filter.prefix) return;
    if (filter.keep && !filter.keep(key)) return;
    std::array<char, revision_size + 1> where{};
    std::copy(rev.begin(), rev.end(), where.begin());  // 't' in the last byte for a deletion
    newest[std::string(key)] = where;
  });
  if (filter.at_revision && *filter.at_revision > out.revision)
    throw Error(fmt::format("{} holds revisions up to {}, not {}", file.string(), out.revision, *filter.at_revision));
  if (filter.at_revision && oldest > 0 && *filter.at_revision < oldest - 1)
    throw Error(fmt::format("{} no longer holds revision {} (its history starts at {})", file.string(),
                            *filter.at_revision, oldest));
  // Pass 2: the values of those entries.
  std::uint64_t entries = 0;
  EtcdKeyValue kv_out;
  read_bolt_bucket(file, "key", [&](std::string_view rev, std::string_view kv) {
    ++entries;
    if (kv.empty() || rev.size() != revision_size) return;  // deletions hand out nothing
    std::string_view key;
    if (!key_of(kv, key)) return;
    const auto it = newest.find(std::string(key));
    if (it == newest.end() || it->second[revision_size] == 't' || std::string_view(it->second.data(), revision_size) != rev)
      return;
    if (!parse_mvcc_key_value(kv, kv_out))
      throw Error(fmt::format("{}: entry {} of the key bucket is not an etcd key-value", file.string(), entries));
    ++out.visited;
    visit(kv_out);
  });
  return out;
}

}  // namespace kdr::core
