// `kdr get`: the objects of one point, printed as `kubectl get` prints them.
#pragma once

#include <cstdio>
#include <string>

#include "core/context.hpp"
#include "core/exit_codes.hpp"
#include "objects/point.hpp"
#include "objects/query.hpp"

namespace kdr::objects {

enum class Format { table, wide, yaml, json, name };
// "", "wide", "yaml", "json", "name"; throws UsageError naming the value.
Format parse_format(const std::string& text);

// The objects of `point` that `q` picks, in `format`, on ctx.out; what could not be read on
// stderr. ok, or partial when an object could not be read; throws Error when the one object
// asked for by name is not there.
core::ExitCode print_objects(const core::Context& ctx, PointReader& point, const ObjectQuery& q, Format format);

// "deployment.apps/api", "pod/web-0"
std::string object_name(const k8s::ResourceType& type, const std::string& name);

}  // namespace kdr::objects
