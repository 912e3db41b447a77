// A point in the cluster's history, as `--at` names it, and the keyspace there, read without
// starting an etcd:
//   - a generation (its id or a unique prefix): its etcd snapshot, read off the bbolt file;
//   - latest, a revision, or an RFC 3339 time: the journal's changes up to that point applied
//     over the newest full snapshot before it (the same base and range a restore to that
//     point would use, etcd/replay.hpp);
//   - live: the node's running etcd.
// Files read from the backup disk are copied into a private scratch folder first and checked
// against the generation's record of them; what is not authenticated under the node's key is
// said (PointInfo::warnings), never hidden.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/context.hpp"
#include "core/encryption.hpp"
#include "core/repository.hpp"
#include "etcd/api.hpp"

namespace kdr::objects {

struct PointSpec {
  enum class Kind { latest, generation, revision, time, live };
  Kind kind = Kind::latest;
  std::string text;         // as given
  std::int64_t revision = 0;
  std::int64_t time_ms = 0;
};

// "latest", "live", a revision number, an RFC 3339 time, or else a generation id. Throws
// UsageError naming the value when it looks like a time but is not one.
PointSpec parse_point(const std::string& text);

struct PointInfo {
  std::string text;              // "generation 2026-11-30T081245Z (etcd revision 4711, 2026-11-30T08:12:45Z)"
  std::int64_t revision = 0;     // the etcd revision the keyspace is at
  std::string etcd_prefix = "/registry";  // kube-apiserver's --etcd-prefix
  // What decrypts its values: the generation's EncryptionConfiguration and the node's live one.
  std::optional<core::EncryptionConfig> encryption;
  std::vector<std::string> warnings;  // what is not authenticated, what could not be read
};

// The keyspace at one point.
class PointReader {
 public:
  virtual ~PointReader() = default;
  const PointInfo& info() const { return info_; }
  // Every live key that starts with `prefix` (and that `keep` accepts, when given), with its
  // value, create and mod revisions, in no particular order.
  using KeyFilter = std::function<bool(std::string_view key)>;
  virtual void read(const std::string& prefix, const std::function<void(const etcd::EtcdKeyValue&)>& visit,
                    const KeyFilter& keep = {}) = 0;

 protected:
  PointInfo info_;
};

// What a generation says about reading its values: the etcd prefix and EncryptionConfiguration
// of its kube-apiserver (one it names but does not hold is a warning).
void add_generation_facts(const core::Context& ctx, const core::GenerationEntry& entry, PointInfo& info);

// What reading this node's objects needs without a point: kube-apiserver's etcd prefix and the
// EncryptionConfigurations (the newest generation's and the live one), with their warnings.
PointInfo node_facts(const core::Context& ctx);

// Throws Error (no such generation, a point the journal cannot reach, a snapshot that does not
// match its record) naming the point.
std::unique_ptr<PointReader> open_point(const core::Context& ctx, const PointSpec& spec);

}  // namespace kdr::objects
