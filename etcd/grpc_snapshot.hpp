// etcd's snapshot over gRPC (etcdserverpb.Maintenance/Snapshot), decoded as it streams in, so
// that kdr writes and hashes the file itself instead of starting `etcdctl snapshot save`,
// which spends about three times kdr's CPU on the same stream (gRPC-Go's decoding and its
// copies) on a node whose two cores also carry etcd.
//
//   SnapshotRequest  {}
//   SnapshotResponse {header 1, remaining_bytes 2, blob 3, version 4}
//
// etcd streams its database in blobs (32 KiB), each message saying how many bytes remain after
// it, then one last message whose blob is the SHA-256 of the database: the blobs, end to end,
// are the file `etcdctl snapshot save` writes. A message without a blob (a header, a version)
// may come first.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace kdr::etcd {

// Bytes that are not etcd's snapshot stream.
class SnapshotStreamError : public core::Error {
 public:
  using core::Error::Error;
};

inline constexpr std::string_view grpc_snapshot_path = "/etcdserverpb.Maintenance/Snapshot";

// The SnapshotRequest (empty), framed as gRPC sends it.
std::string grpc_snapshot_request();

// Reads the framed SnapshotResponse messages of one stream, in pieces of any size, and hands
// every blob to `sink` in order. Throws SnapshotStreamError naming `origin` for bytes that are not such a
// stream: a compressed or oversized message, a field that does not parse, blobs that disagree
// with the remaining bytes etcd announced, anything after the SHA-256.
class SnapshotStreamReader {
 public:
  SnapshotStreamReader(std::function<void(std::string_view)> sink, std::string origin);
  void feed(std::string_view bytes);
  // The SHA-256 message came (the stream may still have to end with gRPC's OK).
  bool complete() const { return complete_; }
  // Blob bytes handed on so far.
  std::uint64_t received() const { return received_; }
  // The database's size as etcd announced it (without the 32-byte SHA-256), once known.
  std::optional<std::uint64_t> database_size() const { return database_size_; }

 private:
  void message(std::string_view m);

  std::function<void(std::string_view)> sink_;
  std::string origin_;
  std::string pending_;             // a frame's header or message, while it is cut across pieces
  std::uint32_t message_size_ = 0;  // of the message being read, once its header is whole
  bool in_message_ = false;
  std::optional<std::uint64_t> remaining_;  // after the last blob, as etcd said
  std::optional<std::uint64_t> database_size_;
  std::uint64_t received_ = 0;
  bool database_done_ = false, complete_ = false;
};

}  // namespace kdr::etcd
