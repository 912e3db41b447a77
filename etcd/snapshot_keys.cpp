#include "etcd/snapshot_keys.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/protobuf_wire.hpp"
#include "etcd/bbolt.hpp"
#include "etcd/newest_entries.hpp"

namespace kdr::etcd {

std::uint64_t big_endian_u64(std::string_view bytes) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8 && i < bytes.size(); ++i) v = v << 8 | static_cast<unsigned char>(bytes[i]);
  return v;
}

std::int64_t mvcc_main_revision(std::string_view rev) { return static_cast<std::int64_t>(big_endian_u64(rev)); }

std::int64_t finished_compact_revision(const core::bfs::path& file) {
  std::int64_t out = 0;
  read_bolt_bucket(file, "meta", [&](std::string_view key, std::string_view value) {
    if (key == "finishedCompactRev" && value.size() >= 8) out = mvcc_main_revision(value);
  });
  return out;
}

std::int64_t database_revision(const core::bfs::path& file) {
  const auto last = read_bolt_last_key(file, "key");
  if (!last) throw core::Error(fmt::format("{}: not an etcd database: it has no \"key\" bucket", file.string()));
  return std::max(last->empty() ? 0 : mvcc_main_revision(*last), finished_compact_revision(file));
}

bool parse_mvcc_key_value(std::string_view m, EtcdKeyValue& out) {
  out = EtcdKeyValue{};
  bool has_key = false;
  const bool parsed = core::for_each_field(m, [&](std::uint64_t field, unsigned wire, std::uint64_t v, std::string_view bytes) {
    const auto n = static_cast<std::int64_t>(v);
    if (wire == 2 && field == 1) out.key.assign(bytes), has_key = true;
    else if (wire == 2 && field == 5) out.value.assign(bytes);
    else if (wire == 0 && field == 2) out.create_revision = n;
    else if (wire == 0 && field == 3) out.mod_revision = n;
    else if (wire == 0 && field == 4) out.version = n;
    else if (wire == 0 && field == 6) out.lease = n;
    return true;
  });
  return parsed && has_key;
}

bool mvcc_key(std::string_view m, std::string_view& key) {
  bool found = false;
  const bool parsed = core::for_each_field(m, [&](std::uint64_t field, unsigned wire, std::uint64_t, std::string_view bytes) {
    if (wire != 2 || field != 1) return true;
    key = bytes;
    found = true;
    return false;  // the key comes first: stop there
  });
  return parsed && found;
}

struct SnapshotKeys::Marks {
  EntryMarks entries;
};

SnapshotKeys::SnapshotKeys(core::bfs::path file, const SnapshotFilter& filter) : file_(std::move(file)) {
  // Pass 1: each wanted key's newest entry, by its number in the walk.
  NewestEntries<NoPayload> newest(spill_places(file_));
  std::int64_t oldest = 0;
  read_bolt_bucket(file_, "key", [&](std::string_view rev, std::string_view kv) {
    ++read_.entries;
    if (kv.empty()) return;  // etcdutl's --bump-revision placeholder
    std::string_view key;
    if ((rev.size() != mvcc_revision_size && rev.size() != mvcc_revision_size + 1) || !mvcc_key(kv, key))
      throw core::Error(fmt::format("{}: entry {} of the key bucket is not an etcd revision and key-value",
                                    file_.string(), read_.entries));
    const auto main = mvcc_main_revision(rev);
    if (oldest == 0) oldest = main;
    read_.revision = std::max(read_.revision, main);
    if (filter.at_revision && main > *filter.at_revision) return;
    if (key.substr(0, filter.prefix.size()) != filter.prefix) return;
    if (filter.keep && !filter.keep(key)) return;
    newest.add(key, read_.entries, rev.size() > mvcc_revision_size, {});  // 't' after the revision: a deletion
  });
  marks_ = std::make_unique<Marks>(Marks{EntryMarks(read_.entries)});
  newest.for_each_live([this](std::uint64_t entry, NoPayload) { marks_->entries.mark(entry); });
  read_.visited = marks_->entries.count();
  read_.revision = std::max(read_.revision, finished_compact_revision(file_));
  if (filter.at_revision && *filter.at_revision > read_.revision)
    throw core::Error(
        fmt::format("{} holds revisions up to {}, not {}", file_.string(), read_.revision, *filter.at_revision));
  if (filter.at_revision && oldest > 0 && *filter.at_revision < oldest - 1)
    throw core::Error(fmt::format("{} no longer holds revision {} (its history starts at {})", file_.string(),
                                  *filter.at_revision, oldest));
}

SnapshotKeys::~SnapshotKeys() = default;
SnapshotKeys::SnapshotKeys(SnapshotKeys&&) noexcept = default;

void SnapshotKeys::visit(const std::function<void(const EtcdKeyValue&)>& visit) const {
  // Pass 2: the values of the marked entries. A leaf page with none of them is read no
  // further than its element headers (a large value's overflow pages are skipped).
  std::uint64_t entries = 0;
  EtcdKeyValue kv_out;
  const BoltLeafFilter wanted = [&](std::uint64_t pairs) {
    if (marks_->entries.any(entries + 1, entries + 1 + pairs)) return true;
    entries += pairs;
    return false;
  };
  read_bolt_bucket_filtered(file_, "key", wanted, [&](std::string_view, std::string_view kv) {
    if (!marks_->entries.marked(++entries)) return;
    if (!parse_mvcc_key_value(kv, kv_out))
      throw core::Error(
          fmt::format("{}: entry {} of the key bucket is not an etcd key-value", file_.string(), entries));
    visit(kv_out);
  });
  if (entries != read_.entries)
    throw core::Error(fmt::format("{} changed while it was read ({} entries in its key bucket, then {})",
                                  file_.string(), read_.entries, entries));
}

SnapshotRead read_snapshot_keys(const core::bfs::path& file, const SnapshotFilter& filter,
                                const std::function<void(const EtcdKeyValue&)>& visit) {
  const SnapshotKeys keys(file, filter);
  keys.visit(visit);
  return keys.read();
}

}  // namespace kdr::etcd
