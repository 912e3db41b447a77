#include "backup/retention.hpp"

#include <algorithm>
#include <functional>
#include <set>

#include <fmt/format.h>

namespace kdr::backup {

namespace {

constexpr std::int64_t hour = 3600;
constexpr std::int64_t day = 24 * hour;
constexpr std::int64_t week = 7 * day;

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

// ISO weeks start on Monday; the epoch (1970-01-01) was a Thursday.
std::int64_t iso_week_of(std::int64_t t) { return floor_div(t + 3 * day, week); }

}  // namespace

RetentionPlan plan_retention(std::vector<RetentionCandidate> candidates, const core::RetentionPolicy& policy,
                             std::int64_t now) {
  std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
    return a.time != b.time ? a.time > b.time : a.id > b.id;
  });
  RetentionPlan plan;
  auto keep = [&](const RetentionCandidate& c, std::string why) { plan.reasons[c.id].push_back(std::move(why)); };

  for (const auto& c : candidates)
    if (!c.readable) keep(c, "unreadable metadata: left for the operator");
  if (auto newest = std::find_if(candidates.begin(), candidates.end(), [](const auto& c) { return c.complete && c.readable; });
      newest != candidates.end())
    keep(*newest, "newest complete");
  for (std::size_t i = 0; i < candidates.size() && i < static_cast<std::size_t>(policy.keep_last); ++i)
    keep(candidates[i], fmt::format("last {}", policy.keep_last));

  // One generation per period: the newest complete one in it, else the newest.
  auto per_period = [&](int count, std::int64_t length, const std::function<std::int64_t(std::int64_t)>& bucket_of,
                        const char* name) {
    if (count <= 0) return;
    const std::int64_t since = now - count * length;
    std::map<std::int64_t, const RetentionCandidate*> best;
    for (const auto& c : candidates) {
      if (!c.readable || c.time <= since) continue;
      auto& slot = best[bucket_of(c.time)];
      if (slot == nullptr || (!slot->complete && c.complete)) slot = &c;
    }
    for (const auto& [bucket, c] : best) keep(*c, fmt::format("{} ({} kept)", name, count));
  };
  per_period(policy.hourly, hour, [](std::int64_t t) { return floor_div(t, hour); }, "hourly");
  per_period(policy.daily, day, [](std::int64_t t) { return floor_div(t, day); }, "daily");
  per_period(policy.weekly, week, iso_week_of, "weekly");

  // A kept generation that recorded a journal position needs the full snapshot it extends.
  for (const auto& c : candidates)
    if (plan.reasons.count(c.id) && !c.extends.empty())
      for (const auto& base : candidates)
        if (base.id == c.extends) keep(base, fmt::format("the full snapshot generation {} extends", c.id));

  for (const auto& c : candidates) (plan.reasons.count(c.id) ? plan.keep : plan.remove).push_back(c.id);
  return plan;
}

}  // namespace kdr::backup
