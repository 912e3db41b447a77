#include "etcd/wal_replay.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include <fmt/format.h>

#include "core/base64.hpp"
#include "core/clock.hpp"
#include "core/encryption.hpp"
#include "core/error.hpp"
#include "etcd/bbolt.hpp"
#include "etcd/snapshot_keys.hpp"
#include "etcd/wal_append.hpp"

namespace kdr::etcd {

using nlohmann::json;

namespace {

void write_all(int fd, const std::string& bytes, const core::bfs::path& file) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      core::throw_errno("write", file.string(), errno);
    }
    done += static_cast<std::size_t>(n);
  }
}

// The leases a snapshot holds (its lease bucket, keyed by the lease's id, 8 bytes big-endian).
std::set<std::int64_t> leases_of(const core::bfs::path& file) {
  std::set<std::int64_t> out;
  read_bolt_bucket_if_there(file, "lease", [&](std::string_view key, std::string_view) {
    if (key.size() == 8) out.insert(static_cast<std::int64_t>(big_endian_u64(key)));
  });
  return out;
}

}  // namespace

json WalReplayCheck::to_json() const {
  json p = json::array();
  for (const auto& [key, revision] : puts) p.push_back(json::array({core::base64_encode(key), revision}));
  return {{"after_revision", after_revision}, {"up_to", up_to}, {"keys", keys}, {"puts", std::move(p)}};
}

WalReplayCheck WalReplayCheck::from_json(const json& j) {
  try {
    WalReplayCheck c;
    c.after_revision = j.at("after_revision").get<std::int64_t>();
    c.up_to = j.at("up_to").get<std::int64_t>();
    c.keys = j.at("keys").get<std::int64_t>();
    for (const auto& p : j.at("puts")) c.puts.emplace_back(core::base64_decode(p.at(0).get<std::string>()), p.at(1).get<std::int64_t>());
    return c;
  } catch (const json::exception& e) {
    throw core::Error(fmt::format("the replay's check record is not one: {}", e.what()));
  }
}

WalReplay::WalReplay(const core::Context& ctx, const ReplayPlan& plan, const core::bfs::path& copy,
                     const core::bfs::path& scratch_dir, const core::NodeKey* key)
    : plan_(plan), scratch_(scratch_dir / "replay-entries.part") {
  const double t0 = core::monotonic_seconds();
  ::unlink(scratch_.c_str());
  fd_ = ::open(scratch_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) core::throw_errno("open", scratch_.string(), errno);
  try {
    auto leases = leases_of(copy);
    std::uint64_t request = 0;
    std::string buffer;
    auto put_entry = [&](const std::string& data) {
      if (data.size() > max_wal_record_bytes)
        throw core::Error(fmt::format("a transaction of the replay weighs {} MiB, more than one WAL record holds",
                                      (data.size() >> 20) + 1));
      const auto n = static_cast<std::uint32_t>(data.size());
      for (int i = 0; i < 4; ++i) buffer.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
      buffer += data;
      if (buffer.size() >= (1u << 20)) {
        write_all(fd_, buffer, scratch_);
        buffer.clear();
      }
    };
    batch_planned_events(
        ctx, plan, key,
        [&](std::int64_t lease) {
          if (!leases.insert(lease).second) return;
          put_entry(lease_grant_request(lease, recreated_lease_ttl_s, ++request));
          txns_.push_back(Txn{true, {}});
        },
        [&](std::vector<EtcdOp>& batch) {
          put_entry(txn_request(batch, ++request));
          Txn txn;
          const auto number = static_cast<std::int64_t>(txns_.size());
          for (const auto& op : batch) {
            auto [it, inserted] = index_.try_emplace(op.key, static_cast<std::uint32_t>(touched_.size()));
            if (inserted) touched_.emplace_back();
            auto& t = touched_[it->second];
            t.deleted = op.is_delete;
            if (!op.is_delete) {
              t.last_put = number;
              t.hash = pair_hash(op.key, op.value);
              t.encryption_key = core::encryption_key_of(op.value).value_or("");
            }
            txn.ops.push_back(Op{it->second, op.is_delete});
          }
          txns_.push_back(std::move(txn));
        },
        result_);
    write_all(fd_, buffer, scratch_);
  } catch (...) {
    ::close(fd_);
    ::unlink(scratch_.c_str());
    throw;
  }
  plan_s_ = core::monotonic_seconds() - t0;
  base_ = std::async(std::launch::async,
                     [file = copy.string(), this] { return keyspace_of_snapshot(file, index_, found_); });
}

WalReplay::~WalReplay() {
  if (base_.valid()) base_.wait();
  if (fd_ >= 0) ::close(fd_);
  ::unlink(scratch_.c_str());
}

