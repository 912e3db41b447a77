// Whether the journal's follower is doing its job, judged from outside it (kdr journal status,
// kdr backup, kdr verify): a follower that died leaves state.json saying "following" and its
// metrics saying up; one that hangs (SIGSTOP, a stuck disk) holds its lock and says nothing;
// one that runs but waits because etcd went back (a lost data dir: etcd/rewind.hpp) journals nothing.
// Both are told apart here from the lock, the age of state.json and etcd's own revision.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/context.hpp"
#include "etcd/client.hpp"
#include "journal/inspect.hpp"

namespace kdr::journal {

struct FollowerHealth {
  enum class Kind { no_journal, running, stalled, dead, etcd_went_back };
  Kind kind = Kind::no_journal;
  double silent_s = 0;                      // since the follower last wrote state.json
  std::int64_t position = 0;                // every change up to here is in the journal
  std::optional<std::int64_t> etcd_revision;  // etcd's, asked now (empty: not asked, or no answer)
  std::int64_t lag_revisions = 0;           // etcd's revision minus the position, when etcd answered
  std::string text;                         // one line for the operator
  bool ok() const { return kind == Kind::running || kind == Kind::no_journal; }
};

// The wall clock in milliseconds, as the follower stamps state.json (not KDR_NOW's clock).
std::int64_t wall_clock_ms();

// `now_ms`: the wall clock; `etcd_revision`: etcd's revision now, when it could be asked. A
// follower that holds its lock but has not written state.json for `stalled_after_s` is
// stalled: it rewrites the file every second while it follows, every few seconds while it waits
// (config journal.stalled_after_s).
FollowerHealth judge_follower(const JournalStatus& status, std::int64_t now_ms,
                              std::optional<std::int64_t> etcd_revision, double stalled_after_s);

// etcd's revision now, from `endpoint` (the node's member; 2 s at most); empty when it does not
// answer.
std::optional<std::int64_t> live_etcd_revision(const etcd::EtcdEndpoint& endpoint);

// kdr_journal.prom for a follower that is not there to write it (dead or stalled): up 0, the
// state, the position, the lag behind etcd and since when nothing was written. kdr backup calls
// it each run, so that the alerts fire within one backup interval.
void write_health_metrics(const core::Context& ctx, const JournalStatus& status, const FollowerHealth& health);

}  // namespace kdr::journal
