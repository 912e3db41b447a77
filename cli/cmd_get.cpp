// kdr get RESOURCE [NAME] [-n NS | -A] [--at POINT] [-o yaml|json|name|wide] [-l SELECTOR]:
// Kubernetes objects as they were at a point (a generation, a revision or time of the change
// journal, latest, or live), read off the backup without starting an etcd (objects/).
#include <memory>

#include "cli/command.hpp"
#include "objects/get.hpp"
#include "objects/point.hpp"
#include "objects/query.hpp"

namespace kdr::cli {

namespace {

struct GetArgs {
  std::string resource, name, namespace_, at = "latest", output, selector;
  bool all_namespaces = false;
};

}  // namespace

Command get_command() {
  auto a = std::make_shared<GetArgs>();
  Command c;
  c.name = "get";
  c.help = "Kubernetes objects at a point: a generation, a revision or time of the change journal, latest, or live";
  c.add_options = [a](CLI::App& sub) {
    sub.add_option("resource", a->resource, "deployments, deploy, po, secrets, cm, ... or RESOURCE/NAME; <plural>.<group> for a "
                                            "custom resource")
        ->required();
    sub.add_option("name", a->name, "one object");
    sub.add_option("-n,--namespace", a->namespace_, "the namespace (default: default)");
    sub.add_flag("-A,--all-namespaces", a->all_namespaces, "every namespace");
    sub.add_option("--at", a->at,
                   "GENERATION (id or unique prefix), latest (the journal's newest, else the newest generation), an etcd "
                   "REVISION, an RFC 3339 TIME (2026-11-30T03:14:00Z), or live")
        ->capture_default_str();
    sub.add_option("-o,--output", a->output, "yaml, json, name or wide (default: a table)");
    sub.add_option("-l,--selector", a->selector, "labels: key=value,key!=value,key,!key");
  };
  c.run = [a](const core::Context& ctx) {
    const auto format = objects::parse_format(a->output);
    const auto query = objects::make_query(a->resource, a->name, a->namespace_, a->all_namespaces, a->selector);
    const auto point = objects::open_point(ctx, objects::parse_point(a->at));
    return objects::print_objects(ctx, *point, query, format);
  };
  return c;
}

}  // namespace kdr::cli
