// A step type of a playbook lives in one unit, restore/steps/<type>.cpp: its keys and their
// parsing into a typed argument struct, its plan text, its preflight checks, its action, and
// how what it did is undone. step_table() lists them all, as cli/command.hpp lists the
// commands; docs/playbooks.md's step reference is checked against it (tests/unit).
//
// A new step type is one new unit, restore/steps/<type>.cpp, defining `<type>_step_def()` (a
// class deriving from TypedStep<ItsArgs>), and one line in KDR_STEP_TYPES
// (restore/step_types.hpp), whose order is docs/playbooks.md's.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "restore/journal.hpp"
#include "restore/plan.hpp"
#include "restore/playbook.hpp"
#include "verify/integrity.hpp"

namespace kdr::restore {

struct Runner;     // restore/runner.hpp
struct Preflight;  // restore/preflight.hpp

// A key a step takes besides type, name and if (docs/playbooks.md).
struct StepKey {
  std::string name;
  bool required = false;
};

// What reading a step's values may depend on besides the values themselves.
struct StepReadFacts {
  std::string state_dir;      // kdr's state folder (node path): no step may replace it
  bool replay_before = false;  // an etcd-replay step comes earlier in the plan
};

// A step's values, variables substituted, read into typed arguments. Each value read is also
// kept in its canonical form (canonical()), which the restore journal records and a resumed
// restore reads again. Errors are UsageError naming the file, line and column of the key.
class StepValues {
 public:
  StepValues(nlohmann::json values, std::map<std::string, std::string> where, StepReadFacts facts);

  bool has(const std::string& key) const { return values_.contains(key); }
  std::string text(const std::string& key, const std::string& fallback = "") const;
  // One of `choices`, else an error listing them.
  std::string choice(const std::string& key, const std::vector<std::string>& choices, const std::string& fallback) const;
  bool flag(const std::string& key, bool fallback) const;  // true | false
  int seconds(const std::string& key, int fallback) const;  // a positive number
  // An absolute node path, normalized; never / and never one holding kdr's state folder.
  std::string node_path(const std::string& key) const;
  std::vector<std::string> node_paths(const std::string& key) const;  // one path or a list
  // A list (an argv: never a shell string).
  std::vector<std::string> list(const std::string& key) const;
  // "all" (empty result) or a list of names.
  std::vector<std::string> names_or_all(const std::string& key) const;
  const StepReadFacts& facts() const { return facts_; }
  [[noreturn]] void fail(const std::string& key, const std::string& what) const;

  const nlohmann::json& canonical() const { return canonical_; }

