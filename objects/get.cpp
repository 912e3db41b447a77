#include "objects/get.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/yaml_writer.hpp"
#include "objects/table.hpp"

namespace kdr::objects {

namespace {

// The table's rows, each one object's cells only (the object itself is not kept), each cell
// ended by '\0': namespace, name, the columns, age. Rows are packed into chunks of 1 MiB, so
// that 175,000 rows (an 8 GiB database's ConfigMaps) weigh about their text, not a string and
// a heap block each, and grow without copying. Sorting the rows' text sorts by namespace, then
// name.
class Rows {
 public:
  // A new row; cells are added to it until the next begin().
  void begin() {
    close();
    open_ = true;
  }
  void cell(std::string_view text) {
    pending_ += text;
    pending_ += '\0';
  }
  std::size_t size() {
    close();
    return rows_.size();
  }
  // Every row, sorted by its text (sorted once).
  template <class F>
  void each(F&& f) {
    close();
    if (order_.size() != rows_.size()) sort();
    for (const auto i : order_) f(text(i));
  }

 private:
  struct Place {
    std::uint32_t chunk, offset, size;
  };
  static constexpr std::size_t chunk_bytes = 1 << 20;

  void sort() {
    order_.resize(rows_.size());
    for (std::uint32_t i = 0; i < order_.size(); ++i) order_[i] = i;
    std::sort(order_.begin(), order_.end(), [&](std::uint32_t a, std::uint32_t b) { return text(a) < text(b); });
  }
  void close() {
    if (!open_) return;
    open_ = false;
    if (chunks_.empty() || chunks_.back().size() + pending_.size() > chunks_.back().capacity()) {
      chunks_.emplace_back();
      chunks_.back().reserve(std::max(chunk_bytes, pending_.size()));
    }
    auto& chunk = chunks_.back();
    rows_.push_back({static_cast<std::uint32_t>(chunks_.size() - 1), static_cast<std::uint32_t>(chunk.size()),
                     static_cast<std::uint32_t>(pending_.size())});
    chunk += pending_;
    pending_.clear();
  }
  std::string_view text(std::uint32_t i) const {
    const auto& p = rows_[i];
    return std::string_view(chunks_[p.chunk]).substr(p.offset, p.size);
  }

  std::vector<std::string> chunks_;
  std::vector<Place> rows_;
  std::vector<std::uint32_t> order_;
  std::string pending_;
  bool open_ = false;
};

std::vector<std::string_view> cells_of(std::string_view row) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t end; (end = row.find('\0', start)) != std::string_view::npos; start = end + 1)
    out.push_back(row.substr(start, end - start));
  return out;
}

std::string where_text(const ObjectQuery& q) {
  if (!q.type.namespaced) return "";
  if (q.all_namespaces) return " in any namespace";
  return fmt::format(" in {} namespace", q.namespace_);
}

void print_table(const core::Context& ctx, Rows& rows, const ObjectQuery& q, const std::vector<const Column*>& cols) {
  std::vector<std::string_view> header{"NAMESPACE", "NAME"};
  for (const auto* c : cols) header.push_back(c->header);
  header.push_back("AGE");
  const std::size_t first = q.all_namespaces ? 0 : 1;  // the namespace column only with -A
  std::vector<std::size_t> width(header.size(), 0);
  for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  rows.each([&](std::string_view r) {
    const auto cells = cells_of(r);
    for (std::size_t i = 0; i < cells.size() && i < width.size(); ++i) width[i] = std::max(width[i], cells[i].size());
  });
  auto print = [&](const std::vector<std::string_view>& line) {
    std::string text;
    for (std::size_t i = first; i < line.size(); ++i) {
      text += line[i];
      if (i + 1 < line.size()) text += std::string(width[i] - line[i].size() + 3, ' ');
    }
    ctx.out.raw(text);
  };
  print(header);
  rows.each([&](std::string_view r) { print(cells_of(r)); });
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
  Rows rows;
  std::vector<k8s::StoredObject> kept;  // yaml, json: the objects themselves
  // The first `shown_unreadable` objects that could not be read (key, problem), and how many.
  constexpr std::size_t shown_unreadable = 10;
  std::vector<std::pair<std::string, std::string>> unreadable;
  std::size_t unreadable_count = 0;
  each_object(point, q, [&](k8s::StoredObject&& o) {
    if (!o.decoded() && unreadable_count++ < shown_unreadable) unreadable.emplace_back(o.key, o.problem);
    if (format == Format::yaml || format == Format::json) {
      kept.push_back(std::move(o));
      return;
    }
    rows.begin();
    rows.cell(o.namespace_());
    if (format == Format::name) {
      rows.cell(object_name(q.type, o.name()));
      return;
    }
    rows.cell(o.name());
    for (const auto* c : cols) rows.cell(o.decoded() ? c->cell(o.object) : "<unreadable>");
    const auto created = creation_time(o.object);
    rows.cell(created != 0 ? human_duration(now - created) : "<unknown>");
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
      rows.each([&](std::string_view r) { ctx.out.raw(std::string(cells_of(r).at(1))); });
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
  if (unreadable_count == 0) return core::ExitCode::ok;
  ctx.out.warn("{} object{} could not be read (shown with what their keys say):", unreadable_count,
               unreadable_count == 1 ? "" : "s");
  for (const auto& [key, problem] : unreadable) fmt::print(ctx.out.err_stream(), "  {}: {}\n", key, problem);
  if (unreadable_count > unreadable.size())
    fmt::print(ctx.out.err_stream(), "  ... and {} more\n", unreadable_count - unreadable.size());
  return core::ExitCode::partial;
}

}  // namespace kdr::objects
