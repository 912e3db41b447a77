// kdr verify [GENERATION] [--no-live | --live-only] [--key-file PATH]
#include "cli/command.hpp"
#include "verify/verify.hpp"
#include "verify/verify_metrics.hpp"

namespace kdr::cli {

Command verify_command() {
  auto options = std::make_shared<verify::VerifyOptions>();
  auto no_live = std::make_shared<bool>(false);
  Command c;
  c.name = "verify";
  c.help = "check a generation: integrity, against the live node, etcd snapshot, certificates";
  c.add_options = [options, no_live](CLI::App& sub) {
    sub.add_option("generation", options->generation, "generation id, a unique prefix of one, or latest")
        ->capture_default_str();
    auto* nl = sub.add_flag("--no-live", *no_live, "skip the comparison with the live node");
    sub.add_flag("--live-only", options->live_only,
                 "only compare the generation with the live node (no integrity, snapshot or certificate checks)")
        ->excludes(nl);
    sub.add_option("--key-file", options->key_file,
                   "authenticate with this saved node key instead of the node's key_file (a replacement machine)");
  };
  c.run = [options, no_live](const core::Context& ctx) {
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
