#include "offsite/locks.hpp"

#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "core/json_util.hpp"

namespace kdr::offsite {

std::optional<std::int64_t> parse_rfc3339(const std::string& text) {
  // 2026-11-28T23:36:23.717569371Z or ...+01:00
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &consumed) != 6)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::int64_t seconds = ::timegm(&tm);
  auto rest = text.substr(static_cast<std::size_t>(consumed));
  if (!rest.empty() && rest.front() == '.') {
    const auto end = rest.find_first_not_of("0123456789", 1);
    rest = end == std::string::npos ? std::string() : rest.substr(end);
  }
  if (rest == "Z" || rest == "z") return seconds;
  int hours = 0, minutes = 0;
  if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') &&
      std::sscanf(rest.c_str() + 1, "%2d:%2d", &hours, &minutes) == 2) {
    const std::int64_t offset = hours * 3600 + minutes * 60;
    return rest[0] == '+' ? seconds - offset : seconds + offset;
  }
  return std::nullopt;
}

std::optional<ResticLock> parse_lock(const std::string& id, const std::string& json_text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  if (!j.is_object() || !j.contains("pid") || !j["pid"].is_number_integer()) return std::nullopt;
  ResticLock lock;
  lock.id = id;
  lock.time = parse_rfc3339(core::json_text_or(j, "time")).value_or(0);
  lock.exclusive = j.contains("exclusive") && j["exclusive"].is_boolean() && j["exclusive"].get<bool>();
  lock.hostname = core::json_text_or(j, "hostname");
  lock.username = core::json_text_or(j, "username");
  lock.pid = j["pid"].get<int>();
  return lock;
}

LockKind kind_of(const ResticLock& lock, const core::Host& host) {
  if (lock.hostname != host.hostname()) return LockKind::other_host;
  return host.process_alive(lock.pid) ? LockKind::own_running : LockKind::own_stale;
}

std::string describe(const ResticLock& lock, std::int64_t now) {
  const auto age = std::max<std::int64_t>(0, now - lock.time);
  const auto age_text = age < 120 ? fmt::format("{} s old", age) : fmt::format("{} min old", age / 60);
  return fmt::format("lock {}: PID {} on {} ({}), {}, {}", lock.id.substr(0, 8), lock.pid, lock.hostname,
                     lock.username, lock.exclusive ? "exclusive" : "shared", age_text);
}

std::vector<ResticLock> list_locks(const Restic& restic) {
  const auto ids = restic.run({"list", "locks", "--no-lock"}, std::chrono::minutes(5));
  std::vector<ResticLock> out;
  std::size_t at = 0;
  while (at < ids.out.size()) {
    auto nl = ids.out.find('\n', at);
    if (nl == std::string::npos) nl = ids.out.size();
    const auto id = ids.out.substr(at, nl - at);
    at = nl + 1;
    if (id.empty()) continue;
    try {
      const auto one = restic.run({"cat", "lock", id, "--no-lock"}, std::chrono::minutes(5));
      if (auto lock = parse_lock(id, one.out)) out.push_back(*lock);
    } catch (const OffsiteError&) {
      // removed in between by its holder
    }
  }
  return out;
}

UnlockOutcome remove_own_stale_locks(const core::Context& ctx, const Restic& restic) {
  UnlockOutcome outcome;
  const auto now = core::now_epoch();
  bool unlock_would_take_more = false;
  std::vector<ResticLock> own_stale;
  for (const auto& lock : list_locks(restic)) {
    const auto kind = kind_of(lock, *ctx.host);
    if (kind == LockKind::own_stale) {
      own_stale.push_back(lock);
      continue;
    }
    outcome.kept.push_back(lock);
    // A minute's margin for the clocks of the two hosts.
    if (now - lock.time >= restic_stale_seconds - 60) unlock_would_take_more = true;
  }
  if (!own_stale.empty() && unlock_would_take_more) {
    outcome.why = "restic unlock would also remove another client's lock older than 30 min; kdr removes only "
                  "this host's";
    outcome.kept.insert(outcome.kept.end(), own_stale.begin(), own_stale.end());
    return outcome;
  }
  if (own_stale.empty()) return outcome;
  restic.run({"unlock"}, std::chrono::minutes(5));
  outcome.removed = own_stale;
  for (const auto& lock : own_stale)
    ctx.out.info("removed this host's stale restic lock ({}: its process is gone)", describe(lock, now));
  return outcome;
}

}  // namespace kdr::offsite
