// Step type `etcd-put-keys` (playbook restore-etcd-keys): puts back only the keys of chosen
// namespaces, objects or key prefixes (and, with with_dependencies, what the objects need and
// live lacks: restore/object_plan.hpp), from the generation's snapshot (or the point an etcd-replay step
// made) read off the node, into the live etcd while the cluster runs. Keys go in transactions
// of up to 64, each key written only if it is absent (or, with overwrite, unchanged since it
// was read); every key is journaled before it is written, and a rollback removes exactly those
// (or puts back the values they replaced).
#include <algorithm>
#include <charconv>
#include <unordered_map>

#include <fmt/format.h>

#include "core/base64.hpp"
#include "core/error.hpp"
#include "core/host.hpp"
#include "core/interrupt.hpp"
#include "core/namespace_object.hpp"
#include "core/sha256.hpp"
#include "core/static_pods.hpp"
#include "core/text.hpp"
#include "core/zstd_file.hpp"
#include "etcd/snapshot_keys.hpp"
#include "etcd/layout.hpp"
#include "etcd/private_etcd.hpp"
#include "etcd/tool.hpp"
#include "restore/decryptable.hpp"
#include "restore/etcd_keys.hpp"
#include "restore/object_plan.hpp"
#include "restore/preflight.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"
#include "restore/steps/etcd_replay.hpp"

namespace kdr::restore {

using core::Error;
using nlohmann::json;

namespace {

struct PutKeysArgs : StepArgs {
  KeySelection selection;
  bool overwrite = false;
  bool with_dependencies = false;
  bool from_replay = false;  // source: the generation's snapshot, or the point the etcd-replay step before made
};

struct SnapshotFile {
  core::bfs::path file;
  bool zstd = false;
  std::string sha256;  // what its content must hash to
  std::string text;    // "generation X's snapshot", "the replayed revision N"
  std::int64_t revision = 0;  // the point it holds
};

SnapshotFile source_of(const Runner& r, const PutKeysArgs& a);

const core::EtcdSnapshotRecord& generation_snapshot(const Runner& r) {
  const auto& snap = r.gen_snapshot();
  if (!snap)
    throw Error(fmt::format("generation {} has no etcd snapshot to read keys from ({}); choose a generation that has "
                            "one (kdr list)",
                            r.gen.id, r.gen.meta.etcd.no_snapshot_reason()));
  return *snap;
}

struct KeysRead {
  KeyPlan plan;
  // Values held in memory (the chosen namespaces' objects, and what with_dependencies adds);
  // every other value is read off the snapshot again as it is written (`keys`).
  std::vector<etcd::EtcdKeyValue> held;
  std::optional<etcd::SnapshotKeys> keys;
  std::vector<std::string> snapshot_namespaces;  // for the message when nothing matched
  // SHA-256 over every key read from the snapshot and its value's SHA-256, in key order: what
  // the preflight showed, which the step compares before it writes anything.
  std::string digest;
  std::vector<std::string> point_warnings;  // a chosen namespace Terminating, or empty, at the point
  std::int64_t point_revision = 0;
  ObjectPlan objects;                       // the objects chosen by name
};

// What the point holds of each chosen namespace: a namespace that was being deleted comes back
// Terminating (and is deleted again), one whose objects were already gone comes back empty.
std::vector<std::string> namespace_warnings(const KeySelection& sel, const std::vector<KeyFact>& wanted,
                                            const std::vector<etcd::EtcdKeyValue>& held, const std::string& point) {
  std::vector<std::string> out;
  for (const auto& name : sel.namespaces) {
    const auto ns_key = core::namespace_key(name);
    std::size_t objects = 0;
    for (const auto& kv : wanted)
      if (kv.key != ns_key && core::namespace_of(kv.key) == name) ++objects;
    const auto ns = std::find_if(held.begin(), held.end(), [&](const etcd::EtcdKeyValue& kv) { return kv.key == ns_key; });
    if (ns == held.end()) continue;  // not there at all: the report refuses or lists what is
    if (core::namespace_state(ns->value).terminating)
      out.push_back(fmt::format("at {} namespace {} is Terminating (its deletion had begun): it comes back "
                                "Terminating and is deleted again; choose a point before its deletion began (to=auto "
                                "finds it; kdr journal find --namespace {})",
                                point, name, name));
    if (objects == 0)
      out.push_back(fmt::format("at {} namespace {} holds none of its objects (they were already deleted): only the "
                                "empty namespace comes back; choose an earlier point (kdr journal find --namespace {})",
                                point, name, name));
  }
  return out;
}

std::string digest_of(const std::vector<KeyFact>& kvs) {
  std::vector<const KeyFact*> sorted;
  for (const auto& kv : kvs) sorted.push_back(&kv);
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return a->key < b->key; });
  core::Sha256 text;
  for (const auto* kv : sorted) {
    const auto line = core::sha256_hex(kv->key) + core::hex_of(kv->value_sha256) + "\n";
    text.update(line.data(), line.size());
  }
  return text.hex_digest();
}

