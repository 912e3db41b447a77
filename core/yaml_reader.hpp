// Reading kdr's YAML files (config, playbooks) strictly: every key known, every value of
// the expected kind, and every complaint naming the file, line, column and key.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace kdr::core {

// "file:line:col" of a node, or just the file when the node has no position.
std::string yaml_where(const std::string& origin, const YAML::Node& node);

// Parses YAML text; throws UsageError "origin:line:col: not valid YAML: ..." otherwise.
YAML::Node load_yaml(std::string_view text, const std::string& origin);

class YamlReader {
 public:
  explicit YamlReader(std::string origin) : origin_(std::move(origin)) {}
  const std::string& origin() const { return origin_; }

  [[noreturn]] void fail(const YAML::Node& node, const std::string& key, const std::string& what) const;

  template <typename T>
  T scalar(const YAML::Node& node, const std::string& key, const char* expected) const {
    if (!node.IsScalar()) fail(node, key, std::string("expected ") + expected);
    try {
      return node.as<T>();
    } catch (const YAML::Exception&) {
      fail(node, key, std::string("expected ") + expected + ", got '" + node.Scalar() + "'");
    }
  }

  std::string text(const YAML::Node& node, const std::string& key) const {
    return scalar<std::string>(node, key, "a string");
  }
  int count(const YAML::Node& node, const std::string& key) const;
  // An absolute, normalized node path.
  std::string node_path(const YAML::Node& node, const std::string& key) const;
  // A non-empty list of strings (an argv, a list of names).
  std::vector<std::string> strings(const YAML::Node& node, const std::string& key, const char* expected) const;

  using Handler = std::function<void(const YAML::Node&, const std::string&)>;
  // Calls the handler of each key of the mapping; an unknown key is an error that lists
  // the known ones.
  void mapping(const YAML::Node& node, const std::string& prefix, const std::map<std::string, Handler>& handlers) const;

 private:
  std::string origin_;
};

}  // namespace kdr::core
