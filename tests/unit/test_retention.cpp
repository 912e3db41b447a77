#include <catch2/catch.hpp>

#include <algorithm>

#include "backup/retention.hpp"

using namespace kdr::backup;

namespace {
constexpr std::int64_t minute = 60, hour = 3600, day = 86400;
// 2026-11-23 00:00:00 UTC, a Monday.
constexpr std::int64_t monday = 1795392000;

bool kept(const RetentionPlan& p, const std::string& id) {
  return std::find(p.keep.begin(), p.keep.end(), id) != p.keep.end();
}

std::vector<RetentionCandidate> every(std::int64_t step, std::int64_t from, std::int64_t to) {
  std::vector<RetentionCandidate> out;
  for (std::int64_t t = from; t <= to; t += step) out.push_back({std::to_string(t), t, true, true, ""});
  return out;
}
}  // namespace

TEST_CASE("keep_last keeps the newest N and nothing else") {
  kdr::core::RetentionPolicy p{3, 0, 0, 0};
  auto plan = plan_retention(every(5 * minute, monday, monday + hour), p, monday + hour);
  CHECK(plan.keep == std::vector<std::string>{std::to_string(monday + hour), std::to_string(monday + 55 * minute),
                                              std::to_string(monday + 50 * minute)});
  CHECK(plan.remove.size() == 10);
}

TEST_CASE("every 5 minutes for two days keeps last, hourly and daily generations") {
  kdr::core::RetentionPolicy p{12, 24, 7, 4};
  const auto now = monday + 2 * day;
  auto plan = plan_retention(every(5 * minute, monday, now), p, now);
  // the last 12, one per hour for 24 hours (the newest of each hour), one per day.
  CHECK(kept(plan, std::to_string(now)));
  CHECK(kept(plan, std::to_string(now - 55 * minute)));
  CHECK_FALSE(kept(plan, std::to_string(now - 60 * minute)));  // not newest of its hour, not in the last 12
  CHECK(kept(plan, std::to_string(now - hour - 5 * minute)));   // newest of the hour before
  CHECK(kept(plan, std::to_string(monday + day - 5 * minute)));  // newest of Monday
  CHECK(kept(plan, std::to_string(monday + 2 * day - 5 * minute)));  // newest of Tuesday
  CHECK_FALSE(kept(plan, std::to_string(monday + 12 * hour + 5 * minute)));
  // 12 last + 23 more hours + Monday's newest (Tuesday's newest is among the hourly)
  CHECK(plan.keep.size() == 12 + 23 + 1);
  for (const auto& id : plan.keep) CHECK_FALSE(plan.reasons.at(id).empty());
}

TEST_CASE("weekly keeps the newest of each ISO week") {
  kdr::core::RetentionPolicy p{0, 0, 0, 4};
  const auto now = monday + 28 * day - 1;
  auto plan = plan_retention(every(day, monday - 14 * day, now), p, now);
  // weeks start on Monday: Sundays are the newest of their weeks.
  CHECK(kept(plan, std::to_string(monday + 27 * day)));
  CHECK(kept(plan, std::to_string(monday + 20 * day)));
  CHECK(kept(plan, std::to_string(monday + 13 * day)));
  CHECK(kept(plan, std::to_string(monday + 6 * day)));
  CHECK_FALSE(kept(plan, std::to_string(monday - 1 * day)));  // older than 4 weeks
  CHECK(plan.keep.size() == 4);
}

TEST_CASE("the newest complete generation is always kept, and preferred within its period") {
  kdr::core::RetentionPolicy p{1, 1, 0, 0};
  std::vector<RetentionCandidate> c = {
      {"a", monday + 10 * minute, true, true, ""},
      {"b", monday + 20 * minute, false, true, ""},  // partial (no etcd snapshot)
      {"c", monday + 30 * minute, false, true, ""},
  };
  auto plan = plan_retention(c, p, monday + 40 * minute);
  CHECK(kept(plan, "c"));  // last 1
  CHECK(kept(plan, "a"));  // newest complete, and the hour's pick
  CHECK_FALSE(kept(plan, "b"));
}

TEST_CASE("nothing is removed when every rule is zero but one complete generation exists") {
  kdr::core::RetentionPolicy p{0, 0, 0, 0};
  auto plan = plan_retention(every(hour, monday, monday + 3 * hour), p, monday + 4 * hour);
  CHECK(plan.keep == std::vector<std::string>{std::to_string(monday + 3 * hour)});
}

TEST_CASE("generations kdr cannot read are left alone") {
  kdr::core::RetentionPolicy p{1, 0, 0, 0};
  std::vector<RetentionCandidate> c = {{"x", 0, false, false, ""}, {"y", monday, true, true, ""}, {"z", monday + 1, true, true, ""}};
  auto plan = plan_retention(c, p, monday + 2);
  CHECK(kept(plan, "x"));
  CHECK(kept(plan, "z"));
  CHECK(plan.remove == std::vector<std::string>{"y"});
}

TEST_CASE("a kept journal-covered generation keeps the full snapshot it extends") {
  kdr::core::RetentionPolicy p{3, 0, 0, 0};
  // a full snapshot at the start of the hour, then runs every 5 minutes that extend it
  auto candidates = every(5 * minute, monday, monday + hour);
  for (std::size_t i = 1; i < candidates.size(); ++i) candidates[i].extends = std::to_string(monday);
  auto plan = plan_retention(candidates, p, monday + hour);
  CHECK(kept(plan, std::to_string(monday + hour)));
  CHECK(kept(plan, std::to_string(monday)));  // the base, though older than the last 3
  CHECK(plan.keep.size() == 4);
  CHECK_THAT(plan.reasons.at(std::to_string(monday)).front(), Catch::Contains("extends"));
  // without the runs that need it, it goes
  for (auto& c : candidates) c.extends.clear();
  CHECK_FALSE(kept(plan_retention(candidates, p, monday + hour), std::to_string(monday)));
}