// What the journal's "read" event names: the source and the keys chosen.
std::string read_name(const SnapshotFile& source, const KeySelection& sel) {
  return fmt::format("etcd-put-keys: {} of {}", source.text, sel.text());
}

// The revision an etcd-replay step replays to: the plan resolved `to` into one.
std::int64_t replayed_revision(const Runner& r) {
  const auto& to = r.var(Var::to);
  std::int64_t rev = 0;
  const auto [end, ec] = std::from_chars(to.data(), to.data() + to.size(), rev);
  return ec == std::errc() && end == to.data() + to.size() ? rev : 0;
}

std::string replayed_text(const std::string& revision) {
  return fmt::format("the change journal's revision {} (replayed)", revision);
}

SnapshotFile source_of(const Runner& r, const PutKeysArgs& a) {
  if (a.from_replay)
    return {replayed_snapshot(r), false, replayed_sha256(r), replayed_text(r.var(Var::to)), replayed_revision(r)};
  const auto& snap = generation_snapshot(r);
  return {r.gen.dir / snap.file, snap.compression == "zstd", snap.db_sha256,
          fmt::format("generation {}'s snapshot", r.gen.id), snap.revision};
}

// What the snapshot holds of a selection: the keys it picks, and its namespaces (for the
// message when nothing matches).
struct SnapshotPick {
  std::vector<KeyFact> kvs;
  std::vector<etcd::EtcdKeyValue> held;  // the chosen namespaces' objects, with their values
  std::vector<std::string> namespaces;
  etcd::SnapshotKeys keys;               // what was picked, to read again
};

// Where a restore that runs keeps its private copy of the generation's snapshot, from the
// preflight's read of the keys to the step's (named by its SHA-256: the step takes it only for
// the same snapshot).
core::bfs::path keys_copy(const Runner& r, const SnapshotFile& source) {
  return r.restore_dir() / fmt::format("keys-source-{}.db", source.sha256.substr(0, 16));
}

// A private copy of the snapshot the keys are read from, hashed as it was written and checked
// against its record, so what is read is what was checked, whatever happens to the backup
// disk's file meanwhile. Three cases: the point the etcd-replay step made in this process (read
// where it lies); in a restore that runs, the copy in the restore's folder (the preflight makes
// it and the step takes it: one copy of the snapshot, not two; a resume copies again); in a
// dry run, a scratch folder's, gone with this object.
class CheckedSource {
 public:
  CheckedSource(Runner& r, const SnapshotFile& source, bool for_step) {
    if (!source.zstd && r.copies_checked.count(source.file.string()) != 0) {
      file_ = source.file;
      return;
    }
    if (r.journal) {
      file_ = keys_copy(r, source);
      if (r.copies_checked.count(file_.string()) == 0 || !core::present(file_)) {
        core::checked_private_copy_renamed(*r.ctx.host, source.file, file_, source.zstd, source.sha256);
        r.copies_checked.insert(file_.string());
        if (!for_step) r.preflight_copies.insert(file_.string());
      }
      if (for_step) remove_ = true;  // read once more by this step, then gone
      return;
    }
    scratch_.emplace("etcd-keys");
    file_ = scratch_->path() / "snapshot.db";
    core::checked_private_copy(*r.ctx.host, source.file, file_, source.zstd, source.sha256);
  }
  ~CheckedSource() {
    if (remove_) ::unlink(file_.c_str());
  }
  CheckedSource(const CheckedSource&) = delete;
  CheckedSource& operator=(const CheckedSource&) = delete;
  const core::bfs::path& file() const { return file_; }

