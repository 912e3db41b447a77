// kdr offsite init | push [GEN] | list [--json] [--node NAME|--all] | pull GEN|latest [--to DIR] [--node NAME] [--key-file PATH] [--unauthenticated]
//            | check [--subset S] | forget
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/command.hpp"
#include "core/error.hpp"
#include "offsite/offsite.hpp"
#include "offsite/push_state.hpp"

namespace kdr::cli {

namespace {

struct OffsiteFlags {
  std::string action;
  std::string generation;
  std::string to;
  std::string node;
  std::string key_file;
  bool unauthenticated = false;
  bool all_nodes = false;
  std::string subset;
};

core::ExitCode list(const core::Context& ctx, const offsite::Restic& restic, const OffsiteFlags& f) {
  const auto node = f.all_nodes ? std::string() : (f.node.empty() ? offsite::node_name(ctx) : f.node);
  const auto listing = offsite::list_all(restic, node);
  for (const auto& why : listing.refused) ctx.out.warn("{}", why);
  if (ctx.out.json()) {
    nlohmann::json out = {{"generations", nlohmann::json::array()}, {"journals", nlohmann::json::array()},
                          {"refused", listing.refused}};
    for (const auto& g : listing.generations) out["generations"].push_back(g.to_json());
    for (const auto& j : listing.journals) out["journals"].push_back(j.to_json());
    ctx.out.raw(out.dump(2));
    return core::ExitCode::ok;
  }
  if (listing.generations.empty() && listing.journals.empty()) {
    ctx.out.info("nothing of {} off site in {}", node.empty() ? std::string("any node") : "node " + node,
                 restic.repository());
    return core::ExitCode::ok;
  }
  ctx.out.info("{:<16} {:<22} {:<9} {:>10}  {:<5} {:<10} {}", "NODE", "GENERATION", "STATUS", "SIZE", "ETCD",
               "SNAPSHOT", "PUSHED");
  for (const auto& g : listing.generations)
    ctx.out.info("{:<16} {:<22} {:<9} {:>10}  {:<5} {:<10} {}", g.node, g.generation, g.status, human_bytes(g.bytes),
                 g.full ? "full" : "-", g.snapshot_id, g.time.substr(0, 19));
  for (const auto& j : listing.journals)
    ctx.out.info("{:<16} {:<22} {:<9} {:>10}  {:<5} {:<10} {}", j.node, "change journal", fmt::format("rev {}", j.position),
                 "", "", j.snapshot_id, j.time.substr(0, 19));
  return core::ExitCode::ok;
}

core::ExitCode check(const core::Context& ctx, const offsite::Restic& restic, const OffsiteFlags& f) {
  const auto subset = f.subset.empty() ? ctx.config.offsite.check_subset : f.subset;
  const auto res = restic.run({"check", "--read-data-subset=" + subset}, std::chrono::hours(12), {1});
  if (res.exit_code != 0) {
    ctx.out.error(fmt::format("restic check found problems in {}:\n{}", restic.repository(), res.out + res.err));
    return core::ExitCode::findings;
  }
  ctx.out.info("{}: the repository's structure and {} of its data read back without a problem", restic.repository(),
               subset);
  return core::ExitCode::ok;
}

}  // namespace

Command offsite_command() {
  auto f = std::make_shared<OffsiteFlags>();
  Command c;
  c.name = "offsite";
  c.help = "off-site copies through restic: init, push, list, pull, check, forget (config offsite:)";
  c.add_options = [f](CLI::App& sub) {
    sub.require_subcommand(1);
    sub.add_subcommand("init", "create the restic repository offsite.repository names, unless it is there")
        ->callback([f] { f->action = "init"; });
    auto* push = sub.add_subcommand("push", "send the generations not off site yet (the newest, and every one holding "
                                            "a full etcd snapshot) and the grown change journal, or GEN");
    push->add_option("generation", f->generation, "one generation: an id, a unique prefix, or latest");
    push->callback([f] { f->action = "push"; });
    auto* list = sub.add_subcommand("list", "what is off site: node, generation, status, size; the change journal");
    list->add_option("--node", f->node, "another node's generations (default: this node's)");
    list->add_flag("--all", f->all_nodes, "every node's generations");
    list->callback([f] { f->action = "list"; });
    auto* pull = sub.add_subcommand("pull", "bring a generation back from off site, checked, into the backup folder "
                                            "(with the full one it needs, and the journal when the folder has none)");
    pull->add_option("generation", f->generation, "a generation id, or latest")->required();
    pull->add_option("--to", f->to, "into this backup folder instead (made when missing)");
    pull->add_option("--node", f->node, "a generation of this node (default: this node)");
    pull->add_option("--key-file", f->key_file,
                     "authenticate with this saved key (the node's, kept off the node) instead of key_file");
    pull->add_flag("--unauthenticated", f->unauthenticated,
                   "publish a generation that no key here authenticates (never a forged one); a restore asks again");
    pull->callback([f] { f->action = "pull"; });
    auto* check = sub.add_subcommand("check", "restic check, reading a share of the data back");
    check->add_option("--subset", f->subset, "the share to read, e.g. 5% or 1/10 (default: offsite.check_subset)");
    check->callback([f] { f->action = "check"; });
    sub.add_subcommand("forget", "apply offsite.keep to this node's generations off site (restic forget --prune), "
                          "keeping the full generations kept ones need, and the newest journal")
        ->callback([f] { f->action = "forget"; });
  };
  c.run = [f](const core::Context& ctx) {
    if (f->action == "push") {
      offsite::push_and_record(ctx, f->generation);
      return core::ExitCode::ok;
    }
    const offsite::Restic restic(ctx);
    if (f->action == "init") {
      if (offsite::init_repository(ctx, restic)) offsite::record_new_repository(ctx, restic.repository());
      return core::ExitCode::ok;
    }
    if (f->action == "list") return list(ctx, restic, *f);
    if (f->action == "pull") {
      const auto node = f->node.empty() ? offsite::node_name(ctx) : f->node;
      const auto dir = f->to.empty() ? ctx.backup_dir : core::bfs::path(f->to);
      const auto pulled =
          offsite::pull(ctx, restic, f->generation, node, dir, offsite::PullTrust{f->key_file, f->unauthenticated});
      for (const auto& id : pulled.generations)
        ctx.out.info("generation {} of node {} is back in {}, checked against its own SHA256SUMS and manifest", id,
                     node, dir.string());
      if (!pulled.passed_over.empty())
        ctx.out.warn("passed over newer generation(s) that failed their checks: {}", fmt::join(pulled.passed_over, ", "));
      if (pulled.journal_position)
        ctx.out.info("the change journal of node {} is back in {}, up to revision {}", node,
                     (dir / "journal").string(), *pulled.journal_position);
      if (!pulled.journal_kept.empty()) ctx.out.info("{}", pulled.journal_kept);
      return core::ExitCode::ok;
    }
    if (f->action == "check") return check(ctx, restic, *f);
    offsite::forget(ctx, restic);
    return core::ExitCode::ok;
  };
  return c;
}

}  // namespace kdr::cli
