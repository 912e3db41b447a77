#include "offsite/push_state.hpp"

#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/fs.hpp"
#include "core/json_util.hpp"
#include "core/metrics.hpp"
#include "core/repository.hpp"

namespace kdr::offsite {

namespace {

core::bfs::path state_file(const core::Context& ctx) { return ctx.root.host(ctx.config.state_dir) / "offsite.json"; }

void write_push_state(const core::Context& ctx, const PushState& s) {
  const nlohmann::json j = {{"last_attempt", s.last_attempt},
                            {"last_success", s.last_success},
                            {"last_problem", s.last_problem},
                            {"last_exit_code", s.last_exit_code},
                            {"newest_generation", s.newest_generation},
                            {"newest_generation_time", s.newest_generation_time},
                            {"last_bytes_added", s.last_bytes_added},
                            {"bytes_added_total", s.bytes_added_total},
                            {"journal_position", s.journal_position},
                            {"journal_pushed", s.journal_pushed},
                            {"repository", s.repository},
                            {"listed", s.listed}};
  core::make_dirs(state_file(ctx).parent_path(), 0700);
  core::write_file_atomic(state_file(ctx), j.dump(2) + "\n", 0600);
}

void write_offsite_metrics(const core::Context& ctx, const PushState& s) {
  core::MetricsText m;
  m.gauge("kdr_offsite_last_push_timestamp_seconds", "When kdr last tried to push generations off site.",
          static_cast<double>(s.last_attempt));
  m.gauge("kdr_offsite_last_push_exit_code", "Exit code of the last push (0 ok; 20 unreachable, 21 denied, 22 locked, "
                                             "23 full; see kdr --help).",
          s.last_exit_code);
  m.gauge("kdr_offsite_last_success_timestamp_seconds", "When a push last succeeded.",
          static_cast<double>(s.last_success));
  m.gauge("kdr_offsite_newest_generation_timestamp_seconds", "Start time of this node's newest generation off site.",
          static_cast<double>(s.newest_generation_time));
  m.gauge("kdr_offsite_last_push_bytes_added", "Bytes the last push stored anew off site (after deduplication).",
          static_cast<double>(s.last_bytes_added));
  m.gauge("kdr_offsite_bytes_added_total", "Bytes every push so far stored anew off site.",
          static_cast<double>(s.bytes_added_total));
  if (s.journal_pushed > 0) {
    m.gauge("kdr_offsite_journal_position_revision", "The change journal off site holds every change up to this "
                                                     "revision.",
            static_cast<double>(s.journal_position));
    m.gauge("kdr_offsite_journal_pushed_timestamp_seconds", "When the change journal last went off site.",
            static_cast<double>(s.journal_pushed));
  }
  if (!s.last_problem.empty())
    m.gauge("kdr_offsite_push_problem", "1 for the problem of the last failed push.", 1,
            fmt::format("problem=\"{}\"", s.last_problem));
  core::write_metrics(ctx, "kdr_offsite.prom", m);
}

}  // namespace

PushState read_push_state(const core::Context& ctx) {
  PushState s;
  try {
    const auto j = nlohmann::json::parse(core::read_file(state_file(ctx)));
    s.last_attempt = j.value("last_attempt", std::int64_t{0});
    s.last_success = j.value("last_success", std::int64_t{0});
    s.last_problem = core::json_text_or(j, "last_problem");
    s.last_exit_code = j.value("last_exit_code", 0);
    s.newest_generation = core::json_text_or(j, "newest_generation");
    s.newest_generation_time = j.value("newest_generation_time", std::int64_t{0});
    s.last_bytes_added = j.value("last_bytes_added", std::uint64_t{0});
    s.bytes_added_total = j.value("bytes_added_total", std::uint64_t{0});
    s.journal_position = j.value("journal_position", std::int64_t{0});
    s.journal_pushed = j.value("journal_pushed", std::int64_t{0});
    s.repository = core::json_text_or(j, "repository");
    s.listed = j.value("listed", std::int64_t{0});
  } catch (const std::exception&) {
    // none yet, or unreadable: as if no push had run
  }
  return s;
}

bool push_due(const core::Context& ctx, const PushState& state) {
  const auto& o = ctx.config.offsite;
  if (!o.configured() || o.push == "manual") return false;
  if (o.push == "after-backup") return true;
  return core::now_epoch() - state.last_success >= static_cast<std::int64_t>(o.push_every_minutes) * 60;
}

void record_new_repository(const core::Context& ctx, const std::string& repository) {
  auto state = read_push_state(ctx);
  state.repository = repository;
  state.listed = core::now_epoch();
  state.last_exit_code = 0;
  state.last_problem.clear();
  state.newest_generation.clear();
  state.newest_generation_time = 0;
  state.journal_position = 0;
  write_push_state(ctx, state);
}

PushResult push_and_record(const core::Context& ctx, const std::string& only) {
  auto state = read_push_state(ctx);
  state.last_attempt = core::now_epoch();
  try {
    const Restic restic(ctx);
    std::optional<OffsiteTip> known;
    if (state.last_exit_code == 0 && state.repository == restic.repository() &&
        state.last_attempt - state.listed < relist_seconds)
      known = OffsiteTip{state.newest_generation, state.journal_position};
    auto result = push(ctx, restic, only, known);
    state.last_success = state.last_attempt;
    state.last_problem.clear();
    state.last_exit_code = 0;
    state.last_bytes_added = result.bytes_added;
    state.bytes_added_total += result.bytes_added;
    state.repository = restic.repository();
    if (result.listed) state.listed = state.last_attempt;
    if (result.tip.newest_generation != state.newest_generation) {
      state.newest_generation = result.tip.newest_generation;
      state.newest_generation_time = 0;
      try {
        const auto entry = core::Repository::open(ctx.backup_dir).find(state.newest_generation);
        if (entry.meta) state.newest_generation_time = entry.meta->time;
      } catch (const core::Error&) {
        // not in this backup folder any more: its time is unknown
      }
    }
    state.journal_position = result.tip.journal_position;
    if (result.journal_position) {
      state.journal_position = *result.journal_position;
      state.journal_pushed = state.last_attempt;
    }
    write_push_state(ctx, state);
    write_offsite_metrics(ctx, state);
    return result;
  } catch (const OffsiteError& e) {
    state.last_problem = std::string(to_string(e.problem()));
    state.last_exit_code = core::to_int(e.code());
    write_push_state(ctx, state);
    write_offsite_metrics(ctx, state);
    throw;
  } catch (const core::Error& e) {
    state.last_problem = "failed";
    state.last_exit_code = core::to_int(e.code());
    write_push_state(ctx, state);
    write_offsite_metrics(ctx, state);
    throw;
  }
}

}  // namespace kdr::offsite