 private:
  std::optional<core::ScratchDir> scratch_;
  core::bfs::path file_;
  bool remove_ = false;
};

// The keys `sel` picks by namespace or prefix, read off the checked copy (etcd::read_snapshot_keys,
// two passes over it; no etcd to restore and start).
SnapshotPick pick_from_file(const core::bfs::path& file, const KeySelection& sel) {
  const auto namespaces = core::namespace_key("");  // "/registry/namespaces/"
  const auto is_namespace = [&](std::string_view key) { return key.starts_with(namespaces); };
  SnapshotPick out{{}, {}, {}, etcd::SnapshotKeys(file, {"", std::nullopt, [&](std::string_view k) {
                                                           return sel.selects(k) || is_namespace(k);
                                                         }})};
  out.keys.visit([&](const etcd::EtcdKeyValue& kv) {
    const bool chosen = sel.selects(kv.key);
    if (is_namespace(kv.key)) {
      if (auto ns = namespace_of(kv.key)) out.namespaces.push_back(*ns);
      if (chosen) out.held.push_back(kv);
    }
    if (chosen) out.kvs.push_back(KeyFact::of(kv));
  });
  std::sort(out.kvs.begin(), out.kvs.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
  std::sort(out.namespaces.begin(), out.namespaces.end());
  return out;
}

// Reads the selected keys in the snapshot and in the live etcd. Objects chosen by name, and
// what they reference (restore/object_plan.hpp), are looked up key by key: from a private etcd
// serving the snapshot. `for_step`: the step's read, after which the private copy goes.
KeysRead read_keys(Runner& r, const PutKeysArgs& a, etcd::EtcdApi& live, const SnapshotFile& source,
                   const CheckedSource& checked) {
  const auto& sel = a.selection;
  KeysRead out;
  auto pick = pick_from_file(checked.file(), sel);
  out.snapshot_namespaces = std::move(pick.namespaces);
  out.held = std::move(pick.held);
  out.keys.emplace(std::move(pick.keys));
  std::vector<std::string> names;
  for (const auto& kv : pick.kvs) names.push_back(kv.key);
  std::vector<KeyFact> wanted = std::move(pick.kvs), current;
  for (const auto& prefix : read_prefixes(sel, names))
    live.scan(prefix, {}, [&](etcd::EtcdKeyValue&& kv) {
      if (sel.selects(kv.key)) current.push_back(KeyFact::of(kv));
    });
  if (!sel.objects.empty()) {
    etcd::PrivateEtcd snapshot(r.ctx, checked.file(), false, source.sha256, {}, "etcd-keys", true);
    out.point_revision = source.revision;
    k8s::DecodeOptions decode;
    const auto encryption = reading_encryption_config(r);
    decode.encryption = encryption ? &*encryption : nullptr;
    out.objects = plan_objects(
        sel, [&](const std::string& key) { return snapshot.client().get(key); },
        [&](const std::string& key) { return live.get(key); }, a.with_dependencies, decode);
    for (const auto& kv : out.objects.added) {
      wanted.push_back(KeyFact::of(kv));
      out.held.push_back(kv);
    }
  }
  out.digest = digest_of(wanted);
  out.point_warnings = namespace_warnings(sel, wanted, out.held, source.text);
  out.plan = plan_keys(std::move(wanted), std::move(current), a.overwrite);
  return out;
}

}  // namespace

