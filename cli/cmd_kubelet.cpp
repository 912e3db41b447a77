// kdr kubelet restart | check: the kubelets after a restore that replaced etcd's data.
//   restart: this node's kubelet, with the config's kubelet.restart (restore-etcd-cluster runs
//            it over SSH on the nodes: ones); under --root the built-in systemctl command is
//            refused (exit 2): it would restart this machine's kubelet, not the sandbox's.
//   check:   the live etcd's nodes, whether their kubelets answer, the pods bound to the silent
//            ones and the pods kubelets run that etcd lacks (what the check-nodes step reports);
//            exit 3 when any of that is found.
#include <fmt/format.h>

#include "cli/command.hpp"
#include "restore/kubelets.hpp"

namespace kdr::cli {

namespace {

struct KubeletArgs {
  std::string action;
};

core::ExitCode restart(const core::Context& ctx) {
  const auto r = restore::restart_local_kubelet(ctx);
  if (!r.ran) throw core::UsageError(fmt::format("{}: {}", r.command, r.text));
  if (!r.ok) throw core::Error(fmt::format("{}: {}", r.command, r.text));
  ctx.out.info("kubelet restarted ({})", r.command);
  return core::ExitCode::ok;
}

core::ExitCode check(const core::Context& ctx) {
  const auto objects = restore::read_cluster_objects(ctx);
  const auto checks = restore::check_nodes(ctx, objects);
  bool found = !objects.problems.empty();
  for (const auto& p : objects.problems) ctx.out.warn("not read: {}", p);
  if (ctx.out.json()) {
    ctx.out.raw(nlohmann::json{{"nodes", restore::node_checks_json(checks)}, {"problems", objects.problems}}.dump(2));
    for (const auto& line : restore::node_check_lines(checks)) found = found || line.warning;
  } else {
    for (const auto& line : restore::node_check_lines(checks)) {
      found = found || line.warning;
      if (line.warning) ctx.out.warn("{}", line.text);
      else ctx.out.info("{}", line.text);
    }
  }
  return found ? core::ExitCode::partial : core::ExitCode::ok;
}

}  // namespace

Command kubelet_command() {
  Command c;
  c.name = "kubelet";
  c.help = "the kubelets after a restore: restart this node's, check every node's pods (kubelet restart|check)";
  auto args = std::make_shared<KubeletArgs>();
  c.add_options = [args](CLI::App& sub) {
    sub.add_subcommand("restart", "restart this node's kubelet (config kubelet.restart)")
        ->callback([args] { args->action = "restart"; });
    sub.add_subcommand("check", "the nodes etcd lists: which kubelets answer, the pods bound to the silent ones, the "
                                "pods kubelets run that etcd lacks")
        ->callback([args] { args->action = "check"; });
    sub.require_subcommand(1);
  };
  c.run = [args](const core::Context& ctx) { return args->action == "restart" ? restart(ctx) : check(ctx); };
  return c;
}

}  // namespace kdr::cli
