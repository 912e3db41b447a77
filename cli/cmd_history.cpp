// kdr history RESOURCE/NAME [-n NS]: every change of one object in the change journal, with the
// field manager that made it and a field-level diff per change (objects/history.hpp).
#include <memory>

#include "cli/command.hpp"
#include "objects/history.hpp"

namespace kdr::cli {

namespace {

struct HistoryArgs {
  std::string resource, name, namespace_;
};

}  // namespace

Command history_command() {
  auto a = std::make_shared<HistoryArgs>();
  Command c;
  c.name = "history";
  c.help = "every change of one Kubernetes object in the change journal: when, by whom, what changed";
  c.add_options = [a](CLI::App& sub) {
    sub.add_option("resource", a->resource, "RESOURCE/NAME (deploy/api), or RESOURCE with NAME after it")->required();
    sub.add_option("name", a->name, "the object's name");
    sub.add_option("-n,--namespace", a->namespace_, "its namespace (default: default)");
  };
  c.run = [a](const core::Context& ctx) {
    const auto q = objects::make_query(a->resource, a->name, a->namespace_, false, "");
    objects::print_history(ctx, q, objects::object_history(ctx, q));
    return core::ExitCode::ok;
  };
  return c;
}

}  // namespace kdr::cli
