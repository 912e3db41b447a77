#include "verify/journal_check.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "etcd/tool.hpp"
#include "journal/health.hpp"
#include "journal/inspect.hpp"

namespace kdr::verify {

std::optional<JournalFacts> check_journal(const core::Context& ctx, bool live, const core::NodeKey* key,
                                          Findings& findings) {
  const journal::JournalStore store(ctx.backup_dir);
  if (!store.exists()) return std::nullopt;
  JournalFacts facts;
  const auto where = store.dir().string();
  journal::JournalStatus status;
  try {
    status = journal::journal_status(store);
  } catch (const core::Error& e) {
    findings.add(Severity::error, "journal", "unreadable", where, e.what());
    return facts;
  }
  facts.epochs = static_cast<std::uint32_t>(status.epochs.size());
  facts.gaps = status.gaps.size();
  facts.follower_running = !status.follower.empty();
  if (status.state) facts.position = status.state->position;
  // A gap stays in the history until retention removes it; verify names those of the last day
  // (kdr journal status lists them all).
  const auto day_ago_ms = (core::now_epoch() - 86400) * 1000;
  for (const auto& g : status.gaps) {
    const auto it = std::find_if(status.epochs.begin(), status.epochs.end(),
                                 [&](const journal::EpochSummary& e) { return e.info.number == g.epoch; });
    if (it == status.epochs.end() || it->info.started_ms < day_ago_ms || g.new_cluster()) continue;
    findings.add(Severity::warning, "journal", "gap", (store.dir() / fmt::format("epoch-{:06}", g.epoch)).string(),
                 fmt::format("{} ({}); no point between can be restored", g.text(), g.reason));
  }
  if (live) {
    // Whether a follower does its job, asked of etcd and the journal's lock, not of the
    // follower's own last word (a dead or hung one leaves "following" behind).
    std::optional<std::int64_t> revision;
    try {
      revision = journal::live_etcd_revision(etcd::node_etcd_endpoint(ctx));
    } catch (const core::Error&) {
    }
    const auto health = journal::judge_follower(status, journal::wall_clock_ms(), revision, ctx.config.journal.stalled_after_s);
    if (health.kind == journal::FollowerHealth::Kind::dead || health.kind == journal::FollowerHealth::Kind::stalled)
      findings.add(Severity::error, "journal", health.kind == journal::FollowerHealth::Kind::dead ? "not-running" : "stalled",
                   where,
                   fmt::format("{}: changes since revision {} are only in the next full backup (systemctl restart "
                               "kdr-journal, or kdr journal start)",
                               health.text, facts.position));
    else if (health.kind == journal::FollowerHealth::Kind::etcd_went_back)
      findings.add(Severity::error, "journal", "etcd-went-back", where,
                   fmt::format("{} (docs/runbook.md, the row \"lost data dir\")", status.state->message));
    else if (health.lag_revisions > 0 && status.state && status.state->lag_seconds > 10)
      findings.add(Severity::warning, "journal", "lag", where,
                   fmt::format("the journal is {:.0f} s and {} revisions behind etcd ({})", status.state->lag_seconds,
                               health.lag_revisions, status.state->state));
  }
  // The segment being written and the newest closed one: what changed since the last look.
  if (!status.epochs.empty()) {
    const auto segments = store.segments(status.epochs.back().info);
    const std::size_t from = segments.size() > 2 ? segments.size() - 2 : 0;
    for (std::size_t i = from; i < segments.size(); ++i) {
      try {
        const auto scan = journal::scan_segment(segments[i].path, key);
        if (scan.auth == core::AuthStatus::forged)
          findings.add(Severity::error, "journal", "forged", segments[i].path.string(), scan.auth_text);
        else if (scan.auth != core::AuthStatus::authentic)
          findings.add(Severity::warning, "journal", "unauthenticated", segments[i].path.string(),
                       scan.auth_text + "; a restore from it asks for the node's key or unauthenticated=true");
        for (const auto& p : scan.problems)
          findings.add(Severity::error, "journal", "damaged", segments[i].path.string(), p);
        if (scan.tail == journal::TailState::damaged ||
            (scan.tail == journal::TailState::torn && !segments[i].name.open()))
          findings.add(Severity::error, "journal", "damaged", segments[i].path.string(), scan.tail_problem);
      } catch (const core::Error& e) {
        findings.add(Severity::error, "journal", "unreadable", segments[i].path.string(), e.what());
      }
    }
  }
  return facts;
}

}  // namespace kdr::verify
