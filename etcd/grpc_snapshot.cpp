#include "etcd/grpc_snapshot.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/protobuf_wire.hpp"

namespace kdr::etcd {

namespace {

constexpr std::size_t frame_header = 5;          // compressed flag, then the length (4 bytes, big-endian)
constexpr std::uint32_t max_message = 16u << 20;  // etcd sends 32 KiB blobs
constexpr std::size_t sha256_size = 32;

}  // namespace

std::string grpc_snapshot_request() { return std::string(frame_header, '\0'); }

SnapshotStreamReader::SnapshotStreamReader(std::function<void(std::string_view)> sink, std::string origin)
    : sink_(std::move(sink)), origin_(std::move(origin)) {}

void SnapshotStreamReader::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    if (!in_message_) {
      const auto take = std::min(frame_header - pending_.size(), bytes.size());
      pending_.append(bytes.data(), take);
      bytes.remove_prefix(take);
      if (pending_.size() < frame_header) return;
      const auto* h = reinterpret_cast<const unsigned char*>(pending_.data());
      if (h[0] != 0)
        throw SnapshotStreamError(fmt::format("{}: a compressed message in the snapshot stream (kdr asks for none)", origin_));
      message_size_ = (std::uint32_t{h[1]} << 24) | (std::uint32_t{h[2]} << 16) | (std::uint32_t{h[3]} << 8) | h[4];
      if (message_size_ > max_message)
        throw SnapshotStreamError(fmt::format("{}: a snapshot message of {} bytes (etcd sends 32 KiB blobs)", origin_,
                                      message_size_));
      pending_.clear();
      in_message_ = true;
    }
    if (pending_.empty() && bytes.size() >= message_size_) {  // whole in this piece: read in place
      message(bytes.substr(0, message_size_));
      bytes.remove_prefix(message_size_);
      in_message_ = false;
      continue;
    }
    const auto take = std::min<std::size_t>(message_size_ - pending_.size(), bytes.size());
    pending_.append(bytes.data(), take);
    bytes.remove_prefix(take);
    if (pending_.size() < message_size_) return;
    message(pending_);
    pending_.clear();
    in_message_ = false;
  }
}

void SnapshotStreamReader::message(std::string_view m) {
  if (complete_) throw SnapshotStreamError(fmt::format("{}: the snapshot stream goes on after its SHA-256", origin_));
  std::uint64_t remaining = 0;
  std::string_view blob;
  const bool parsed = core::for_each_field(m, [&](std::uint64_t field, unsigned wire, std::uint64_t number,
                                                  std::string_view bytes) {
    if (field == 2 && wire == 0) remaining = number;
    else if (field == 3 && wire == 2) blob = bytes;
    return true;
  });
  if (!parsed) throw SnapshotStreamError(fmt::format("{}: a snapshot message that does not parse as SnapshotResponse", origin_));
  if (blob.empty()) return;  // a header or version alone
  if (!database_done_) {
    if (!remaining_) {
      database_size_ = blob.size() + remaining;
    } else if (*remaining_ != blob.size() + remaining) {
      throw SnapshotStreamError(fmt::format("{}: the snapshot stream does not add up: {} bytes were to come, a blob of {} "
                                    "left {}",
                                    origin_, *remaining_, blob.size(), remaining));
    }
    remaining_ = remaining;
    database_done_ = remaining == 0;
  } else {
    if (blob.size() != sha256_size || remaining != 0)
      throw SnapshotStreamError(fmt::format("{}: after the database, a blob of {} bytes where its SHA-256 ({} bytes) was "
                                    "expected",
                                    origin_, blob.size(), sha256_size));
    complete_ = true;
  }
  received_ += blob.size();
  sink_(blob);
}

}  // namespace kdr::etcd
