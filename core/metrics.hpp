// Prometheus metrics in the node_exporter textfile format, written atomically into the
// collector's folder (metrics.textfile_dir, a node path; nothing is written when the
// folder does not exist).
#pragma once

#include <string>
#include <vector>

#include "core/context.hpp"

namespace kdr::core {

class MetricsText {
 public:
  // One gauge; `labels` is the inside of the braces, e.g. severity="error", or empty.
  void gauge(const std::string& name, const std::string& help, double value, const std::string& labels = "");
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::vector<std::string> declared_;
};

// Writes <textfile_dir>/<file_name> atomically; returns false when the folder is absent.
bool write_metrics(const Context& ctx, const std::string& file_name, const MetricsText& metrics);

}  // namespace kdr::core
