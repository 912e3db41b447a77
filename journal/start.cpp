#include "journal/start.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/repository.hpp"
#include "core/wait.hpp"
#include "journal/inspect.hpp"
#include "journal/store.hpp"

namespace kdr::journal {

std::vector<std::string> follower_argv(const core::Context& ctx) {
  auto args = core::kdr_argv(ctx);
  args[0] = core::read_link("/proc/self/exe").value_or("/usr/bin/kdr");
  args.insert(args.end(), {"journal", "run"});
  return args;
}

core::ExitCode start_follower(const core::Context& ctx, const std::vector<std::string>& run_argv,
                              std::chrono::milliseconds wait) {
  const JournalStore store(ctx.backup_dir);
  if (auto s = journal_status(store); !s.follower.empty()) {
    ctx.out.detail("the journal already runs: {}", s.follower);
    return core::ExitCode::ok;
  }
  core::Repository::open_or_create(ctx.backup_dir);
  store.create();
  // The follower's log, 0600 like everything kdr writes (a follower prints keys it saw).
  const auto log = store.dir() / "follower.log";
  if (!core::lstat_path(log)) core::write_file_atomic(log, "", 0600);
  ctx.programs->spawn_detached(run_argv, log);
  std::string follower;
  const auto started = core::wait_until(
      {.timeout_s = static_cast<double>(wait.count()) / 1000.0},
      [&]() -> std::optional<std::string> {
        follower = journal_status(store).follower;
        if (!follower.empty()) return std::nullopt;
        return std::string("no follower holds the journal yet");
      });
  if (!started.done)
    throw core::Error(fmt::format("the journal did not start within {:.0f} s: see {}",
                                  static_cast<double>(wait.count()) / 1000.0, log.string()));
  ctx.out.info("journal started: {} (log: {})", follower, log.string());
  return core::ExitCode::ok;
}

}  // namespace kdr::journal
