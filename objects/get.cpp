#include "objects/get.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/yaml_writer.hpp"
#include "objects/table.hpp"

namespace kdr::objects {

namespace {

// One object, for the table: its cells only (the object itself is not kept), in one string,
// each cell ended by '\0': namespace, name, the columns, age. 100,000 rows stay a few MB, and
// sorting the strings sorts by namespace, then name.
using Row = std::string;

void add_cell(Row& row, const std::string& cell) {
  row += cell;
  row += '\0';
}

std::vector<std::string> cells_of(const Row& row) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t end; (end = row.find('\0', start)) != std::string::npos; start = end + 1)
    out.emplace_back(row, start, end - start);
  return out;
}

std::string where_text(const ObjectQuery& q) {
  if (!q.type.namespaced) return "";
  if (q.all_namespaces) return " in any namespace";
  return fmt::format(" in {} namespace", q.namespace_);
}

void print_table(const core::Context& ctx, std::vector<Row>& rows, const ObjectQuery& q, const std::vector<const Column*>& cols) {
  std::sort(rows.begin(), rows.end());
  std::vector<std::string> header{"NAMESPACE", "NAME"};
  for (const auto* c : cols) header.push_back(c->header);
  header.push_back("AGE");
  const std::size_t first = q.all_namespaces ? 0 : 1;  // the namespace column only with -A
  std::vector<std::size_t> width(header.size(), 0);
  for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& r : rows) {
    const auto cells = cells_of(r);
    for (std::size_t i = 0; i < cells.size() && i < width.size(); ++i) width[i] = std::max(width[i], cells[i].size());
  }
  auto print = [&](const std::vector<std::string>& line) {
    std::string text;
    for (std::size_t i = first; i < line.size(); ++i) {
      text += line[i];
      if (i + 1 < line.size()) text += std::string(width[i] - line[i].size() + 3, ' ');
    }
    ctx.out.raw(text);
  };
  print(header);
  for (const auto& r : rows) print(cells_of(r));
}

}  // namespace

Format parse_format(const std::string& text) {
  if (text.empty()) return Format::table;
  if (text == "wide") return Format::wide;
  if (text == "yaml") return Format::yaml;
  if (text == "json") return Format::json;
  if (text == "name") return Format::name;
  throw core::UsageError(fmt::format("-o {}: not an output format kdr prints (yaml, json, name, wide)", text));
}

std::string object_name(const k8s::ResourceType& type, const std::string& name) {
  const auto singular = type.custom ? type.resource : type.singular;
  return (type.group.empty() ? singular : singular + "." + type.group) + "/" + name;
}

core::ExitCode print_objects(const core::Context& ctx, PointReader& point, const ObjectQuery& q, Format format) {
  const auto& info = point.info();
  fmt::print(ctx.out.err_stream(), "kdr: {}\n", info.text);
  for (const auto& w : info.warnings) ctx.out.warn("{}", w);

  std::vector<const Column*> cols;
  for (const auto& c : columns_for(q.type))
    if (!c.wide_only || format == Format::wide) cols.push_back(&c);
  const auto now = core::now_epoch();
  std::vector<Row> rows;
  std::vector<k8s::StoredObject> kept;  // yaml, json: the objects themselves
  std::vector<std::pair<std::string, std::string>> unreadable;  // key, problem
  each_object(point, q, [&](k8s::StoredObject&& o) {
    if (!o.decoded()) unreadable.emplace_back(o.key, o.problem);
    if (format == Format::yaml || format == Format::json) {
      kept.push_back(std::move(o));
      return;
    }
    if (format == Format::name) {
      Row r;
      add_cell(r, o.namespace_());
      add_cell(r, object_name(q.type, o.name()));
      rows.push_back(std::move(r));
      return;
    }
    Row r;
    add_cell(r, o.namespace_());
    add_cell(r, o.name());
    for (const auto* c : cols) add_cell(r, o.decoded() ? c->cell(o.object) : "<unreadable>");
    const auto created = creation_time(o.object);
    add_cell(r, created != 0 ? human_duration(now - created) : "<unknown>");
    r.shrink_to_fit();
    rows.push_back(std::move(r));
  });
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
    return std::pair(a.namespace_(), a.name()) < std::pair(b.namespace_(), b.name());
  });
  const auto found = rows.size() + kept.size();
  if (found == 0) {
    if (!q.name.empty())
      throw core::Error(fmt::format("{} \"{}\" not found{} at {}", q.type.qualified(), q.name, where_text(q), info.text));
    fmt::print(ctx.out.err_stream(), "No resources found{}.\n", where_text(q));
    return core::ExitCode::ok;
  }
  switch (format) {
    case Format::table:
    case Format::wide: print_table(ctx, rows, q, cols); break;
    case Format::name:
      std::sort(rows.begin(), rows.end());
      for (const auto& r : rows) ctx.out.raw(cells_of(r).at(1));
      break;
    case Format::yaml:
    case Format::json: {
      k8s::ojson doc;
      if (!q.name.empty()) {
        doc = std::move(kept.front().object);
      } else {
        doc = {{"apiVersion", "v1"}, {"items", k8s::ojson::array()}, {"kind", "List"},
               {"metadata", {{"resourceVersion", ""}}}};
        for (auto& o : kept) doc["items"].push_back(std::move(o.object));
      }
      if (format == Format::json) ctx.out.raw(doc.dump(4));
      else {
        auto yaml = core::to_yaml(nlohmann::json::parse(doc.dump()));  // kubectl's YAML: keys sorted
        if (!yaml.empty() && yaml.back() == '\n') yaml.pop_back();
        ctx.out.raw(yaml);
      }
      break;
    }
  }
  if (unreadable.empty()) return core::ExitCode::ok;
  ctx.out.warn("{} object{} could not be read (shown with what their keys say):", unreadable.size(),
               unreadable.size() == 1 ? "" : "s");
  for (const auto& [key, problem] : unreadable) fmt::print(ctx.out.err_stream(), "  {}: {}\n", key, problem);
  return core::ExitCode::partial;
}

}  // namespace kdr::objects
