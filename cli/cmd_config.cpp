// kdr config [--defaults]
#include <fmt/format.h>

#include "backup/backup_disk.hpp"
#include "cli/command.hpp"
#include "core/static_pods.hpp"
#include "etcd/layout.hpp"

namespace kdr::cli {

Command config_command() {
  auto defaults = std::make_shared<bool>(false);
  Command c;
  c.name = "config";
  c.help = "check the configuration and show where it comes from (--defaults: print the built-in defaults)";
  c.add_options = [defaults](CLI::App& sub) {
    sub.add_flag("--defaults", *defaults, "print the built-in defaults as a commented YAML file");
  };
  c.run = [defaults](const core::Context& ctx) {
    if (*defaults) {
      std::fputs(std::string(core::default_config_yaml()).c_str(), stdout);
      return core::ExitCode::ok;
    }
    const auto& cfg = ctx.config;
    ctx.out.info("configuration: {} (valid)", cfg.origin);
    ctx.out.info("backup folder: {}", ctx.backup_dir.string());
    {
      const auto scan = core::scan_static_pods(ctx.root, cfg.static_pod_path);
      const auto layout = etcd::detect_etcd_layout(cfg, ctx.root, scan);
      const auto disk = backup::backup_disk_facts(ctx, layout.local() ? layout.data_dir : std::string());
      for (const auto& l : backup::backup_disk_lines(
               disk, backup::judge_backup_disk(disk, cfg.backup_disk, !ctx.root.is_real_root())))
        ctx.out.info("  {}", l);
    }
    ctx.out.info("node root:     {}", ctx.root.root().string());
    ctx.out.info("retention:     last {}, hourly {}, daily {}, weekly {}", cfg.retention.keep_last,
                 cfg.retention.hourly, cfg.retention.daily, cfg.retention.weekly);
    if (cfg.nodes.empty())
      ctx.out.info("other nodes:   none (restore-etcd-cluster prints the commands for each)");
    for (const auto& n : cfg.nodes)
      ctx.out.info("other node:    {} over ssh {} port {}, kdr there: {}", n.name, n.ssh, n.port, fmt::join(n.kdr, " "));
    return core::ExitCode::ok;
  };
  return c;
}

}  // namespace kdr::cli
