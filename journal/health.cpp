#include "journal/health.hpp"

#include <chrono>

#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/metrics.hpp"
#include "etcd/client.hpp"

namespace kdr::journal {

namespace {

std::string duration_text(double s) {
  if (s < 120) return fmt::format("{:.0f} s", s);
  if (s < 7200) return fmt::format("{:.0f} min", s / 60);
  return fmt::format("{:.1f} h", s / 3600);
}

}  // namespace

std::int64_t wall_clock_ms() {
  return core::now_epoch_ms();
}

FollowerHealth judge_follower(const JournalStatus& status, std::int64_t now_ms,
                              std::optional<std::int64_t> etcd_revision, double stalled_after_s) {
  FollowerHealth h;
  if (!status.exists) {
    h.text = "no journal";
    return h;
  }
  h.etcd_revision = etcd_revision;
  if (status.state) {
    h.position = status.state->position;
    h.silent_s = status.state->updated_ms > 0 ? static_cast<double>(now_ms - status.state->updated_ms) / 1000.0 : 0;
  }
  if (etcd_revision) h.lag_revisions = std::max<std::int64_t>(0, *etcd_revision - h.position);
  const auto lag = etcd_revision ? fmt::format("; etcd is at revision {}, {} revision(s) ahead of the journal",
                                               *etcd_revision, h.lag_revisions)
                                 : std::string("; etcd did not answer");
  if (status.follower.empty()) {
    h.kind = FollowerHealth::Kind::dead;
    h.text = status.state
                 ? fmt::format("no follower runs: the last one wrote its state {} ago ({}), at revision {}{}",
                               duration_text(h.silent_s), status.state->state, h.position, lag)
                 : fmt::format("no follower has run{}", lag);
    return h;
  }
  if (status.state && h.silent_s > stalled_after_s) {
    h.kind = FollowerHealth::Kind::stalled;
    h.text = fmt::format("the follower ({}) holds the journal but has written nothing for {} (stopped, or stuck on "
                         "the disk), at revision {}{}",
                         status.follower, duration_text(h.silent_s), h.position, lag);
    return h;
  }
  if (status.state && status.state->state == "etcd-rewound") {
    h.kind = FollowerHealth::Kind::etcd_went_back;
    h.text = fmt::format("the follower ({}) journals nothing: {}", status.follower, status.state->message);
    return h;
  }
  h.kind = FollowerHealth::Kind::running;
  h.text = fmt::format("the follower runs ({}), at revision {}{}", status.follower, h.position, lag);
  return h;
}

std::optional<std::int64_t> live_etcd_revision(const etcd::EtcdEndpoint& endpoint) {
  try {
    etcd::EtcdClient client(endpoint, std::chrono::milliseconds(2000));
    return client.status().revision;
  } catch (const core::Error&) {
    return std::nullopt;
  }
}

void write_health_metrics(const core::Context& ctx, const JournalStatus& status, const FollowerHealth& health) {
  // a running follower writes its own, one that waits for etcd too
  if (health.ok() || health.kind == FollowerHealth::Kind::etcd_went_back) return;
  core::MetricsText m;
  m.gauge("kdr_journal_up", "1 while kdr journal run follows etcd, 0 once it stopped", 0);
  const auto state = health.kind == FollowerHealth::Kind::stalled ? "stalled" : "stopped";
  for (const char* s : follower_states)
    m.gauge("kdr_journal_state", "The follower's state (1 for the current one)", std::string_view(s) == state ? 1 : 0,
            fmt::format("state=\"{}\"", s));
  m.gauge("kdr_journal_position_revision", "Every change up to this etcd revision is in the journal",
          static_cast<double>(health.position));
  m.gauge("kdr_journal_lag_revisions", "etcd revisions not yet in the journal", static_cast<double>(health.lag_revisions));
  m.gauge("kdr_journal_lag_seconds", "How long the journal has been behind etcd", health.silent_s);
  m.gauge("kdr_journal_updated_timestamp_seconds", "When the follower last wrote its state",
          status.state ? static_cast<double>(status.state->updated_ms) / 1000.0 : 0.0);
  core::write_metrics(ctx, "kdr_journal.prom", m);
}

}  // namespace kdr::journal