namespace {

// What a read found, as the preflight (or, after a replay, the step itself) says it: refusals,
// what will be written, and the conflicts.
struct KeysReport {
  std::optional<std::string> refusal;
  std::vector<std::string> oks, warns;
};

std::string change_lines(const ChosenObject& c) {
  if (!c.problem.empty()) return fmt::format("\n        the stored bytes differ; {}", c.problem);
  std::string out;
  for (const auto& f : c.changes) out += "\n        " + k8s::change_text(f);
  return out.empty() ? "\n        (only what always changes: managedFields, resourceVersion)" : out;
}

// Each object chosen by name: what the point holds and what the restore does with it live;
// then what they need that live lacks. An object the point lacks is refused, and so is one
// that exists live with another value unless overwrite=true.
void objects_report(const PutKeysArgs& a, const KeysRead& read, const SnapshotFile& source, KeysReport& out) {
  const auto& op = read.objects;
  std::vector<std::string> refusals;
  for (const auto& c : op.objects) {
    const auto& o = c.choice;
    const auto history = fmt::format("kdr history {}/{}{}", o.type.resource, o.name,
                                     o.namespace_.empty() ? "" : " -n " + o.namespace_);
    switch (c.state) {
      case ChosenObject::State::missing_at_point:
        refusals.push_back(fmt::format("{} is not in {} (created after it, or deleted before it: {} lists its "
                                       "changes)",
                                       o.text(), source.text, history));
        break;
      case ChosenObject::State::create:
        out.oks.push_back(fmt::format("{}: absent live; put back as {} holds it (mod revision {})", o.text(),
                                      source.text, c.point_mod_revision));
        break;
      case ChosenObject::State::same:
        out.oks.push_back(fmt::format("{}: live already holds it as {} does; left as it is", o.text(), source.text));
        break;
      case ChosenObject::State::differs: {
        const auto when = c.live_mod_revision > read.point_revision
                              ? fmt::format("it changed live at revision {}, after the point (revision {})",
                                            c.live_mod_revision, read.point_revision)
                              : fmt::format("live holds another version (mod revision {})", c.live_mod_revision);
        if (a.overwrite)
          out.warns.push_back(fmt::format("{}: {}; overwritten (overwrite=true), its live value kept in the "
                                          "journal. What the restore changes:{}",
                                          o.text(), when, change_lines(c)));
        else
          refusals.push_back(fmt::format("{}: {}; it is not overwritten unless told (--set overwrite=true; {} "
                                         "says who changed it). What the restore would change:{}",
                                         o.text(), when, history, change_lines(c)));
        break;
      }
    }
  }
  for (const auto& d : op.missing) {
    const auto what = fmt::format("{} needs {} ({}), which is missing live", d.needed_by, d.text(), d.ref.field);
    if (d.added) out.oks.push_back(fmt::format("{}: put back too, from {} (with_dependencies=true)", what, source.text));
    else if (d.at_point)
      out.warns.push_back(fmt::format("{}; {} holds it: --set with_dependencies=true puts it back too", what,
                                      source.text));
    else
      out.warns.push_back(fmt::format("{}, and {} does not hold it either: what needs it waits for it (its pods do "
                                      "not start)",
                                      what, source.text));
  }
  if (!op.objects.empty() && op.live_dependencies > 0)
    out.oks.push_back(fmt::format("{} object{} they need {} live", op.live_dependencies,
                                  op.live_dependencies == 1 ? "" : "s", op.live_dependencies == 1 ? "is" : "are"));
  if (!refusals.empty()) {
    std::string text;
    for (const auto& line : refusals) text += (text.empty() ? "" : "\n") + line;
    out.refusal = std::move(text);
  }
}

KeysReport report(const Runner& r, const PutKeysArgs& a, const KeysRead& read, const SnapshotFile& source) {
  const auto& sel = a.selection;
  const auto& plan = read.plan;
  KeysReport out;
  objects_report(a, read, source, out);
  if (out.refusal) return out;
  if (plan.selected == 0) {
    out.refusal = fmt::format("{} holds no key of {} (its namespaces: {})", source.text, sel.text(),
                              core::list_text(read.snapshot_namespaces, 20));
    return out;
  }
  core::EncryptionKeyUse use;
  for (const auto& w : plan.to_write)
    if (!w.wanted.encryption_key.empty()) ++use[w.wanted.encryption_key];
  std::string accepted;
  if (auto refusal = undecryptable_refusal(r, use, fmt::format("what this restore writes from {}", source.text), accepted)) {
    out.refusal = std::move(refusal);
    return out;
  }
  if (!accepted.empty()) out.warns.push_back(accepted);
  out.warns.insert(out.warns.end(), read.point_warnings.begin(), read.point_warnings.end());
  out.oks.push_back(fmt::format("{} holds {} for {}", source.text, per_resource_text(plan), sel.text()));
  out.oks.push_back(fmt::format("{} to write, {} already live with the same value, {} conflict{}", plan.to_write.size(),
                                plan.same, plan.conflicts.size(), plan.conflicts.size() == 1 ? "" : "s"));
  const auto named = [&](const std::string& key) {  // said above, with its diff
    return std::any_of(sel.objects.begin(), sel.objects.end(), [&](const ObjectChoice& o) { return o.key == key; });
  };
  for (const auto& w : plan.to_write)
    if (w.replaces != 0 && !named(w.wanted.key))
      out.warns.push_back(
          fmt::format("{} exists live with another value (mod revision {}): overwritten "
                      "(overwrite=true), its live value kept in the journal",
                      w.wanted.key, w.replaces));
  for (const auto& c : plan.conflicts)
    out.warns.push_back(
        fmt::format("conflict: {} exists live with another value (mod revision {}): left alone "
                    "(--set overwrite=true replaces it)",
                    c.key, c.live_mod_revision));
  return out;
}

// Writes planned keys into the live etcd in batches of one transaction each (at most 64 keys,
// as etcd's --max-txn-ops allows 128 operations, and 1 MiB of keys and values, under its 1.5
// MiB request limit), every key of a batch journaled with one flush before it is written: one
// flush and one request for 64 keys, not 64 of each (10,960 keys at 8 GiB: 54 s one by one).
// A batch whose comparisons fail (a key changed meanwhile), or that this etcd refuses as too
// large (a lower --max-request-bytes or --max-txn-ops), is written key by key, each checked.
// A live value a key replaces (overwrite) is read as its batch is written, journaled, and
// replaced only if it is still the one the plan saw.
class KeyWriter {
 public:
  KeyWriter(Runner& r, etcd::EtcdApi& live, std::string url, std::string from)
      : r_(r), live_(live), url_(std::move(url)), from_(std::move(from)) {}