ReplayResult WalReplay::write_into(const core::bfs::path& data_dir, double open_s, WalReplayCheck& check) {
  const double t0 = core::monotonic_seconds();
  auto result = result_;
  result.made = ReplayResult::Made::data_dir;
  result.revision = plan_.target_revision;
  const auto base = base_.get();
  result.digest_s = core::monotonic_seconds() - t0;

  // The keyspace the changes make of the base, and the revision each transaction takes: one
  // that writes (a put, or the delete of a key there) moves etcd's revision by one.
  const auto base_revision = database_revision(data_dir / "member" / "snap" / "db");
  if (base_revision <= 0)
    throw core::Error(fmt::format("{}: its database says no revision: not a data dir `snapshot restore` made",
                                  data_dir.string()));
  KeyspaceDigest digest = base.digest;
  auto encryption = base.encryption;
  std::vector<bool> exists(touched_.size());
  for (std::size_t i = 0; i < touched_.size(); ++i) {
    exists[i] = found_[i].present;
    if (!found_[i].present) continue;
    digest.remove(found_[i].hash);
    if (const auto& k = found_[i].encryption_key; !k.empty() && --encryption[k] == 0) encryption.erase(k);
  }
  for (const auto& t : touched_) {
    if (t.deleted) continue;
    digest.add(t.hash);
    if (!t.encryption_key.empty()) ++encryption[t.encryption_key];
  }
  if (!(digest == plan_.digest))
    throw core::Error(fmt::format("the replayed point does not match the journal: at revision {} the journal's digest "
                                  "is {} ({} keys), the base ({}) with the journal's changes makes {} ({} keys); nothing "
                                  "was restored from it",
                                  plan_.target_revision, plan_.digest.hex(), plan_.digest.keys, plan_.base.source,
                                  digest.hex(), digest.keys));
  std::vector<std::int64_t> revision_of(txns_.size(), 0);
  std::int64_t revision = base_revision;
  for (std::size_t n = 0; n < txns_.size(); ++n) {
    const auto& txn = txns_[n];
    if (txn.lease) continue;
    bool writes = false;
    for (const auto& op : txn.ops) writes = writes || !op.is_delete || exists[op.key];
    if (writes) revision_of[n] = ++revision;
    for (const auto& op : txn.ops) exists[op.key] = !op.is_delete;
  }

  // The entries, appended and read back.
  WalAppender wal(data_dir);
  // one entry in memory at a time: the scratch file holds every change's value
  const auto read_at = [this](std::string& into, std::size_t n, off_t at) {
    into.resize(n);
    if (::pread(fd_, into.data(), n, at) != static_cast<ssize_t>(n)) core::throw_errno("read", scratch_.string(), errno);
  };
  const auto end = ::lseek(fd_, 0, SEEK_END);
  if (end < 0) core::throw_errno("lseek", scratch_.string(), errno);
  std::string frame, entry;
  for (off_t pos = 0; pos + 4 <= end;) {
    read_at(frame, 4, pos);
    std::uint32_t n = 0;
    for (int i = 3; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(frame[static_cast<std::size_t>(i)]);
    read_at(entry, n, pos + 4);
    wal.append(entry);
    pos += 4 + static_cast<off_t>(n);
  }
  wal.commit();

  check = WalReplayCheck{};
  check.after_revision = base_revision;
  check.up_to = revision;
  check.keys = digest.keys;
  for (const auto& [key, i] : index_)
    if (!touched_[i].deleted) check.puts.emplace_back(key, revision_of[static_cast<std::size_t>(touched_[i].last_put)]);
  std::sort(check.puts.begin(), check.puts.end());

  result.file_revision = revision;
  result.digest = digest;
  result.encryption = std::move(encryption);
  result.open_s = open_s;
  result.apply_s = plan_s_ + (core::monotonic_seconds() - t0 - result.digest_s);
  result.seconds = open_s + plan_s_ + core::monotonic_seconds() - t0;
  return result;
}

void check_wal_replay(EtcdApi& etcd, const WalReplayCheck& check) {
  const auto written = etcd.written_since(check.after_revision, check.up_to);
  if (!written)
    throw core::Error(fmt::format("etcd no longer holds its history from revision {}: the journal's changes cannot be "
                                  "checked",
                                  check.after_revision + 1));
  std::size_t i = 0, j = 0;
  const auto& want = check.puts;
  const auto& got = *written;
  for (; i < want.size() || j < got.size();) {
    if (j >= got.size() || (i < want.size() && want[i].first < got[j].key))
      throw core::Error(fmt::format("etcd does not hold {} at revision {}: the journal's change to it (revision {}) was "
                                    "not applied",
                                    want[i].first, check.up_to, want[i].second));
    if (i >= want.size() || got[j].key < want[i].first)
      throw core::Error(fmt::format("etcd wrote {} at revision {}, which no change of the journal writes", got[j].key,
                                    got[j].mod_revision));
    if (got[j].mod_revision != want[i].second)
      throw core::Error(fmt::format("etcd holds {} from revision {} at revision {}; the journal's change wrote it at {}",
                                    want[i].first, got[j].mod_revision, check.up_to, want[i].second));
    ++i;
    ++j;
  }
  const auto keys = etcd.count("", check.up_to);
  if (static_cast<std::int64_t>(keys) != check.keys)
    throw core::Error(fmt::format("etcd holds {} keys at revision {}, the journal's point {}", keys, check.up_to,
                                  check.keys));
}

}  // namespace kdr::etcd
