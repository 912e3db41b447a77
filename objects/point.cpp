#include "objects/point.hpp"

#include <map>
#include <regex>

#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/control_plane.hpp"
#include "core/error.hpp"
#include "core/host.hpp"
#include "core/generation_view.hpp"
#include "core/node_key.hpp"
#include "core/repository.hpp"
#include "core/static_pods.hpp"
#include "core/zstd_file.hpp"
#include "etcd/replay.hpp"
#include "etcd/snapshot_keys.hpp"
#include "etcd/tool.hpp"
#include "journal/store.hpp"
#include "verify/encryption_check.hpp"

namespace kdr::objects {

namespace {

std::string time_text(std::int64_t ms) { return ms > 0 ? core::iso_time(ms / 1000) : std::string("time not known"); }

void add_live_encryption(const core::Context& ctx, PointInfo& info) {
  try {
    info.encryption = core::combine(info.encryption, core::live_encryption_config(ctx));
  } catch (const core::Error& e) {
    info.warnings.push_back(e.what());
  }
}

}  // namespace

void add_generation_facts(const core::Context& ctx, const core::GenerationEntry& entry, PointInfo& info) {
  if (!entry.meta) return;
  const auto view = core::load_generation(entry.id, entry.path, *entry.meta, entry.meta_sha256);
  info.etcd_prefix = core::apiserver_etcd_prefix(core::generation_pods(view, ctx.config.static_pod_path));
  try {
    info.encryption = core::combine(info.encryption, verify::generation_encryption_config(view, ctx.config.static_pod_path));
  } catch (const core::Error& e) {
    info.warnings.push_back(e.what());
  }
}

namespace {

// A base snapshot copied off the backup disk into a private folder, checked against its record.
class PrivateSnapshot {
 public:
  PrivateSnapshot(const core::Context& ctx, const etcd::ReplayBase& base) : dir_("objects") {
    file_ = dir_.path() / "snapshot.db";
    core::checked_private_copy(*ctx.host, base.file, file_, base.zstd, base.db_sha256);
  }
  const core::bfs::path& file() const { return file_; }

 private:
  core::ScratchDir dir_;
  core::bfs::path file_;
};

class GenerationPoint : public PointReader {
 public:
  GenerationPoint(const core::Context& ctx, const core::GenerationEntry& entry, const etcd::ReplayBase& base)
      : snapshot_(ctx, base) {
    info_.revision = base.revision;
    info_.text = fmt::format("generation {} (etcd revision {}, {})", entry.id, base.revision,
                             time_text(entry.meta ? entry.meta->time * 1000 : 0));
    if (base.auth.status != core::AuthStatus::authentic) info_.warnings.push_back(base.auth.text);
    add_generation_facts(ctx, entry, info_);
    add_live_encryption(ctx, info_);
  }
  void read(const std::string& prefix, const std::function<void(const etcd::EtcdKeyValue&)>& visit,
            const KeyFilter& keep) override {
    etcd::read_snapshot_keys(snapshot_.file(), {prefix, std::nullopt, keep}, visit);
  }

 private:
  PrivateSnapshot snapshot_;
};

class JournalPoint : public PointReader {
 public:
  JournalPoint(const core::Context& ctx, etcd::ReplayPlan plan, std::optional<core::NodeKey> key)
      : ctx_(ctx), plan_(std::move(plan)), key_(std::move(key)), snapshot_(ctx, plan_.base) {
    info_.revision = plan_.target_revision;
    info_.text = fmt::format("revision {} ({}) of the change journal, over {} (revision {}) and {} change{}",
                             plan_.target_revision, time_text(plan_.target_time_ms), plan_.base.source,
                             plan_.base.revision, plan_.events, plan_.events == 1 ? "" : "s");
    if (plan_.auth.status != core::AuthStatus::authentic) info_.warnings.push_back(plan_.auth.text);
    // The generation the base is, or else the newest: its kube-apiserver's prefix and keys.
    try {
      const auto repo = core::Repository::open(ctx.backup_dir);
      const std::string prefix = "generation ";
      const auto which = plan_.base.source.rfind(prefix, 0) == 0 ? plan_.base.source.substr(prefix.size()) : "latest";
      add_generation_facts(ctx, repo.find(which), info_);
    } catch (const core::Error&) {
      // no generation: the live node's facts below
    }
    add_live_encryption(ctx, info_);
  }
  void read(const std::string& prefix, const std::function<void(const etcd::EtcdKeyValue&)>& visit,
            const KeyFilter& keep) override {
    // The keys the journal changed after the base, as they are at the target.
    std::map<std::string, std::optional<etcd::EtcdKeyValue>> changed;
    etcd::for_each_planned_event(ctx_, plan_, key_ ? &*key_ : nullptr, [&](journal::Event& e) {
      if (e.key.compare(0, prefix.size(), prefix) != 0 || (keep && !keep(e.key))) return;
      if (e.kind == journal::EventKind::del) {
        changed[e.key] = std::nullopt;
        return;
      }
      etcd::EtcdKeyValue kv;
      kv.key = e.key;
      kv.value = std::move(e.value);
      kv.create_revision = e.create_revision;
      kv.mod_revision = e.mod_revision;
      kv.version = e.version;
      kv.lease = e.lease;
      changed[e.key] = std::move(kv);
    });
    etcd::read_snapshot_keys(
        snapshot_.file(),
        {prefix, std::nullopt, [&](std::string_view k) { return changed.count(std::string(k)) == 0 && (!keep || keep(k)); }},
        visit);
    for (const auto& [k, kv] : changed)
      if (kv) visit(*kv);
  }