  void add(const KeyWrite& w, std::string value) {
    const auto weight = w.wanted.key.size() + value.size();
    if (!batch_.empty() && (batch_.size() >= batch_keys || bytes_ + weight > batch_bytes)) flush();
    bytes_ += weight;
    batch_.push_back({&w, std::move(value)});
  }

  void flush() {
    std::vector<Action> actions;
    std::vector<etcd::EtcdApi::ConditionalPut> puts;
    for (auto& [w, value] : batch_) {
      const auto& key = w->wanted.key;
      json replaced = nullptr;
      if (w->replaces != 0) {
        const auto now = live_.get(key);
        if (!now || now->mod_revision != w->replaces) {
          changed_meanwhile(key);
          continue;
        }
        replaced = {{"value", core::base64_encode(now->value)}, {"mod_revision", now->mod_revision}};
      }
      Action act;
      act.op = ActionOp::etcd_put;
      act.from = from_;
      act.to = url_;
      act.etcd = {{"key", core::base64_encode(key)},
                  {"value_sha256", core::hex_of(w->wanted.value_sha256)},
                  {"replaced", std::move(replaced)}};
      actions.push_back(std::move(act));
      puts.push_back({key, std::move(value), w->replaces});
    }
    batch_.clear();
    bytes_ = 0;
    if (puts.empty()) return;
    std::vector<bool> done(puts.size(), false);
    r_.act_all(std::move(actions), [&] {
      try {
        if (live_.put_all_if(puts)) {
          done.assign(puts.size(), true);
          return;
        }
      } catch (const etcd::EtcdApiError& e) {
        if (!e.too_large() || puts.size() == 1) throw;
      }
      for (std::size_t i = 0; i < puts.size(); ++i)
        done[i] = live_.put_if(puts[i].key, puts[i].value, puts[i].expected).has_value();
    });
    for (std::size_t i = 0; i < puts.size(); ++i) {
      if (done[i]) {
        ++written_;
        ++per_resource_[resource_of(puts[i].key)];
      } else {
        changed_meanwhile(puts[i].key);
      }
    }
  }

  std::size_t written() const { return written_; }
  std::size_t lost_race() const { return lost_race_; }
  // "wrote 12 keys into the live etcd: configmaps 3, pods 9"
  std::string summary() const {
    std::string counts;
    for (const auto& [res, n] : per_resource_) counts += (counts.empty() ? "" : ", ") + fmt::format("{} {}", res, n);
    return fmt::format("wrote {} key{} into the live etcd{}{}", written_, written_ == 1 ? "" : "s",
                       counts.empty() ? "" : ": ", counts);
  }

 private:
  static constexpr std::size_t batch_keys = 64, batch_bytes = 1u << 20;
  struct Put {
    const KeyWrite* w;
    std::string value;
  };
  void changed_meanwhile(const std::string& key) {
    ++lost_race_;
    r_.ctx.out.warn("      {} changed in the live etcd while the restore ran: left as it is", key);
  }

