#include "etcd/member_data.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <array>
#include <optional>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/protobuf_wire.hpp"
#include "etcd/bbolt.hpp"
#include "etcd/crc32c.hpp"
#include "etcd/snapshot_keys.hpp"

namespace kdr::etcd {

namespace {


// The varint fields of a small message: field number -> value.
std::array<std::uint64_t, 8> varints(std::string_view m, bool& ok) {
  std::array<std::uint64_t, 8> out{};
  ok = core::for_each_field(m, [&](std::uint64_t field, unsigned wire, std::uint64_t number, std::string_view) {
    if (wire == 0 && field < out.size()) out[field] = number;
    return true;
  });
  return out;
}

void read_bolt_part(const core::bfs::path& db, MemberData& out) {
  try {
    const auto summary = read_bolt(db);
    if (const auto* keys = summary.bucket("key"); keys && keys->last_key.size() >= 8)
      out.revision = static_cast<std::int64_t>(big_endian_u64(keys->last_key));
    // etcd's revision: the key bucket's newest, or the finished compaction past it
    // (etcd::finished_compact_revision says why)
    read_bolt_bucket(db, "meta", [&](std::string_view key, std::string_view value) {
      if (key == "consistent_index") out.consistent_index = big_endian_u64(value);
      else if (key == "term") out.applied_term = big_endian_u64(value);
      else if (key == "finishedCompactRev" && value.size() >= 8)
        out.revision = std::max(out.revision, static_cast<std::int64_t>(big_endian_u64(value)));
    });
  } catch (const core::Error& e) {
    out.problems.push_back(e.what());
  }
}

// The bytes of one WAL file, read forward through a window that holds what the record being
// read needs (a read of at least 1 MiB at a time), never the whole file: etcd preallocates each
// at 64 MiB, most of it zeros past the last record. Or a file's bytes already in memory.
class WalBytes {
 public:
  explicit WalBytes(std::string_view all) : size_(all.size()), window_(all) {}
  WalBytes(const core::bfs::path& file, const core::Fd& fd, std::uint64_t size) : file_(&file), fd_(&fd), size_(size) {}

  std::uint64_t size() const { return size_; }

  // Bytes [pos, pos + n), inside the file; valid until the next call. nullopt when they could
  // not be read (error() says why).
  std::optional<std::string_view> at(std::uint64_t pos, std::size_t n) {
    if (pos >= start_ && pos + n <= start_ + window_.size()) return window_.substr(pos - start_, n);
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(std::max<std::size_t>(n, 1u << 20), size_ - pos));
    buffer_.resize(want);
    std::size_t done = 0;
    while (done < want) {
      const auto r = ::pread(fd_->get(), buffer_.data() + done, want - done, static_cast<off_t>(pos + done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        error_ = r < 0 ? core::errno_message("read", file_->string(), errno)
                       : fmt::format("{}: cut short while it was read", file_->string());
        return std::nullopt;
      }
      done += static_cast<std::size_t>(r);
    }
    start_ = pos;
    window_ = buffer_;
    return window_.substr(0, n);
  }
  const std::string& error() const { return error_; }

