// kdr diff [--from POINT] [--to POINT] [-n NS] [RESOURCE[/NAME]] [--all]: the objects added,
// removed and changed between two points (objects/diff.hpp), field by field; --json for scripts.
#include <memory>

#include "cli/command.hpp"
#include "objects/diff.hpp"
#include "objects/point.hpp"
#include "objects/query.hpp"

namespace kdr::cli {

namespace {

struct DiffArgs {
  std::string from = "newest-generation", to = "live", namespace_, resource;
  bool all = false;
};

}  // namespace

Command diff_command() {
  auto a = std::make_shared<DiffArgs>();
  Command c;
  c.name = "diff";
  c.help = "the Kubernetes objects added, removed and changed between two points, field by field";
  c.add_options = [a](CLI::App& sub) {
    sub.add_option("resource", a->resource, "deploy, secrets, ... or RESOURCE/NAME (default: every resource)");
    sub.add_option("--from", a->from, "a point as kdr get --at takes it; default: the newest generation")
        ->capture_default_str();
    sub.add_option("--to", a->to, "a point, or live (the default)")->capture_default_str();
    sub.add_option("-n,--namespace", a->namespace_, "only this namespace's objects (and the Namespace itself)");
    sub.add_flag("--all", a->all, "also what always changes: Events, managedFields, resourceVersion, Node status, Lease renewals");
  };
  c.run = [a](const core::Context& ctx) {
    objects::DiffScope scope;
    scope.everything = a->all;
    scope.namespace_ = a->namespace_;
    if (!a->resource.empty()) {
      const auto q = objects::make_query(a->resource, "", a->namespace_, a->namespace_.empty(), "");
      scope.type = q.type;
      scope.name = q.name;
      if (!q.name.empty() && q.type.namespaced && scope.namespace_.empty()) scope.namespace_ = "default";
    }
    auto from_spec = objects::parse_point(a->from == "newest-generation" ? "latest" : a->from);
    if (a->from == "newest-generation") from_spec.kind = objects::PointSpec::Kind::generation;
    const auto from = objects::open_point(ctx, from_spec);
    const auto to = objects::open_point(ctx, objects::parse_point(a->to));
    const auto diffs = objects::diff_points(*from, *to, scope);
    objects::print_diff(ctx, from->info(), to->info(), diffs, scope);
    return core::ExitCode::ok;
  };
  return c;
}

}  // namespace kdr::cli