  Runner& r_;
  etcd::EtcdApi& live_;
  std::string url_, from_;
  std::vector<Put> batch_;
  std::size_t bytes_ = 0, written_ = 0, lost_race_ = 0;
  std::map<std::string, std::size_t> per_resource_;
};

class EtcdPutKeys final : public TypedStep<PutKeysArgs> {
 public:
  std::string action_text(const Action& a) const override {
    if (a.op != ActionOp::etcd_put) return StepDef::action_text(a);
    return fmt::format("wrote etcd key {} into {} ({})", core::base64_decode(a.etcd.value("key", "")), a.to,
                       a.etcd.value("replaced", nlohmann::json()).is_null() ? "it was absent" : "replacing the live value");
  }
  StepType type() const override { return StepType::etcd_put_keys; }
  StepTraits traits() const override { return {.writes_live_keys = true}; }
  ReadsReplayed reads_replayed(const PlannedStep& s) const override {
    return s.typed && s.args<PutKeysArgs>().from_replay ? ReadsReplayed::file : ReadsReplayed::no;
  }
  std::string_view name() const override { return "etcd-put-keys"; }
  bool changes_node() const override { return true; }
  std::vector<StepKey> keys() const override {
    return {{"namespace", false}, {"prefix", false},           {"object", false},
            {"overwrite", false}, {"with_dependencies", false}, {"source", false}};
  }

  std::optional<std::string> cannot_serve(const GenerationOffer& offer, const json& values) const override {
    if (values.value("source", std::string("snapshot")) == "snapshot" && !offer.etcd_snapshot)
      return "it holds no etcd snapshot to read keys from";
    return std::nullopt;
  }

  void undo(Runner& r, const Action& a) const override {
    if (a.op != ActionOp::etcd_put) return r.undo_file_action(a);
    failpoint("rollback-before-action", ++r.actions_undone);
    undo_put(r, a);
    failpoint("rollback-after-action", r.actions_undone);
  }

 protected:
  PutKeysArgs read_args(const StepValues& v) const override {
    PutKeysArgs a;
    a.selection.namespaces = split_list(v.text("namespace"));
    a.selection.prefixes = split_list(v.text("prefix"));
    for (const auto& o : split_list(v.text("object"))) try {
        a.selection.objects.push_back(parse_object_choice(o));
      } catch (const Error& e) {
        v.fail("object", e.what());
      }
    a.overwrite = v.flag("overwrite", false);
    a.with_dependencies = v.flag("with_dependencies", false);
    a.from_replay = v.choice("source", {"snapshot", "replayed"}, "snapshot") == "replayed";
    if (a.from_replay && !v.facts().replay_before)
      v.fail("source",
             "replayed reads the point an etcd-replay step makes, and no etcd-replay step comes before it "
             "in this plan");
    return a;
  }

  std::vector<std::string> plan_text(const Runner& r, const PutKeysArgs& a) const override {
    const auto& sel = a.selection;
    std::vector<std::string> out;
    out.push_back(
        fmt::format("read {} off a private copy (hashed as it is copied, checked against its record; not the node's "
                    "etcd): the keys of {}",
                    a.from_replay ? fmt::format("the change journal's revision {}, as the etcd-replay step "
                                                "made it,",
                                                r.var(Var::to))
                                  : fmt::format("generation {}'s snapshot", r.gen.id),
                    sel.empty() ? "<nothing chosen: --set namespace=NAME, object=RESOURCE/NAMESPACE/NAME or "
                                  "prefix=/registry/...>"
                                : sel.text()));
    if (!sel.objects.empty())
      out.push_back(a.with_dependencies
                        ? "with what those objects need and live lacks (their Namespace, the ServiceAccount, "
                          "Secrets, ConfigMaps and claims their pods name, a claim's volume), from the same point"
                        : "list what those objects need and live lacks (their Namespace, the ServiceAccount, Secrets, "
                          "ConfigMaps and claims their pods name, a claim's volume); with_dependencies=true puts "
                          "them back too");
    out.push_back(
        fmt::format("write them into the live etcd in transactions of up to 64 keys, namespace objects first, "
                    "each key only if it does not exist{}",
                    a.overwrite ? ", or (overwrite=true) replacing the live value if it did not change "
                                  "since it was read"
                                : " (a key that exists live is left alone; overwrite=true replaces it)"));
    out.push_back(
        fmt::format("every key is journaled before it is written; a rollback removes exactly those (or puts "
                    "back the values they replaced). The preflight counts them per resource and lists every "
                    "conflict{}",
                    a.from_replay ? " (it makes the point off the node for that; the etcd-replay step then finds it "
                                    "made)"
                                  : ""));
    return out;
  }

