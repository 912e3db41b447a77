#include "objects/get.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/yaml_writer.hpp"
#include "objects/table.hpp"

namespace kdr::objects {

namespace {

// One object, for the table: its cells only (the object itself is not kept).
struct Row {
  std::string namespace_, name;
  std::vector<std::string> cells;
  std::string age;
};

std::string where_text(const ObjectQuery& q) {
  if (!q.type.namespaced) return "";
  if (q.all_namespaces) return " in any namespace";
  return fmt::format(" in {} namespace", q.namespace_);
}

void print_table(const core::Context& ctx, std::vector<Row>& rows, const ObjectQuery& q, const std::vector<const Column*>& cols) {
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return std::tie(a.namespace_, a.name) < std::tie(b.namespace_, b.name);
  });
  std::vector<std::string> header;
  if (q.all_namespaces) header.push_back("NAMESPACE");
  header.push_back("NAME");
  for (const auto* c : cols) header.push_back(c->header);
  header.push_back("AGE");
  std::vector<std::vector<std::string>> lines{header};
  for (auto& r : rows) {
    std::vector<std::string> line;
    if (q.all_namespaces) line.push_back(r.namespace_);
    line.push_back(r.name);
    for (auto& c : r.cells) line.push_back(std::move(c));
    line.push_back(r.age);
    lines.push_back(std::move(line));
  }
  std::vector<std::size_t> width(header.size(), 0);
  for (const auto& l : lines)
    for (std::size_t i = 0; i < l.size(); ++i) width[i] = std::max(width[i], l[i].size());
  for (const auto& l : lines) {
    std::string text;
    for (std::size_t i = 0; i < l.size(); ++i) {
      text += l[i];
      if (i + 1 < l.size()) text += std::string(width[i] - l[i].size() + 3, ' ');
    }
    ctx.out.raw(text);
  }
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
    if (format == Format::yaml || format == Format::json || format == Format::name) {
      kept.push_back(std::move(o));
      return;
    }
    Row r{o.namespace_(), o.name(), {}, "<unknown>"};
    for (const auto* c : cols) r.cells.push_back(o.decoded() ? c->cell(o.object) : "<unreadable>");
    if (const auto created = creation_time(o.object)) r.age = human_duration(now - created);
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
      for (const auto& o : kept) ctx.out.raw(object_name(q.type, o.name()));
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
