#include "etcd/wal_append.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <limits>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/protobuf_wire.hpp"
#include "etcd/crc32c.hpp"
#include "etcd/member_data.hpp"

namespace kdr::etcd {

namespace {

constexpr std::size_t write_chunk = std::size_t{1} << 20;

std::string header(std::uint64_t id) {
  std::string h;
  core::put_number(h, 1, id);
  return h;
}

}  // namespace

std::string txn_request(const std::vector<EtcdOp>& ops, std::uint64_t id) {
  std::string txn;
  for (const auto& op : ops) {
    std::string req, wrapped;
    core::put_bytes(req, 1, op.key);
    if (op.is_delete) {
      core::put_bytes(wrapped, 3, req);
    } else {
      core::put_bytes(req, 2, op.value);
      if (op.lease != 0) core::put_number(req, 3, static_cast<std::uint64_t>(op.lease));
      core::put_bytes(wrapped, 2, req);
    }
    core::put_bytes(txn, 2, wrapped);
  }
  std::string out;
  core::put_bytes(out, 100, header(id));
  core::put_bytes(out, 6, txn);
  return out;
}

std::string lease_grant_request(std::int64_t lease, std::int64_t ttl_s, std::uint64_t id) {
  std::string grant;
  core::put_number(grant, 1, static_cast<std::uint64_t>(ttl_s));
  core::put_number(grant, 2, static_cast<std::uint64_t>(lease));
  std::string out;
  core::put_bytes(out, 100, header(id));
  core::put_bytes(out, 8, grant);
  return out;
}

WalAppender::WalAppender(const core::bfs::path& data_dir) : data_dir_(data_dir) {
  const auto m = read_wal_entries(data_dir, std::numeric_limits<std::uint64_t>::max(),
                                  [](std::uint64_t, std::uint64_t, std::string_view) {});
  // the WAL must be whole
  for (const auto& p : m.problems)
    if (p.find("/member/wal") != std::string::npos || p.find(".wal") != std::string::npos)
      throw core::Error(fmt::format("{}: the WAL cannot be continued: {}", data_dir.string(), p));
  if (m.wal_file.empty() || m.wal_end == 0 || m.term == 0 || m.commit != m.last_index)
    throw core::Error(fmt::format("{}: its WAL does not end with every entry committed (last entry {}, committed {}, "
                                  "term {}): not a data dir `snapshot restore` made",
                                  data_dir.string(), m.last_index, m.commit, m.term));
  file_ = m.wal_file;
  offset_ = m.wal_end;
  crc_ = m.wal_crc;
  first_index_ = index_ = m.last_index;
  term_ = m.last_term != 0 ? m.last_term : m.term;
  vote_ = m.vote;
  fd_ = ::open(file_.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd_ < 0) core::throw_errno("open", file_.string(), errno);
}

WalAppender::~WalAppender() {
  if (fd_ >= 0) ::close(fd_);
}

void WalAppender::frame(std::int64_t type, const std::string& data) {
  crc_ = crc32c(crc_, data);
  std::string record;
  core::put_number(record, 1, static_cast<std::uint64_t>(type));
  core::put_number(record, 2, crc_);
  core::put_bytes(record, 3, data);
  const std::size_t pad = (8 - record.size() % 8) % 8;
  std::uint64_t len = record.size();
  if (pad != 0) len |= static_cast<std::uint64_t>(0x80 | pad) << 56;
  for (int i = 0; i < 8; ++i) buffer_.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  buffer_ += record;
  buffer_.append(pad, '\0');
  if (buffer_.size() >= write_chunk) write_out();
}

void WalAppender::write_out() {
  std::size_t done = 0;
  while (done < buffer_.size()) {
    const auto n = ::pwrite(fd_, buffer_.data() + done, buffer_.size() - done, static_cast<off_t>(offset_ + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      core::throw_errno("write", file_.string(), errno);
    }
    done += static_cast<std::size_t>(n);
  }
  offset_ += buffer_.size();
  buffer_.clear();
}

std::uint64_t WalAppender::append(std::string_view request) {
  if (request.size() > max_wal_record_bytes)
    throw core::Error(fmt::format("a change of {} MiB does not fit in one WAL record (etcd reads records under 10 MiB)",
                                  (request.size() >> 20) + 1));
  ++index_;
  std::string entry;
  core::put_number(entry, 1, 0);  // EntryNormal
  core::put_number(entry, 2, term_);
  core::put_number(entry, 3, index_);
  core::put_bytes(entry, 4, request);
  written_.update(request.data(), request.size());
  frame(wal_record::entry, entry);
  return index_;
}

void WalAppender::commit() {
  std::string state;
  core::put_number(state, 1, term_);
  core::put_number(state, 2, vote_);
  core::put_number(state, 3, index_);
  frame(wal_record::state, state);
  write_out();
  if (::fsync(fd_) != 0) core::throw_errno("fsync", file_.string(), errno);
  // read back as etcd will read it
  core::Sha256 read;
  std::uint64_t expect = first_index_ + 1;
  bool in_order = true;
  const auto m = read_wal_entries(data_dir_, first_index_, [&](std::uint64_t index, std::uint64_t, std::string_view d) {
    if (index != expect++) in_order = false;
    read.update(d.data(), d.size());
  });
  for (const auto& p : m.problems)
    if (p.find(".wal") != std::string::npos) throw core::Error(fmt::format("the WAL written does not read back: {}", p));
  if (!in_order || expect != index_ + 1 || m.commit != index_ || m.last_index != index_ ||
      read.hex_digest() != written_.hex_digest())
    throw core::Error(fmt::format("{}: the entries written ({} to {}, committed) do not read back as written (read up "
                                  "to {}, committed {})",
                                  file_.string(), first_index_ + 1, index_, m.last_index, m.commit));
}

}  // namespace kdr::etcd
