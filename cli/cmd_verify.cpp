// kdr verify [GENERATION] [--no-live | --live-only] [--key-file PATH]
// kdr verify --restore-test [POINT]   (POINT in GENERATION's place)
#include "cli/command.hpp"
#include "jobs/restore_test.hpp"
#include "verify/verify.hpp"
#include "verify/verify_metrics.hpp"

namespace kdr::cli {

Command verify_command() {
  auto options = std::make_shared<verify::VerifyOptions>();
  auto no_live = std::make_shared<bool>(false);
  auto restore_test = std::make_shared<bool>(false);
  Command c;
  c.name = "verify";
  c.help = "check a generation: integrity, against the live node, etcd snapshot, certificates";
  c.add_options = [options, no_live, restore_test](CLI::App& sub) {
    sub.add_option("generation", options->generation,
                   "generation id, a unique prefix of one, or latest (with --restore-test also a revision or a time)")
        ->capture_default_str();
    auto* nl = sub.add_flag("--no-live", *no_live, "skip the comparison with the live node");
    auto* live_only = sub.add_flag("--live-only", options->live_only,
                                   "only compare the generation with the live node (no integrity, snapshot or "
                                   "certificate checks)")
                          ->excludes(nl);
    sub.add_option("--key-file", options->key_file,
                   "authenticate with this saved node key instead of the node's key_file (a replacement machine)");
    sub.add_flag("--restore-test", *restore_test,
                 "prove the point restorable instead (GENERATION: latest, the newest generation and the journal to "
                 "its end; a generation; a revision; an RFC 3339 time): restored into a private etcd on the backup "
                 "disk, checked against the journal's digest, every object decoded and decrypted, then removed")
        ->excludes(live_only);
  };
  c.run = [options, no_live, restore_test](const core::Context& ctx) {
    if (*restore_test) {
      jobs::RestoreTestOptions o;
      o.point = options->generation;
      const auto report = jobs::run_restore_test(ctx, o);
      jobs::write_restore_test_metrics(ctx, report);
      jobs::print_restore_test(ctx, report);
      return report.exit_code();
    }
    auto opts = *options;
    opts.live = !*no_live;
    auto report = verify::run_verify(ctx, opts);
    verify::write_verify_metrics(ctx, report);
    verify::print_report(ctx, report);
    return report.exit_code();
  };
  return c;
}

}  // namespace kdr::cli