 private:
  const nlohmann::json* find(const std::string& key) const;
  nlohmann::json values_;
  std::map<std::string, std::string> where_;
  StepReadFacts facts_;
  mutable nlohmann::json canonical_ = nlohmann::json::object();
};

// What a generation offers a restore: `kdr show` asks each playbook's steps whether they can
// run from it (StepDef::cannot_serve).
struct GenerationOffer {
  bool etcd_snapshot = false;   // a consistent snapshot
  bool etcd_point = false;      // a change journal revision instead of a snapshot
  bool etcd_files = false;      // the raw copy of etcd's data dir
  bool etcd_on_node = true;     // etcd ran as the node's static pod (kdr restores it here)
  std::size_t etcd_members = 0;  // the members of its cluster it recorded
  bool kubeadm_config = false;  // a saved kubeadm configuration
  std::vector<std::string> paths;  // the sources it holds (node paths)
};

// What a step type is, as the plan builder, the preflight and the runner ask it (never by its
// type).
struct StepTraits {
  bool checks_only = false;        // read-only checks a dry run runs too (the preflight)
  bool restores_snapshot = false;  // restores an etcd snapshot into etcd's data dir: etcd must run on this node,
                                   // and the snapshot tool (etcdutl or etcdctl) is looked up for the plan
  bool runs_kubeadm = false;       // kubeadm's version is looked up for the plan
  bool writes_live_keys = false;   // writes into the running etcd: to=auto means the namespace's point
  bool replays_journal = false;    // makes the journal point that later steps read
  bool rejoins_cluster = false;    // the member takes the cluster's data from the leader: nothing is rolled back
  bool copies_files_back = false;  // puts files of the generation back on the node
};

// What a rollback can do about a step that ran.
enum class Undo {
  journaled,   // every change it makes is journaled first and undone by the rollback
  untracked,   // it runs a program whose changes kdr does not track: not undone, and said so
};

// How a step reads the journal point an etcd-replay step before it makes.
enum class ReadsReplayed {
  no,
  file,        // as the snapshot file <restore dir>/replayed.db
  member_dir,  // restored as this node's member data dir: the replay may make that dir itself
};

class StepDef {
 public:
  virtual ~StepDef() = default;
  virtual StepType type() const = 0;
  virtual std::string_view name() const = 0;  // as written in playbooks
  virtual bool changes_node() const = 0;      // asks for confirmation in a guided restore
  virtual std::vector<StepKey> keys() const = 0;
  virtual Undo undo_kind() const { return Undo::journaled; }
  virtual StepTraits traits() const { return {}; }
  // The manifests it starts, from its values (as written or planned): "generation" or
  // "stopped" (the ones the restore took out); nothing for a step that starts none.
  virtual std::optional<std::string> starts_manifests_from(const nlohmann::json& values) const;
  // Where the etcd data it puts back comes from (snapshot | raw | replayed), which the plan
  // keeps as ${etcd_restored_from} for the steps after it; nothing when it puts none back.
  virtual std::optional<std::string> etcd_restored_from(const PlannedStep& s) const;
  virtual ReadsReplayed reads_replayed(const PlannedStep&) const { return ReadsReplayed::no; }
  // The node paths it replaces (the preflight refuses one outside what the node backs up).
  virtual std::vector<std::string> replaced_paths(const PlannedStep& s) const;

  // Reads the values into the step's typed arguments (once, when the plan is made).
  virtual std::shared_ptr<const StepArgs> read(const StepValues& values) const = 0;
  // The step's default title: its type, and the path it works on.
  virtual std::string title(const StepArgs& args) const;
  // What the step will do, for the plan. Runs no program.
  virtual std::vector<std::string> describe(const Runner& r, const PlannedStep& s) const = 0;
  // Its read-only checks in the preflight (free space it needs goes to pf.need).
  virtual void check(Runner& r, const PlannedStep& s, Preflight& pf) const = 0;
  // What it reads from the generation: the preflight re-hashes exactly that.
  virtual void reads(const Runner& r, const PlannedStep& s, verify::HashScope& scope) const = 0;
  // In a restore that runs (not a dry run), once every other check of the preflight passed:
  // checks that write kdr's own files, such as a private copy of a file the step reads, hashed
  // as it is written (the step then leaves that file out of reads(): one read, not two).
  virtual void check_by_copy(Runner& r, const PlannedStep& s, Preflight& pf) const = 0;
  virtual void run(Runner& r, const PlannedStep& s) const = 0;
  // Work a step can do ahead of its turn, while the steps before it run: it writes only kdr's
  // own temporaries (temporaries()), so it changes nothing of the node and needs no journal.
  // A restore confirmed as a whole (--yes, or `a`) starts it in the background once the
  // preflight passed and what it reads exists (prepares: with r.step the step about to run);
  // the step's run finishes it (or does it all when it was not started).
  virtual bool prepares(const Runner&, const PlannedStep&) const { return false; }
  virtual void prepare(const Runner& r, const PlannedStep& s) const;
  // kdr's own temporaries of the step (host paths): a rollback removes those it finds.
  virtual std::vector<std::string> temporaries(const Runner& r, const PlannedStep& s) const;
  // True when the step replaces etcd's data (its data dir, or a snapshot restored into it).
  virtual bool replaces_etcd_data(const PlannedStep& s, const Plan& plan) const;
  // Puts back what one of its journaled actions changed. The default undoes the file moves
  // and placements every step makes through Runner::move and Runner::place.
  virtual void undo(Runner& r, const Action& a) const;
  // One line for one of its journaled actions, as a rollback and an interrupted restore list
  // them. The default describes the file moves and placements.
  virtual std::string action_text(const Action& a) const;
  // The line shown before asking whether to run it ("" for none).
  virtual std::string before_asking(const PlannedStep& s) const;
  // Why the step could not run from a generation that offers `offer` (nothing when it can);
  // `values` are the step's values as written, variables substituted where they are known.
  virtual std::optional<std::string> cannot_serve(const GenerationOffer& offer, const nlohmann::json& values) const;
};

// The arguments of a step type that takes none.
struct NoArgs : StepArgs {};

// A step type with arguments of type Args (deriving from StepArgs): the virtual functions
// above, with the arguments already cast to their type.
template <class Args>
class TypedStep : public StepDef {
 public:
  std::shared_ptr<const StepArgs> read(const StepValues& values) const final {
    return std::make_shared<const Args>(read_args(values));
  }
  std::string title(const StepArgs& args) const final { return title_of(static_cast<const Args&>(args)); }
  std::vector<std::string> describe(const Runner& r, const PlannedStep& s) const final {
    return plan_text(r, s.args<Args>());
  }
  void check(Runner& r, const PlannedStep& s, Preflight& pf) const final { preflight(r, s.args<Args>(), pf); }
  void reads(const Runner& r, const PlannedStep& s, verify::HashScope& scope) const final {
    reads_from(r, s.args<Args>(), scope);
  }
  void check_by_copy(Runner& r, const PlannedStep& s, Preflight& pf) const final { copy_checked(r, s.args<Args>(), pf); }
  void run(Runner& r, const PlannedStep& s) const final { perform(r, s.args<Args>()); }
  void prepare(const Runner& r, const PlannedStep& s) const final { prepare_ahead(r, s, s.args<Args>()); }
  bool replaces_etcd_data(const PlannedStep& s, const Plan& plan) const final {
    return s.typed && replaces_etcd(s.args<Args>(), plan);
  }
  std::string before_asking(const PlannedStep& s) const final { return s.typed ? ask_line(s.args<Args>()) : ""; }

