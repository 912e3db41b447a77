// kdr list: the generations, newest last, with what is known of each: its etcd snapshot, its
// last verify, its last restore test.
#include <nlohmann/json.hpp>

#include "cli/command.hpp"
#include "core/error.hpp"
#include "core/repository.hpp"
#include "jobs/restore_proof.hpp"

namespace kdr::cli {

namespace {
// "rev 1234", "journal 1300" (the change journal covers it), "NONE" (the snapshot failed),
// "off" (disabled), "-" (older generations)
std::string snapshot_column(const core::GenerationMeta& m) {
  const auto& etcd = m.etcd;
  if (!etcd.recorded) return "-";
  if (etcd.snapshot) return fmt::format("rev {}", etcd.snapshot->revision);
  if (etcd.journal) return fmt::format("journal {}", etcd.journal->revision);
  return etcd.snapshot_disabled ? "off" : "NONE";
}
// "ok", "4 err", "1 warn", "-" (never verified)
std::string verified_column(const core::Repository& repo, const std::string& id) {
  try {
    const auto j = nlohmann::json::parse(core::read_backup_file(repo.verify_result_path(id)));
    const auto errors = j.value("errors", 0), warnings = j.value("warnings", 0);
    if (errors > 0) return fmt::format("{} err", errors);
    if (warnings > 0) return fmt::format("{} warn", warnings);
    return "ok";
  } catch (const std::exception&) {
    return "-";
  }
}

// The last restore test: "yes", "FAILED", "forged" (a proof this node did not sign), "-" (never)
std::string proven_column(const std::optional<jobs::RestoreProof>& proof) {
  if (!proof) return "-";
  if (proof->auth == core::AuthStatus::forged) return "forged";
  if (proof->auth != core::AuthStatus::authentic) return "unchecked";
  return proof->success ? "yes" : "FAILED";
}

}  // namespace

Command list_command() {
  Command c;
  c.name = "list";
  c.help = "list the generations in the backup folder";
  c.add_options = [](CLI::App&) {};
  c.run = [](const core::Context& ctx) {
    auto repo = core::Repository::open(ctx.backup_dir);
    const auto all = repo.generations();
    const auto latest = repo.latest_id();
    const auto key = core::node_key_if_any(ctx);
    const auto proof_of = [&](const std::string& id) { return jobs::read_proof(repo, id, key ? &*key : nullptr); };
    if (ctx.out.json()) {
      auto arr = nlohmann::json::array();
      for (const auto& g : all) {
        nlohmann::json j = g.meta ? g.meta->to_json() : nlohmann::json{{"id", g.id}, {"problem", g.problem}};
        j["latest"] = latest && *latest == g.id;
        const auto proof = proof_of(g.id);
        j["restore_test"] = proof ? proof->to_json() : nlohmann::json(nullptr);
        if (proof) j["restore_test"]["auth"] = proof->auth_text.empty() ? "authentic" : proof->auth_text;
        arr.push_back(j);
      }
      ctx.out.raw(arr.dump(2));
      return core::ExitCode::ok;
    }
    if (all.empty()) {
      ctx.out.info("no generations in {}", ctx.backup_dir.string());
      return core::ExitCode::ok;
    }
    ctx.out.info("{:<22} {:<20} {:<9} {:>7} {:>10} {:>10} {:<14} {:>5} {:<8} {:<9}", "GENERATION", "TIME (UTC)",
                 "STATUS", "FILES", "SIZE", "NEW", "ETCD SNAPSHOT", "WARN", "VERIFIED", "RESTORES");
    for (const auto& g : all) {
      const char* mark = latest && *latest == g.id ? "  <- latest" : "";
      if (!g.meta) {
        ctx.out.info("{:<22} {}", g.id, "UNREADABLE: " + g.problem);
        continue;
      }
      const auto& m = *g.meta;
      std::string when = m.started;
      if (when.size() == 20) when = when.substr(0, 10) + " " + when.substr(11, 8);
      ctx.out.info("{:<22} {:<20} {:<9} {:>7} {:>10} {:>10} {:<14} {:>5} {:<8} {:<9}{}", m.id, when,
                   core::to_string(m.status), m.files, human_bytes(m.bytes_total), human_bytes(m.bytes_copied),
                   snapshot_column(m), m.warnings.size(), verified_column(repo, m.id), proven_column(proof_of(m.id)),
                   mark);
      if (m.status == core::GenerationStatus::partial) ctx.out.info("{:<22} partial: {}", "", core::partial_reason(m));
    }
    return core::ExitCode::ok;
  };
  return c;
}

}  // namespace kdr::cli