 private:
  const core::bfs::path* file_ = nullptr;
  const core::Fd* fd_ = nullptr;
  std::uint64_t size_ = 0;
  std::uint64_t start_ = 0;    // of the window in the file
  std::string_view window_;
  std::string buffer_;
  std::string error_;
};

// One WAL file, continuing the running `crc` of the files before it; false when reading must
// stop (a torn or damaged record, said in out.problems).
using EntryVisit = std::function<void(std::uint64_t, std::uint64_t, std::string_view)>;

bool read_wal_file(WalBytes& bytes, const std::string& name, std::uint32_t& crc, MemberData& out,
                   const EntryVisit* entries = nullptr, std::uint64_t after_index = 0) {
  out.wal_file = name;
  out.wal_end = 0;
  out.wal_crc = crc;
  {
    std::uint64_t pos = 0;
    while (pos + 8 <= bytes.size()) {
      std::uint64_t len_field = 0;
      const auto frame = bytes.at(pos, 8);
      if (!frame) {
        out.problems.push_back(bytes.error());
        return false;
      }
      for (int i = 7; i >= 0; --i) len_field = (len_field << 8) | static_cast<unsigned char>((*frame)[static_cast<std::size_t>(i)]);
      if (len_field == 0) break;  // the zeroed rest of a preallocated file
      const std::uint64_t rec_bytes = len_field & ~(std::uint64_t{0xff} << 56);
      const std::uint64_t pad = (len_field >> 63) == 1 ? (len_field >> 56) & 0x7 : 0;
      if (rec_bytes + pad > bytes.size() - pos - 8) {
        out.problems.push_back(fmt::format("{}: a record at byte {} runs past the end of the file (a torn write): "
                                           "read up to it",
                                           name, pos));
        return false;
      }
      const auto read = bytes.at(pos + 8, static_cast<std::size_t>(rec_bytes));
      if (!read) {
        out.problems.push_back(bytes.error());
        return false;
      }
      const auto record = *read;
      pos += 8 + rec_bytes + pad;
      std::int64_t type = 0;
      std::uint32_t rec_crc = 0;
      std::string_view data;
      const bool parsed = core::for_each_field(record, [&](std::uint64_t field, unsigned wire, std::uint64_t number,
                                                           std::string_view b) {
        if (field == 1 && wire == 0) type = static_cast<std::int64_t>(number);
        else if (field == 2 && wire == 0) rec_crc = static_cast<std::uint32_t>(number);
        else if (field == 3 && wire == 2) data = b;
        return true;
      });
      if (!parsed) {
        out.problems.push_back(fmt::format("{}: the record at byte {} is not a walpb.Record: read up to it", name, pos));
        return false;
      }
      if (type == wal_record::crc) {
        if (crc != 0 && rec_crc != crc) {
          out.problems.push_back(fmt::format("{}: its crc record ({:08x}) does not continue the files before it "
                                             "({:08x}): read up to it",
                                             name, rec_crc, crc));
          return false;
        }
        crc = rec_crc;
        out.wal_end = pos;
        out.wal_crc = crc;
        continue;
      }
      crc = crc32c(crc, data);
      if (rec_crc != crc) {
        out.problems.push_back(fmt::format("{}: the record at byte {} fails its CRC (a torn or damaged tail): read up "
                                           "to it",
                                           name, pos - 8 - rec_bytes - pad));
        return false;
      }
      out.wal_end = pos;
      out.wal_crc = crc;
      bool ok = true;
      const auto v = varints(data, ok);
      if (!ok) continue;
      switch (type) {
        case wal_record::metadata:
          out.member_id = fmt::format("{:x}", v[1]);
          out.cluster_id = fmt::format("{:x}", v[2]);
          break;
        case wal_record::entry:
          out.last_term = v[2];
          out.last_index = v[3];
          if (entries != nullptr && v[3] > after_index) {
            std::string_view payload;
            core::for_each_bytes_field(data, [&](std::uint64_t field, std::string_view b) {
              if (field == 4) payload = b;
            });
            (*entries)(v[3], v[2], payload);
          }
          break;
        case wal_record::state:
          if (v[1] != 0 || v[3] != 0) {  // an empty hard state is written with every snapshot record
            out.term = v[1];
            out.vote = v[2];
            out.commit = v[3];
          }
          break;
        case wal_record::snapshot:
          if (v[1] > out.last_index) {
            out.last_index = v[1];
            out.last_term = v[2];
          }
          break;
        default:
          break;
      }
    }
  }
  return true;
}

}  // namespace

void read_wal(const std::vector<std::string>& files, const std::vector<std::string>& names, MemberData& out) {
  std::uint32_t crc = 0;
  for (std::size_t f = 0; f < files.size(); ++f) {
    WalBytes bytes(files[f]);
    if (!read_wal_file(bytes, names[f], crc, out)) return;
  }
}

namespace {

MemberData read_member(const core::bfs::path& data_dir, const EntryVisit* entries, std::uint64_t after_index,
                       bool with_db = true) {
  MemberData out;
  const auto db = data_dir / "member/snap/db";
  if (with_db) {
    if (core::lstat_path(db)) read_bolt_part(db, out);
    else out.problems.push_back(fmt::format("{}: not there", db.string()));
  }
  const auto wal = data_dir / "member/wal";
  std::vector<std::string> names;
  if (core::lstat_path(wal))
    for (const auto& n : core::list_dir(wal))
      if (n.size() > 4 && n.substr(n.size() - 4) == ".wal") names.push_back(n);
  std::sort(names.begin(), names.end());
  if (names.empty()) {
    out.problems.push_back(fmt::format("{}: no WAL file", wal.string()));
    return out;
  }
  std::uint32_t crc = 0;
  for (const auto& n : names) {
    const auto file = wal / n;
    const core::Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0) {
      out.problems.push_back(core::errno_message(fd ? "stat" : "open", file.string(), errno));
      return out;
    }
    if (!S_ISREG(st.st_mode)) {
      out.problems.push_back(fmt::format("{}: not a regular file", file.string()));
      return out;
    }
    WalBytes bytes(file, fd, static_cast<std::uint64_t>(st.st_size));
    if (!read_wal_file(bytes, file.string(), crc, out, entries, after_index)) break;
  }
  return out;
}

}  // namespace

MemberData read_member_data(const core::bfs::path& data_dir) { return read_member(data_dir, nullptr, 0); }

MemberData read_wal_entries(const core::bfs::path& data_dir, std::uint64_t after_index, const EntryVisit& visit) {
  return read_member(data_dir, &visit, after_index, false);
}

}  // namespace kdr::etcd
