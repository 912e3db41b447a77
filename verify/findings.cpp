#include "verify/findings.hpp"

#include <algorithm>

namespace kdr::verify {

std::string_view to_string(Severity severity) {
  switch (severity) {
    case Severity::info: return "info";
    case Severity::warning: return "warning";
    case Severity::error: return "error";
  }
  return "error";
}

void Findings::add(Severity severity, std::string check, std::string kind, std::string path, std::string detail) {
  items_.push_back({severity, std::move(check), std::move(kind), std::move(path), std::move(detail)});
}

std::size_t Findings::count(Severity severity) const {
  return static_cast<std::size_t>(
      std::count_if(items_.begin(), items_.end(), [&](const Finding& f) { return f.severity == severity; }));
}

std::size_t Findings::count(std::string_view check, std::string_view kind) const {
  return static_cast<std::size_t>(std::count_if(
      items_.begin(), items_.end(), [&](const Finding& f) { return f.check == check && f.kind == kind; }));
}

void Findings::append(const Findings& other) { items_.insert(items_.end(), other.items_.begin(), other.items_.end()); }

nlohmann::json to_json(const Finding& f) {
  return {{"severity", to_string(f.severity)}, {"check", f.check}, {"kind", f.kind}, {"path", f.path}, {"detail", f.detail}};
}

}  // namespace kdr::verify
