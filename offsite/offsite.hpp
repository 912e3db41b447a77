// Off-site copies of the backup folder's generations through restic (`kdr offsite`).
//
// A generation goes up as it is (its files, manifest.jsonl, SHA256SUMS, meta.json, the etcd
// snapshot), one restic snapshot per generation, tagged so that restic's own tools can find
// and restore it without kdr (docs/backup-format.md, "Off-site copies"):
//   kdr  kdr-node=<node>  kdr-generation=<id>  kdr-status=<complete|partial>
//   kdr-bytes=<bytes of its files>  and kdr-full when it holds a full etcd snapshot.
// The change journal's folder goes up with every push that finds it grown, as a snapshot of its
// own, tagged kdr-journal  kdr-node=<node>  kdr-journal-position=<revision> (not `kdr`: the
// generations' retention never counts it; only the newest journal snapshot is kept).
// restic's host is the node's name too, so that generations of the nodes sharing one
// repository stay apart. A pulled generation is an ordinary generation: checked against its
// own SHA256SUMS and manifest before it is published in the backup folder.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/context.hpp"
#include "core/repository.hpp"
#include "offsite/restic.hpp"

namespace kdr::offsite {

// One generation off site (one restic snapshot).
struct OffsiteGeneration {
  std::string snapshot_id;  // restic's (short id)
  std::string node;
  std::string generation;
  std::string status;       // complete | partial
  bool full = false;        // holds a full etcd snapshot
  std::uint64_t bytes = 0;  // the generation's file bytes
  std::string time;         // when restic took it (RFC 3339)
  std::string path;         // the generation's folder as it was backed up (absolute)
  nlohmann::json to_json() const;
};

// The change journal off site (one restic snapshot of the backup folder's journal/).
struct OffsiteJournal {
  std::string snapshot_id;
  std::string node;
  std::int64_t position = 0;  // every change up to this revision is in it
  std::string time;
  std::string path;  // the journal folder as it was backed up (absolute)
  nlohmann::json to_json() const;
};

// Everything of kdr's in a repository, of every node (node empty) or one, oldest first.
struct OffsiteListing {
  std::vector<OffsiteGeneration> generations;
  std::vector<OffsiteJournal> journals;
  // Snapshots tagged as kdr's whose tags or path kdr never writes (a generation id that is not
  // one, a path that is not absolute and plain): left out, each with why.
  std::vector<std::string> refused;
};
OffsiteListing list_all(const Restic& restic, const std::string& node = "");

// The tags kdr gives a generation.
std::vector<std::string> tags_of(const core::GenerationMeta& meta, const std::string& node);
// A restic snapshot (`restic snapshots --json`) read back; empty when it is not kdr's. Throws
// Error when it claims to be kdr's but its generation id or path is not one kdr writes.
std::optional<OffsiteGeneration> from_restic_snapshot(const nlohmann::json& snapshot);
std::optional<OffsiteJournal> journal_from_restic_snapshot(const nlohmann::json& snapshot);

// The node name generations are pushed and listed under: the generation's recorded hostname.
std::string node_name(const core::Context& ctx);

// What is off site: every node's generations (node empty) or one node's, oldest first.
std::vector<OffsiteGeneration> list_offsite(const Restic& restic, const std::string& node = "");

// The generations a push sends: those newer than the newest already off site for this node
// that are the newest or hold a full etcd snapshot (or `only`, when given). Oldest first.
std::vector<core::GenerationEntry> to_push(const core::Repository& repo, const std::vector<OffsiteGeneration>& offsite,
                                           const std::string& node, const std::string& only = "");

// What is off site of this node, as a push needs it: its newest generation and how far its
// journal goes. Listed from the repository, or known from the last successful push to it.
struct OffsiteTip {
  std::string newest_generation;
  std::int64_t journal_position = 0;
};

struct PushResult {
  std::vector<std::string> pushed;  // generation ids
  std::optional<std::int64_t> journal_position;  // the journal went up to this revision
  OffsiteTip tip;                   // what is off site after the push
  bool listed = false;              // the repository was asked what it holds
  std::uint64_t bytes_added = 0;    // what restic stored anew (after deduplication)
  std::uint64_t bytes_processed = 0;
};
// `restic init` when there is no repository yet.
// Returns whether it created one (then nothing of any node is in it).
bool init_repository(const core::Context& ctx, const Restic& restic);
// Sends what to_push() names and the grown journal. Every restic run opens the repository
// (its key derivation alone takes about 0.5 s), so a push that is given `known` (the tip its
// last successful push to this repository left) does not list the repository first, unless
// that leaves it nothing to send: a push that succeeds has always reached the repository.
PushResult push(const core::Context& ctx, const Restic& restic, const std::string& only = "",
                const std::optional<OffsiteTip>& known = std::nullopt);

// Restores generation `which` (an id, or latest) of `node` from off site into `backup_dir`
// (a backup folder, made when missing): into a staging folder, checked against its own
// SHA256SUMS and manifest, then published. A generation without a full etcd snapshot (the
// journal's position instead) brings the newest full one before it along, and a backup folder
// without a journal gets the node's newest journal off site, so that etcd can be put back.
// Throws Error when a generation fails a check (nothing of it is published) or when the chosen
// generation is there already.
//
// A node pulls only what its own key vouches for (core/generation_auth.hpp): a generation that
// is forged, unsigned or made with another key is refused and removed, unless `trust` names the
// key that made it or accepts it unauthenticated. On a machine with no key yet (a replacement)
// it is pulled with a warning, and a restore asks for the saved key. `latest` is the newest
// generation that passes every check: a forged or damaged newer one (a shared repository) is
// named and passed over, up to 3 of them.
struct PullTrust {
  core::bfs::path key_file;     // empty: the node's key_file
  bool unauthenticated = false;  // publish what no key here can authenticate (never a forged one)
};
struct PullResult {
  std::vector<std::string> generations;        // pulled, the chosen one last
  std::optional<std::int64_t> journal_position;  // the journal pulled, up to this revision
  std::string journal_kept;                      // why no journal was pulled ("" when one was, or none is off site)
  std::vector<std::string> passed_over;          // latest: newer generations refused for their authentication
};
PullResult pull(const core::Context& ctx, const Restic& restic, const std::string& which, const std::string& node,
                const core::bfs::path& backup_dir, const PullTrust& trust = {});

// Off-site retention (`kdr offsite forget`): restic's --keep-* policy over this node's
// generations, except that a generation a kept one needs for etcd (the newest full snapshot
// before a kept generation without one) is kept too; of the journal, the newest snapshot.
struct ForgetPlan {
  std::vector<std::string> remove;                              // restic snapshot ids
  std::vector<std::pair<std::string, std::string>> kept_for;  // generation, the kept one that needs it
};
// `policy` is `restic forget --dry-run --json` over the generations; `offsite` every one of them.
ForgetPlan plan_forget(const nlohmann::json& policy, const std::vector<OffsiteGeneration>& offsite,
                       const std::vector<OffsiteJournal>& journals);
// Applies it: restic forget IDS --prune. Returns the plan.
ForgetPlan forget(const core::Context& ctx, const Restic& restic);

}  // namespace kdr::offsite
