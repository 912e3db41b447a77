#include "core/metrics.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace kdr::core {

void MetricsText::gauge(const std::string& name, const std::string& help, double value, const std::string& labels) {
  if (std::find(declared_.begin(), declared_.end(), name) == declared_.end()) {
    text_ += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name, help, name);
    declared_.push_back(name);
  }
  text_ += labels.empty() ? fmt::format("{} {}\n", name, value) : fmt::format("{}{{{}}} {}\n", name, labels, value);
}

bool write_metrics(const Context& ctx, const std::string& file_name, const MetricsText& metrics) {
  if (ctx.config.metrics_dir.empty()) return false;
  const auto dir = ctx.root.host(ctx.config.metrics_dir);
  auto st = lstat_path(dir);
  if (!st || st->type != FileType::directory) {
    ctx.out.detail("metrics folder {} does not exist; no metrics written", ctx.config.metrics_dir);
    return false;
  }
  // node_exporter reads *.prom files: the temporary name must not end in .prom
  write_file_atomic(dir / file_name, metrics.text(), 0644);
  return true;
}

}  // namespace kdr::core