  // The preflight of a restore that runs read the keys off a private copy, hashed as it was
  // written (CheckedSource): the generation's snapshot is not hashed once more.
  void reads_from(const Runner& r, const PutKeysArgs& a, verify::HashScope& scope) const override {
    if (a.from_replay || !r.gen_snapshot()) return;
    if (r.journal && r.copies_checked.count(keys_copy(r, source_of(r, a)).string()) != 0) return;
    scope.artifacts.insert(r.gen_snapshot()->file);
  }

  void preflight(Runner& r, const PutKeysArgs& a, Preflight& pf) const override {
    const auto& sel = a.selection;
    if (sel.empty()) {
      pf.fails.push_back(
          "say which keys to put back: --set namespace=NAME (the namespace and every object in it), "
          "--set object=RESOURCE/NAMESPACE/NAME (one object, e.g. deployments/payments/api) or "
          "--set prefix=/registry/... (each repeatable)");
      return;
    }
    for (const auto& p : sel.prefixes)
      if (p.empty() || p.front() != '/' || p == "/")
        pf.fails.push_back(
            fmt::format("prefix '{}': expected a key prefix such as /registry/configmaps/NAMESPACE/", p));
    const auto endpoint = etcd::node_etcd_endpoint(r.ctx);
    const auto live = r.ctx.etcd->connect(endpoint);
    try {
      const auto st = live->status();
      pf.ok(fmt::format("the live etcd at {} answers (revision {}); the cluster keeps running", endpoint.url,
                        st.revision));
    } catch (const Error& e) {
      pf.fails.push_back(
          fmt::format("restore-etcd-keys writes into the running etcd, which does not answer ({}); for an "
                      "etcd that is down, see restore-etcd-snapshot",
                      e.what()));
      return;
    }
    try {
      // A point of the journal is made now, off the node, so that the keys are counted and every
      // conflict listed before anything is confirmed: into the restore's folder, where the
      // etcd-replay step finds it made, or (a dry run) a scratch folder.
      std::optional<core::ScratchDir> scratch;
      std::optional<SnapshotFile> replayed;
      if (a.from_replay) {
        const auto target = etcd::parse_replay_target(r.var(Var::to));
        const auto dir = r.journal ? r.restore_dir() : scratch.emplace("keys-preflight").path();
        const auto sha256 = make_replayed(r, target, dir);
        replayed = SnapshotFile{dir / "replayed.db", false, sha256, replayed_text(r.var(Var::to)), replayed_revision(r)};
      }
      const auto source = replayed ? *replayed : source_of(r, a);
      const CheckedSource checked(r, source, false);
      const auto read = read_keys(r, a, *live, source, checked);
      const auto found = report(r, a, read, source);
      if (found.refusal) {
        pf.warns.insert(pf.warns.end(), found.warns.begin(), found.warns.end());
        pf.fails.push_back(*found.refusal);
        return;
      }
      if (r.journal)
        r.journal->record(JournalEvent::read, {{"what", read_name(source, a.selection)}, {"digest", read.digest}});
      for (const auto& line : found.oks) pf.ok(line);
      pf.warns.insert(pf.warns.end(), found.warns.begin(), found.warns.end());
    } catch (const Error& e) {
      pf.fails.push_back(e.what());
    }
  }

