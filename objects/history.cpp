#include "objects/history.hpp"

#include <optional>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/generation.hpp"
#include "core/node_key.hpp"
#include "journal/inspect.hpp"
#include "k8s/decode.hpp"
#include "k8s/object_diff.hpp"
#include "objects/get.hpp"

namespace kdr::objects {

namespace {

using k8s::change_json;
using k8s::change_text;
using k8s::diff_fields;
using k8s::drop_noise;
using k8s::ojson;

// The newest managedFields entry: who wrote this version.
std::pair<std::string, std::string> writer_of(const ojson& object) {
  std::string manager, operation, newest;
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return {};
  const auto fields = metadata->find("managedFields");
  if (fields == metadata->end() || !fields->is_array()) return {};
  for (const auto& f : *fields) {
    if (!f.is_object()) continue;
    const auto time = f.value("time", "");
    if (manager.empty() || time >= newest) {
      newest = time;
      manager = f.value("manager", "");
      operation = f.value("operation", "");
    }
  }
  return {manager, operation};
}

std::string what_text(HistoryEntry::What w) {
  switch (w) {
    case HistoryEntry::What::created: return "created";
    case HistoryEntry::What::updated: return "updated";
    case HistoryEntry::What::deleted: return "deleted";
  }
  return "";
}

// The object as it was just before revision `revision` (the journal over its base snapshot):
// what the journal's first change of it is compared with. Empty when that point cannot be
// read (no full snapshot before it) or the object was not there.
std::optional<ojson> object_before(const core::Context& ctx, const std::string& key, std::int64_t revision,
                                   const k8s::DecodeOptions& options) {
  if (revision <= 1) return std::nullopt;
  try {
    PointSpec spec;
    spec.kind = PointSpec::Kind::revision;
    spec.revision = revision - 1;
    spec.text = std::to_string(revision - 1);
    const auto point = open_point(ctx, spec);
    std::optional<ojson> out;
    point->read(key, [&](const etcd::EtcdKeyValue& kv) {
      if (kv.key != key) return;
      auto o = k8s::decode_stored(kv.key, kv.value, kv.mod_revision, kv.create_revision, options);
      if (!o.decoded()) return;
      if (o.where) drop_noise(o.object, o.where->type);
      out = std::move(o.object);
    });
    return out;
  } catch (const core::Error&) {
    return std::nullopt;
  }
}

}  // namespace

std::vector<HistoryEntry> object_history(const core::Context& ctx, const ObjectQuery& q) {
  if (q.name.empty()) throw core::UsageError("kdr history needs one object: RESOURCE/NAME or RESOURCE NAME");
  const journal::JournalStore store(ctx.backup_dir);
  if (!store.exists())
    throw core::Error(fmt::format("no change journal in {} (kdr journal start): kdr history reads the changes it holds",
                                  ctx.backup_dir.string()),
                      core::ExitCode::no_backup);
  const auto info = node_facts(ctx);
  k8s::DecodeOptions options;
  options.encryption = info.encryption ? &*info.encryption : nullptr;
  options.prefix = info.etcd_prefix;
  const auto key = query_prefix(q, info.etcd_prefix);
  const auto node_key = core::node_key_if_any(ctx);
  journal::ChangeFilter filter;
  filter.prefix = key;
  std::vector<HistoryEntry> out;
  std::optional<ojson> previous;
  std::uint32_t previous_epoch = 0;
  journal::for_each_change(store, filter, node_key ? &*node_key : nullptr, [&](std::uint32_t epoch, const journal::Event& e) {
    if (e.key != key) return;  // "api" is not "api-2"
    if (epoch != previous_epoch) previous.reset();  // another history of the cluster
    previous_epoch = epoch;
    HistoryEntry h;
    h.epoch = epoch;
    h.revision = e.revision;
    h.time_ms = e.time_ms;
    if (e.kind == journal::EventKind::del) {
      h.what = HistoryEntry::What::deleted;
      previous.reset();
      out.push_back(std::move(h));
      return;
    }
    h.what = e.create_revision == e.revision ? HistoryEntry::What::created : HistoryEntry::What::updated;
    auto o = k8s::decode_stored(e.key, e.value, e.mod_revision, e.create_revision, options);
    if (!o.decoded()) {
      h.problem = o.problem;
      previous.reset();
      out.push_back(std::move(h));
      return;
    }
    std::tie(h.manager, h.operation) = writer_of(o.object);
    if (o.where) drop_noise(o.object, o.where->type);
    if (!previous && h.what != HistoryEntry::What::created && out.empty())
      previous = object_before(ctx, key, e.revision, options);  // from the snapshot the journal starts over
    if (previous) h.fields = diff_fields(*previous, o.object);
    else h.first_seen = h.what != HistoryEntry::What::created;
    previous = std::move(o.object);
    out.push_back(std::move(h));
  });
  return out;
}

void print_history(const core::Context& ctx, const ObjectQuery& q, const std::vector<HistoryEntry>& entries) {
  const auto name = object_name(q.type, q.name);
  const auto where = q.type.namespaced ? " in namespace " + q.namespace_ : std::string();
  if (ctx.out.json()) {
    ojson j = ojson::array();
    for (const auto& h : entries) {
      ojson e = {{"epoch", h.epoch}, {"revision", h.revision}, {"time", h.time_ms > 0 ? core::iso_time(h.time_ms / 1000) : ""},
                 {"what", what_text(h.what)}, {"manager", h.manager}, {"operation", h.operation}, {"fields", ojson::array()}};
      for (const auto& f : h.fields) e["fields"].push_back(change_json(f));
      if (!h.problem.empty()) e["problem"] = h.problem;
      j.push_back(std::move(e));
    }
    ctx.out.raw(ojson({{"object", name}, {"namespace", q.namespace_}, {"changes", j}}).dump(2));
    return;
  }
  if (entries.empty()) {
    ctx.out.info("the change journal holds no change of {}{}", name, where);
    return;
  }
  ctx.out.info("kdr history: {}{}, {} change{} in the change journal", name, where, entries.size(),
               entries.size() == 1 ? "" : "s");
  std::uint32_t epoch = 0;
  for (const auto& h : entries) {
    if (h.epoch != epoch) {
      ctx.out.info("epoch {}:", h.epoch);
      epoch = h.epoch;
    }
    const auto by = h.manager.empty() ? std::string() : fmt::format(" by {} ({})", h.manager, h.operation);
    ctx.out.info("  {}  revision {}  {}{}", h.time_ms > 0 ? core::iso_time(h.time_ms / 1000) : "-", h.revision,
                 what_text(h.what), by);
    if (!h.problem.empty()) ctx.out.info("      cannot be read: {}", h.problem);
    if (h.first_seen) ctx.out.info("      (the journal's first version of it: nothing earlier to compare with)");
    for (const auto& f : h.fields) ctx.out.info("      {}", change_text(f));
  }
}

}  // namespace kdr::objects
