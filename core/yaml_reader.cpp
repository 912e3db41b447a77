#include "core/yaml_reader.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/node_root.hpp"

namespace kdr::core {

std::string yaml_where(const std::string& origin, const YAML::Node& node) {
  const auto mark = node.Mark();
  if (mark.line < 0) return origin;
  return fmt::format("{}:{}:{}", origin, mark.line + 1, mark.column + 1);
}

YAML::Node load_yaml(std::string_view text, const std::string& origin) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::ParserException& e) {
    throw UsageError(fmt::format("{}:{}:{}: not valid YAML: {}", origin, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
}

void YamlReader::fail(const YAML::Node& node, const std::string& key, const std::string& what) const {
  throw UsageError(fmt::format("{}: key '{}': {}", yaml_where(origin_, node), key, what));
}

int YamlReader::count(const YAML::Node& node, const std::string& key) const {
  int v = scalar<int>(node, key, "a whole number");
  if (v < 0) fail(node, key, "must not be negative");
  return v;
}

std::string YamlReader::node_path(const YAML::Node& node, const std::string& key) const {
  auto t = scalar<std::string>(node, key, "an absolute path");
  try {
    return normalize_node_path(t, "path");
  } catch (const UsageError& e) {
    fail(node, key, e.what());
  }
}

std::vector<std::string> YamlReader::strings(const YAML::Node& node, const std::string& key,
                                             const char* expected) const {
  if (!node.IsSequence() || node.size() == 0) fail(node, key, std::string("expected ") + expected);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < node.size(); ++i)
    out.push_back(scalar<std::string>(node[i], fmt::format("{}[{}]", key, i), "a string"));
  return out;
}

void YamlReader::mapping(const YAML::Node& node, const std::string& prefix,
                         const std::map<std::string, Handler>& handlers) const {
  if (!node.IsMap()) fail(node, prefix.empty() ? "(top level)" : prefix, "expected a mapping");
  std::map<std::string, int> seen;  // key -> its line (1-based)
  for (const auto& kv : node) {
    if (!kv.first.IsScalar())
      fail(kv.first, prefix.empty() ? "(top level)" : prefix, "a key must be a plain name, not a list or mapping");
    const auto name = kv.first.as<std::string>();
    const auto full = prefix.empty() ? name : prefix + "." + name;
    // YAML lets a later key replace an earlier one silently: a typo'd copy would win unseen.
    const auto [first, inserted] = seen.emplace(name, kv.first.Mark().line + 1);
    if (!inserted) fail(kv.first, full, fmt::format("given twice (first on line {}); say it once", first->second));
    auto it = handlers.find(name);
    if (it == handlers.end()) {
      std::string known;
      for (const auto& h : handlers) known += (known.empty() ? "" : ", ") + h.first;
      fail(kv.first, full, fmt::format("unknown key (known here: {})", known));
    }
    it->second(kv.second, full);
  }
}

}  // namespace kdr::core