  void perform(Runner& r, const PutKeysArgs& a) const override {
    const auto endpoint = etcd::node_etcd_endpoint(r.ctx);
    const auto live = r.ctx.etcd->connect(endpoint);
    const auto source = source_of(r, a);
    const CheckedSource checked(r, source, true);
    const auto read = read_keys(r, a, *live, source, checked);
    const auto& plan = read.plan;
    const auto reads = r.journal ? r.journal->summary().reads : std::map<std::string, std::string>();
    const auto shown = reads.find(read_name(source, a.selection));
    if (shown != reads.end() && shown->second != read.digest)
      throw Error(fmt::format("{} does not hold the keys the preflight read and showed for {} (digest {}, now {}): "
                              "the snapshot changed underneath; nothing was written. Check the generation (kdr "
                              "verify {}) and start the restore again",
                              source.text, a.selection.text(), shown->second.substr(0, 16), read.digest.substr(0, 16),
                              r.gen.id));
    if (a.from_replay) {
      // The preflight could not read a point that did not exist yet: say it all now, before any write.
      const auto found = report(r, a, read, source);
      if (found.refusal) throw Error(*found.refusal + "; nothing was written");
      for (const auto& line : found.oks) r.ctx.out.info("      {}", line);
      for (const auto& line : found.warns) r.ctx.out.warn("      {}", line);
    }
    const auto from = a.from_replay ? fmt::format("journal revision {}", r.var(Var::to)) : "generation " + r.gen.id;
    KeyWriter writer(r, *live, endpoint.url, from);
    // Each planned key once, with the value the plan hashed: namespace objects first (held),
    // then the other values held, then the rest as the snapshot hands them out again, in
    // revision order (the order they were written in).
    std::unordered_map<std::string_view, const KeyWrite*> pending;
    for (const auto& w : plan.to_write) pending.emplace(w.wanted.key, &w);
    const auto put = [&](const etcd::EtcdKeyValue& kv) {
      const auto it = pending.find(kv.key);
      if (it == pending.end()) return;
      const KeyWrite& w = *it->second;
      if (kv.value.size() != w.wanted.value_size || core::sha256_bytes(kv.value) != w.wanted.value_sha256)
        throw Error(fmt::format("{}: {} holds another value than it did when the keys were read; {} key{} written "
                                "before it (kdr restore --rollback removes them)",
                                kv.key, source.text, writer.written(), writer.written() == 1 ? "" : "s"));
      pending.erase(it);
      writer.add(w, kv.value);
    };
    for (const auto& kv : read.held)
      if (resource_of(kv.key) == "namespaces") put(kv);
    for (const auto& kv : read.held) put(kv);
    read.keys->visit(put);
    writer.flush();
    if (!pending.empty())
      throw Error(fmt::format("{} no longer hands out {} of the keys planned ({} among them); {} key{} written "
                              "(kdr restore --rollback removes them)",
                              source.text, pending.size(), pending.begin()->first, writer.written(),
                              writer.written() == 1 ? "" : "s"));
    r.ctx.out.info("      {}; {} already there with the same value; {} conflict{} left alone{}", writer.summary(),
                   plan.same, plan.conflicts.size(), plan.conflicts.size() == 1 ? "" : "s",
                   writer.lost_race() > 0 ? fmt::format("; {} changed meanwhile, left as they are", writer.lost_race())
                                          : std::string());
  }

 private:
  static void undo_put(Runner& r, const Action& a) {
    auto endpoint = etcd::node_etcd_endpoint(r.ctx);
    if (!a.to.empty()) endpoint.url = a.to;  // where the restore wrote it
    const auto live = r.ctx.etcd->connect(endpoint);
    const auto key = core::base64_decode(a.etcd.value("key", ""));
    const auto written_sha = a.etcd.value("value_sha256", "");
    const auto replaced = a.etcd.value("replaced", json());
    const auto now = live->get(key);
    if (!now) {
      if (!replaced.is_null())
        r.ctx.out.warn("      {} is gone from the live etcd since the restore replaced it: not put back", key);
      return;  // never written (killed before), or deleted since
    }
    if (core::sha256_hex(now->value) != written_sha) {
      r.ctx.out.warn("      {} changed in the live etcd since the restore wrote it: left as it is", key);
      return;
    }
    bool done = false;
    if (replaced.is_null()) {
      done = live->delete_if(key, now->mod_revision);
      if (done) r.ctx.out.info("      deleted {} (written by this restore)", key);
    } else {
      done = live->put_if(key, core::base64_decode(replaced.value("value", "")), now->mod_revision).has_value();
      if (done) r.ctx.out.info("      put back the value {} had before this restore", key);
    }
    if (!done) r.ctx.out.warn("      {} changed in the live etcd during the rollback: left as it is", key);
  }
};

}  // namespace

const StepDef& etcd_put_keys_step_def() {
  static const EtcdPutKeys def;
  return def;
}

}  // namespace kdr::restore
