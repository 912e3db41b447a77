// kdr list
#include <nlohmann/json.hpp>

#include "cli/command.hpp"
#include "core/repository.hpp"

namespace kdr::cli {

Command list_command() {
  Command c;
  c.name = "list";
  c.help = "list the generations in the backup folder";
  c.add_options = [](CLI::App&) {};
  c.run = [](const core::Context& ctx) {
    auto repo = core::Repository::open(ctx.backup_dir);
    const auto all = repo.generations();
    const auto latest = repo.latest_id();
    if (ctx.out.json()) {
      auto arr = nlohmann::json::array();
      for (const auto& g : all) {
        nlohmann::json j = g.meta ? g.meta->to_json() : nlohmann::json{{"id", g.id}, {"problem", g.problem}};
        j["latest"] = latest && *latest == g.id;
        arr.push_back(j);
      }
      ctx.out.raw(arr.dump(2));
      return core::ExitCode::ok;
    }
    if (all.empty()) {
      ctx.out.info("no generations in {}", ctx.backup_dir.string());
      return core::ExitCode::ok;
    }
    ctx.out.info("{:<22} {:<20} {:<9} {:>7} {:>10} {:>10} {:>5}", "GENERATION", "TIME (UTC)", "STATUS", "FILES",
                 "SIZE", "NEW", "WARN");
    for (const auto& g : all) {
      const char* mark = latest && *latest == g.id ? "  <- latest" : "";
      if (!g.meta) {
        ctx.out.info("{:<22} {}", g.id, "UNREADABLE: " + g.problem);
        continue;
      }
      const auto& m = *g.meta;
      std::string when = m.started;
      if (when.size() == 20) when = when.substr(0, 10) + " " + when.substr(11, 8);
      ctx.out.info("{:<22} {:<20} {:<9} {:>7} {:>10} {:>10} {:>5}{}", m.id, when, core::to_string(m.status), m.files,
                   human_bytes(m.bytes_total), human_bytes(m.bytes_copied), m.warnings.size(), mark);
    }
    return core::ExitCode::ok;
  };
  return c;
}

}  // namespace kdr::cli
