// What verify found: every finding, with its severity, the check that found it, what kind
// of problem it is, the path, and the detail. Collected, never stopped at.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kdr::verify {

enum class Severity { info, warning, error };
std::string_view to_string(Severity severity);

struct Finding {
  Severity severity = Severity::error;
  std::string check;   // integrity | live | etcd | certificates
  std::string kind;    // e.g. content-differs, missing, mode, expired
  std::string path;    // node path, or a generation file
  std::string detail;  // the operator's words
};

class Findings {
 public:
  void add(Severity severity, std::string check, std::string kind, std::string path, std::string detail);
  const std::vector<Finding>& all() const { return items_; }
  std::size_t count(Severity severity) const;
  std::size_t count(std::string_view check, std::string_view kind) const;
  bool any_problem() const { return count(Severity::warning) + count(Severity::error) > 0; }
  void append(const Findings& other);

 private:
  std::vector<Finding> items_;
};

nlohmann::json to_json(const Finding& f);

}  // namespace kdr::verify
