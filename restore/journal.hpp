// The journal of one restore, under <state_dir>/restores/<id>/ (outside every path a
// restore replaces):
//   plan.json       the resolved plan: playbook, generation, variables, every step
//   journal.jsonl   one JSON line per event, flushed to disk before the next change:
//                   {"event":"begin"|"done"|"failed"|"interrupted"|..., "step":N, ...}
//                   {"event":"action", "op":"move"|"place", "from":..., "to":..., ...}
//                   {"event":"read", "what":..., "digest":...}: what a preflight showed
//   manifests/      the static pod manifests the restore took out of the static pod path
//   step-N.log      what a kubeadm or run step printed
// An "action" line is written before the change it describes, so a restore killed at
// any moment can be resumed or rolled back from the journal and the file system alone.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/fs.hpp"

namespace kdr::restore {

// What a journaled action did (its "op" in journal.jsonl).
enum class ActionOp {
  move,                // `from` renamed to `to` (kept aside, or a manifest taken out)
  place,               // kdr's own copy `from` renamed to `to`
  etcd_put,            // a key written into the live etcd (etcd-put-keys)
  etcd_member_add,     // a member added to the cluster (etcd-member-add)
  etcd_member_remove,  // a member removed from the cluster (etcd-member-remove)
  member_join,         // another node joined as a member (etcd-member-invite)
  pods_stop,           // another node's control-plane pods stopped over SSH (other-nodes-pods)
  pods_start,          // ... started again
  etcd_delete,         // a key deleted from the live etcd (etcd-forget-node)
  program_writes,      // `to` is a program's to write (a kubeadm or run step's `writes`)
};
std::string_view to_string(ActionOp op);

// The records of journal.jsonl (their "event").
enum class JournalEvent {
  begin,                     // a step begins {step, type}
  done,                      // ... finished {step, seconds}
  failed,                    // ... failed {step, error}
  interrupted,               // ... interrupted by a signal {step, error}
  declined,                  // the operator said no before a step {step}
  finished,                  // every step done
  action,                    // a change, before it is made (Action)
  read,                      // what a preflight read and showed {what, digest}
  loss_accepted,             // accept_loss=true over a measured loss {loss}
  unauthenticated_accepted,  // unauthenticated=true over what no key vouches for
  rollback_begin,
  rollback_failed,  // {error}
  rolled_back,
  discarded,  // the data it kept aside deleted on the operator's order {paths}
};
std::string_view to_string(JournalEvent event);

// A change to the node, recorded before it is made.
enum class UndoOrder { first, normal, last };

struct Action {
  ActionOp op = ActionOp::move;
  std::string from;  // host paths
  std::string to;
  std::size_t step = 0;
  std::string pod;  // for manifests: the pod it runs
  bool manifest = false;
  // etcd-put: a key written into the live etcd (`to` names it). {key (base64), value_sha256,
  // replaced: null, or the live value it replaced {value (base64), mod_revision}}
  // etcd-delete: a key deleted from the live etcd (`to` names it). {key (base64), value
  // (base64), mod_revision}
  nlohmann::json etcd;
  // Another node's change (other-nodes-pods, etcd-member-invite): `to` names the member, and
  // `remote` holds what undoing it needs.
  nlohmann::json remote;
  // When a rollback undoes it: `first`, before this node's pods stop (a change other members
  // must make while this node's etcd still runs: another node's join rolled back through it,
  // this node's member removed while a 2-member cluster still has quorum); `last`, after
  // everything else, this node's manifests included (the other nodes' pods started again).
  UndoOrder undo_order = UndoOrder::normal;
  nlohmann::json to_json() const;
  static Action from_json(const nlohmann::json& j);
};

// running: it stopped between steps and can be resumed ("unfinished"); in_progress: a kdr
// process runs it now (it holds the restore lock), although its journal ends mid-step.
enum class RestoreState { planned, running, failed, interrupted, in_progress, done, rolled_back };
std::string_view to_string(RestoreState state);

struct JournalSummary {
  RestoreState state = RestoreState::planned;
  std::vector<std::size_t> done_steps;  // indexes of completed steps
  std::vector<Action> actions;          // in the order they were recorded
  std::string last_error;
  std::optional<std::size_t> failed_step;
  bool rollback_started = false;
  bool discarded = false;  // the data it replaced was deleted on the operator's order
  // What a preflight read and showed, by what it was ("read" events {what, digest}): the step
  // that acts on it later refuses anything else.
  std::map<std::string, std::string> reads;
  bool step_done(std::size_t i) const;
};

class Journal {
 public:
  // A new restore folder with its plan (mode 0700); throws if it exists.
  static Journal create(const core::bfs::path& dir, const nlohmann::json& plan);
  // An existing one; throws Error(no_backup) naming the folder when it is not there.
  static Journal open(const core::bfs::path& dir);

  const core::bfs::path& dir() const { return dir_; }
  const nlohmann::json& plan() const { return plan_; }

  // Appends one line, the event's fields with its name and the time, and flushes it to disk.
  void record(JournalEvent event, nlohmann::json fields = nlohmann::json::object());
  void action(const Action& a);
  // Several actions, one line each, flushed to disk once.
  void actions(const std::vector<Action>& batch);
  // After --discard: the live values the restore replaced (etcd-put-keys journals them for a
  // rollback, Secrets among them) are removed from journal.jsonl; each keeps its hash. Returns
  // how many were removed.
  std::size_t scrub_replaced_values();
  JournalSummary summary() const;

 private:
  // Appends `lines` to journal.jsonl and flushes them to disk.
  void append(const std::string& lines);
  Journal(core::bfs::path dir, nlohmann::json plan) : dir_(std::move(dir)), plan_(std::move(plan)) {}
  core::bfs::path dir_;
  nlohmann::json plan_;
};

// Called after each record is on disk, with the journal's folder. The crash matrix of the unit
// tests (tests/unit/test_restore_crash.cpp) stops a restore there, as a kill would, by throwing
// from it. Unset in kdr itself.
using RecordHook = std::function<void(const core::bfs::path& dir)>;
void set_record_hook(RecordHook hook);

// The restores under a state folder's restores/, oldest first.
struct RestoreRecord {
  std::string id;
  core::bfs::path dir;
  nlohmann::json plan;
  JournalSummary summary;
  std::string problem;  // when the folder cannot be read
};
std::vector<RestoreRecord> list_restore_records(const core::bfs::path& restores_dir);

// Holds flock(2) on <restores_dir>/.lock: one restore (or rollback) at a time, and no
// backup while one runs.
class RestoreLock {
 public:
  // Throws Error(locked) when another restore holds it.
  explicit RestoreLock(const core::bfs::path& restores_dir);

 private:
  core::Fd fd_;
};

// Replays journal.jsonl text; a torn line is skipped, a record kdr did not write is an Error
// naming origin:line.
JournalSummary summarize_journal(std::string_view text, const std::string& origin);

// Who holds the restore lock now (lock_holders; may be empty), or nothing when no restore
// runs (the backup checks this).
std::optional<std::string> restore_running(const core::bfs::path& restores_dir);

}  // namespace kdr::restore
