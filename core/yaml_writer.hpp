// JSON written as YAML the way kubectl prints it (`kubectl get -o yaml`: sigs.k8s.io/yaml over
// go-yaml): keys sorted, two-space indent, a list's dashes at its key's indent, strings plain
// unless YAML would read them as something else (then double-quoted), text with line breaks
// as a literal block.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace kdr::core {

std::string to_yaml(const nlohmann::json& value);

}  // namespace kdr::core
