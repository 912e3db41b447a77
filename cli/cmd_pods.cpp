// kdr pods [--json] | stop NAME... [--wait S] | start NAME... [--wait S]
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/command.hpp"
#include "core/error.hpp"
#include "restore/held_pods.hpp"

namespace kdr::cli {

namespace {

struct PodsFlags {
  std::string action = "list";
  std::vector<std::string> names;
  double wait_s = 0;
};

core::ExitCode show_pods(const core::Context& ctx) {
  const auto pods = restore::list_pods(ctx);
  if (ctx.out.json()) {
    auto out = nlohmann::json::array();
    for (const auto& p : pods)
      out.push_back({{"name", p.name},
                     {"manifest", p.file},
                     {"place", restore::to_string(p.place)},
                     {"restore", p.restore_id},
                     {"running", p.processes}});
    ctx.out.raw(out.dump(2));
    return core::ExitCode::ok;
  }
  if (pods.empty()) ctx.out.info("no static pod manifest on this node ({})", ctx.config.static_pod_path);
  for (const auto& p : pods)
    ctx.out.info("{:<26} {:<8} {}{}  ({})", p.name, p.processes ? "running" : "stopped", restore::to_string(p.place),
                 p.restore_id.empty() ? "" : " " + p.restore_id, p.file);
  return core::ExitCode::ok;
}

core::ExitCode change_pods(const core::Context& ctx, const PodsFlags& f) {
  const bool stop = f.action == "stop";
  const auto changes = stop ? restore::stop_pods(ctx, f.names) : restore::start_pods(ctx, f.names);
  for (const auto& c : changes) ctx.out.info("{}", c.what);
  if (f.wait_s <= 0) return core::ExitCode::ok;
  const auto still = restore::wait_pods(ctx, f.names, stop, f.wait_s);
  if (!still.empty())
    throw core::Error(fmt::format("after {:.0f} s: {} (the manifests are where they were asked to be; is the kubelet "
                                  "running?)",
                                  f.wait_s, still));
  ctx.out.info("{} {}", fmt::join(f.names, ", "), stop ? "stopped" : "running");
  return core::ExitCode::ok;
}

}  // namespace

Command pods_command() {
  auto f = std::make_shared<PodsFlags>();
  Command c;
  c.name = "pods";
  c.help = "list the static pods; stop or start one outside a restore (its manifest held in kdr's state folder)";
  c.add_options = [f](CLI::App& sub) {
    for (const char* action : {"stop", "start"}) {
      auto* s = sub.add_subcommand(action, std::string(action) == "stop"
                                               ? "move the pods' manifests out of the static pod folder (the "
                                                 "kubelet stops them) into <state_dir>/held-pods"
                                               : "move the manifests kdr pods stop held back (the kubelet starts "
                                                 "them)");
      s->add_option("names", f->names, "pod names: etcd, kube-apiserver, kube-controller-manager, kube-scheduler")
          ->required();
      s->add_option("--wait", f->wait_s, "wait up to this many seconds until their processes are gone (stop) or "
                                         "run (start)");
      s->callback([f, action] { f->action = action; });
    }
  };
  c.run = [f](const core::Context& ctx) {
    if (f->action == "list") return show_pods(ctx);
    return change_pods(ctx, *f);
  };
  return c;
}

}  // namespace kdr::cli
