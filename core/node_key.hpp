// The node's key: HMAC-SHA256 over what kdr writes to the backup disk (a generation's
// meta.json, manifest.jsonl and SHA256SUMS), so that whoever can
// write that disk cannot make this node restore what it never backed up. Every other check
// of a backup (SHA256SUMS, the manifest's hashes, the journal's CRC-32 and digest) can be
// recomputed by a forger; this one cannot without the key (docs/operations.md).
//
// The key is kept off the backup disk: `key_file` (default /etc/kdr/node.key), 0600, made
// at the first backup. Its text is one line, "kdr-node-key-v1 <64 hex digits>", so that an
// operator can keep a copy where the off-site password is kept.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/fs.hpp"

namespace kdr::core {

class NodeKey {
 public:
  using Bytes = std::array<unsigned char, 32>;
  explicit NodeKey(const Bytes& bytes);
  // A new key from the kernel's random source.
  static NodeKey generate();
  // The key file's text; throws Error naming `origin` when it is not one.
  static NodeKey parse(std::string_view text, const std::string& origin);
  std::string text() const;

  // 16 hex digits that name the key (recorded beside each MAC) without revealing it.
  const std::string& id() const { return id_; }
  // HMAC-SHA256 of `data`, 64 hex digits.
  std::string mac_hex(std::string_view data) const;
  // Constant-time comparison with a MAC in hex.
  bool check_hex(std::string_view data, std::string_view mac) const;
  const Bytes& bytes() const { return bytes_; }

 private:
  Bytes bytes_;
  std::string id_;
};

// HMAC-SHA256 over data given in pieces. A copy can be
// finished while the original goes on.
class RunningMac {
 public:
  explicit RunningMac(const NodeKey& key);
  ~RunningMac();
  RunningMac(const RunningMac& other);
  RunningMac(RunningMac&& other) noexcept;
  RunningMac& operator=(const RunningMac&) = delete;
  RunningMac& operator=(RunningMac&& other) noexcept;
  void update(std::string_view data);
  // The MAC of everything so far (32 bytes); this one goes on.
  std::array<unsigned char, 32> peek() const;

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

bool equal_constant_time(const void* a, const void* b, std::size_t n);

// The key at `file` (a host path), checked: a regular file, not a symlink, owned by root or
// kdr's user, readable by nobody else. Empty when there is none. Throws Error naming the file
// when it is unsafe or not a key.
std::optional<NodeKey> load_node_key(const bfs::path& file);
// Makes a new key at `file` (its folder 0700 when new); never replaces one (O_EXCL).
NodeKey create_node_key(const bfs::path& file);

}  // namespace kdr::core
