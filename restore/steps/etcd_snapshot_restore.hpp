// What the etcd-snapshot-restore step lends the etcd-replay step before it: when the step
// (source: replayed) is the only reader of the journal point, the replay restores its base as
// this node's member, exactly as the step would restore the point, and applies the journal's
// changes in that data dir; the step then only renames it into place. One restore of the
// database instead of a private one, a snapshot written out, and a restore of that snapshot.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/fs.hpp"
#include "restore/runner.hpp"

namespace kdr::restore {

struct MemberRestore {
  std::size_t step = 0;       // the etcd-snapshot-restore step's index in the plan
  bool bump_revision = true;  // as that step would restore (etcdutl 3.5+)
};

// The etcd-snapshot-restore step (source: replayed) after the etcd-replay step `replay`, when
// no other step reads the point it makes before the next replay; nothing otherwise.
std::optional<MemberRestore> member_restore_after(const Runner& r, std::size_t replay);

// <data dir>.kdr-<id>.new: the data dir the step places.
core::bfs::path member_dir_ready(const Runner& r);

// The tool's command line that restores `snapshot` (a private copy: its SHA-256 checked
// already when `hashed`) as this node's member into <data dir>.kdr-<id>.new.part, with the
// name, peer URL, cluster token and revision bump of the step.
std::vector<std::string> member_restore_argv(const Runner& r, const MemberRestore& how, const core::bfs::path& snapshot,
                                             std::uint64_t db_size, bool hashed);

// That command run: returns the folder. Throws Error with the tool's answer.
core::bfs::path restore_member_part(const Runner& r, const MemberRestore& how, const core::bfs::path& snapshot,
                                    std::uint64_t db_size, bool hashed);

// The part, owned and moded as the backup recorded the data dir and flushed, renamed to
// <data dir>.kdr-<id>.new.
void finish_member_part(const Runner& r, const core::bfs::path& part);

}  // namespace kdr::restore