 private:
  const core::Context& ctx_;
  etcd::ReplayPlan plan_;
  std::optional<core::NodeKey> key_;
  PrivateSnapshot snapshot_;
};

class LivePoint : public PointReader {
 public:
  explicit LivePoint(const core::Context& ctx) : ctx_(ctx), client_(ctx.etcd->connect(etcd::node_etcd_endpoint(ctx))) {
    const auto status = client_->status();
    info_.revision = status.revision;
    info_.text = fmt::format("the live etcd at {} (revision {})", client_->endpoint().url, status.revision);
    info_.etcd_prefix = core::apiserver_etcd_prefix(core::scan_static_pods(ctx.root, ctx.config.static_pod_path));
    add_live_encryption(ctx, info_);
  }
  void read(const std::string& prefix, const std::function<void(const etcd::EtcdKeyValue&)>& visit,
            const KeyFilter& keep) override {
    etcd::EtcdRangeOptions options;
    options.revision = info_.revision;  // every read of this point at one revision
    client_->scan(prefix, options, [&](etcd::EtcdKeyValue&& kv) {
      if (!keep || keep(kv.key)) visit(kv);
    });
    if (const auto over = client_->range_transport(); !over.empty())
      ctx_.out.detail("etcd: {} read over {}", prefix, over);
  }

 private:
  const core::Context& ctx_;
  std::unique_ptr<etcd::EtcdApi> client_;
};

std::unique_ptr<PointReader> generation_point(const core::Context& ctx, const std::string& which,
                                              const core::NodeKey* key) {
  const auto repo = core::Repository::open(ctx.backup_dir);
  const auto entry = repo.find(which);
  if (!entry.meta) throw core::Error(fmt::format("generation {}: {}", entry.id, entry.problem), core::ExitCode::no_backup);
  const auto base = etcd::generation_base(entry, key);
  if (!base) throw core::Error(fmt::format("generation {} holds no etcd snapshot", entry.id), core::ExitCode::no_backup);
  if (base->auth.status == core::AuthStatus::forged) throw core::Error(base->auth.text);
  return std::make_unique<GenerationPoint>(ctx, entry, *base);
}

}  // namespace

PointInfo node_facts(const core::Context& ctx) {
  PointInfo info;
  info.etcd_prefix = core::apiserver_etcd_prefix(core::scan_static_pods(ctx.root, ctx.config.static_pod_path));
  try {
    const auto repo = core::Repository::open(ctx.backup_dir);
    add_generation_facts(ctx, repo.find("latest"), info);
  } catch (const core::Error&) {
    // no generation: the live node's facts alone
  }
  add_live_encryption(ctx, info);
  return info;
}

PointSpec parse_point(const std::string& text) {
  PointSpec p;
  p.text = text;
  if (text.empty() || text == "latest") return p;
  if (text == "live") {
    p.kind = PointSpec::Kind::live;
    return p;
  }
  if (text.find_first_not_of("0123456789") == std::string::npos) {
    p.kind = PointSpec::Kind::revision;
    try {
      p.revision = std::stoll(text);
    } catch (const std::exception&) {
      throw core::UsageError(fmt::format("--at {}: not a revision kdr can read", text));
    }
    if (p.revision <= 0) throw core::UsageError(fmt::format("--at {}: etcd's revisions start at 1", text));
    return p;
  }
  if (const auto ms = core::parse_rfc3339_ms(text)) {
    p.kind = PointSpec::Kind::time;
    p.time_ms = *ms;
    return p;
  }
  // Generation ids are times without colons (2026-11-30T081245Z); a colon means a time was meant.
  static const std::regex timeish("^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}[T ].*:.*$");
  if (std::regex_match(text, timeish))
    throw core::UsageError(fmt::format(
        "--at {}: not an RFC 3339 time (2026-11-30T03:14:00Z, with seconds, and Z or an offset such as +01:00)", text));
  p.kind = PointSpec::Kind::generation;
  return p;
}

std::unique_ptr<PointReader> open_point(const core::Context& ctx, const PointSpec& spec) {
  if (spec.kind == PointSpec::Kind::live) return std::make_unique<LivePoint>(ctx);
  auto key = core::node_key_if_any(ctx);
  const core::NodeKey* k = key ? &*key : nullptr;
  if (spec.kind == PointSpec::Kind::generation) return generation_point(ctx, spec.text, k);
  const journal::JournalStore store(ctx.backup_dir);
  if (spec.kind == PointSpec::Kind::latest && !store.exists()) return generation_point(ctx, "latest", k);
  if (!store.exists())
    throw core::Error(fmt::format("--at {}: no change journal in {} (kdr journal start); a generation can be read "
                                  "with --at GENERATION",
                                  spec.text, ctx.backup_dir.string()),
                      core::ExitCode::no_backup);
  etcd::ReplayTarget target;
  target.text = spec.text;
  if (spec.kind == PointSpec::Kind::revision) {
    target.kind = etcd::ReplayTarget::Kind::revision;
    target.revision = spec.revision;
  } else if (spec.kind == PointSpec::Kind::time) {
    target.kind = etcd::ReplayTarget::Kind::time;
    target.time_ms = spec.time_ms;
  }
  auto plan = etcd::plan_replay(ctx, target, k);
  return std::make_unique<JournalPoint>(ctx, std::move(plan), std::move(key));
}

}  // namespace kdr::objects
