#include "etcd/rewind.hpp"

#include <chrono>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "core/fs.hpp"
#include "core/generation.hpp"

namespace kdr::etcd {

using nlohmann::json;

std::optional<std::string> etcd_went_back(const EtcdPoint& before, const EtcdPoint& now, double min_ratio) {
  const bool other = !before.cluster_id.empty() && !now.cluster_id.empty() && before.cluster_id != now.cluster_id;
  if (!other && before.revision > 0 && now.revision > 0 && now.revision < before.revision)
    return fmt::format("etcd's revision went back from {} ({}) to {}", before.revision, before.where, now.revision);
  // Another cluster id is no proof of a restore: an etcd that kdr restored runs under its own
  // cluster token, and one that starts afresh from the manifest after that is yet another.
  if (before.keys && now.keys && *before.keys >= 8 &&
      static_cast<double>(*now.keys) < static_cast<double>(*before.keys) * min_ratio)
    return fmt::format("etcd's keyspace collapsed from {} keys ({}, revision {}) to {} at revision {}{}", *before.keys,
                       before.where, before.revision, *now.keys, now.revision,
                       other ? fmt::format(" of another cluster ({}, was {})", now.cluster_id, before.cluster_id)
                             : std::string());
  return std::nullopt;
}

std::string RewindAcceptance::text() const { return by + " at " + core::iso_time(time_ms / 1000); }

core::bfs::path rewind_acceptance_file(const core::Context& ctx) { return ctx.root.host(ctx.config.state_dir) / "etcd-rewind.json"; }

void accept_etcd_rewind(const core::Context& ctx, const std::string& by) {
  const auto file = rewind_acceptance_file(ctx);
  core::make_dirs(file.parent_path(), 0700);
  const auto now_ms = core::now_epoch_ms();
  core::write_file_atomic(file, json{{"by", by}, {"time_ms", now_ms}}.dump() + "\n");
}

std::optional<RewindAcceptance> etcd_rewind_accepted(const core::Context& ctx, std::int64_t after_ms) {
  const auto file = rewind_acceptance_file(ctx);
  if (!core::lstat_path(file)) return std::nullopt;
  try {
    const auto j = json::parse(core::read_file(file));
    RewindAcceptance a{j.at("by").get<std::string>(), j.at("time_ms").get<std::int64_t>()};
    if (a.time_ms > after_ms) return a;
  } catch (const std::exception&) {
    // unreadable: nobody accepted anything
  }
  return std::nullopt;
}

}  // namespace kdr::etcd