 protected:
  virtual Args read_args(const StepValues& values) const = 0;
  virtual std::string title_of(const Args&) const { return std::string(name()); }
  virtual std::vector<std::string> plan_text(const Runner& r, const Args& a) const = 0;
  virtual void preflight(Runner&, const Args&, Preflight&) const {}
  virtual void reads_from(const Runner&, const Args&, verify::HashScope&) const {}
  virtual void copy_checked(Runner&, const Args&, Preflight&) const {}
  virtual void prepare_ahead(const Runner&, const PlannedStep&, const Args&) const {}
  virtual void perform(Runner& r, const Args& a) const = 0;
  virtual bool replaces_etcd(const Args&, const Plan&) const { return false; }
  virtual std::string ask_line(const Args&) const { return ""; }
};

// A playbook's step for this plan: variables substituted (a step whose values need a variable
// listed in `unavailable` is kept, blocked, with the reason), values read by its step type.
// Throws UsageError naming the file, line and column of a bad value.
PlannedStep plan_step(const StepSpec& spec, const std::map<std::string, std::string>& vars,
                      const std::map<std::string, std::string>& unavailable, const StepReadFacts& facts);

// One step: what it will do (for the plan) and doing it. Throws core::Error on failure.
std::vector<std::string> describe_step(const Runner& r, const PlannedStep& s);
void run_step(Runner& r, const PlannedStep& s);

// True when the step replaces etcd's data (its data dir, or a snapshot restore into it).
bool replaces_etcd_data(const PlannedStep& s, const Plan& plan);

// Undoing what the journal says was done, most recent first, manifests out before data
// moves back, original manifests back last.
void undo_actions(Runner& r, const std::vector<Action>& actions);

// Every step type, in the order docs/playbooks.md lists them (restore/steps/table.cpp).
const std::vector<const StepDef*>& step_table();
// Whether a step of the plan (of the playbook) has the trait.
bool plan_has(const Plan& plan, bool StepTraits::*trait);
bool playbook_has(const Playbook& pb, bool StepTraits::*trait);
const StepDef& step_def(StepType type);

}  // namespace kdr::restore
