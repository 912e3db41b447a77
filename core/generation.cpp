#include "core/clock.hpp"
#include "core/generation.hpp"

#include <ctime>
#include <vector>

#include "core/error.hpp"
#include "core/json_util.hpp"
#include "core/node_root.hpp"
#include "core/version.hpp"

namespace kdr::core {

using nlohmann::json;

std::string_view to_string(GenerationStatus status) {
  return status == GenerationStatus::complete ? "complete" : "partial";
}

std::string iso_time(std::int64_t epoch_seconds) {
  std::time_t t = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json GenerationMeta::to_json() const {
  json src = json::array();
  for (const auto& s : sources)
    src.push_back({{"path", s.path}, {"reason", s.reason}, {"present", s.present}, {"files", s.files},
                   {"dirs", s.dirs}, {"symlinks", s.symlinks}, {"bytes", s.bytes}});
  json j = {
      {"kdr_generation", generation_format_version},
      {"id", id},
      {"status", to_string(status)},
      {"time", time},
      {"started", started},
      {"finished", finished},
      {"hostname", hostname},
      {"root", root},
      {"kdr_version", kdr_version},
      {"sources", src},
      {"counts", {{"files", files}, {"dirs", dirs}, {"symlinks", symlinks}, {"skipped", skipped}, {"torn", torn}}},
      {"bytes", {{"total", bytes_total}, {"copied", bytes_copied}, {"linked", bytes_linked}}},
      {"files_copied", files_copied},
      {"files_linked", files_linked},
      {"duration_s", duration_s},
      {"warnings", warnings},
  };
  if (status == GenerationStatus::partial) j["partial_because"] = partial_because;
  if (etcd.recorded) j["etcd"] = etcd.to_json();
  if (node.recorded) j["node"] = node.to_json();
  if (etcd.recorded || !artifacts.empty()) {  // every generation kdr writes has the list, empty or not
    j["artifacts"] = json::array();
    for (const auto& a : artifacts) j["artifacts"].push_back({{"path", a.path}, {"sha256", a.sha256}, {"size", a.size}});
  }
  for (const auto& [k, v] : extra.items()) j[k] = v;
  return j;
}

GenerationMeta GenerationMeta::parse(std::string_view text, const std::string& origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(fmt::format("{}: not valid JSON: {}", origin, e.what()));
  }
  // kdr writes no negative or huge fractional numbers; later readers of the extra sections
  // convert numbers to integers, which for such a value would be undefined
  std::vector<const json*> stack{&j};
  while (!stack.empty()) {
    const json* v = stack.back();
    stack.pop_back();
    if (v->is_number_float() && !(v->get<double>() >= 0 && v->get<double>() < 9.0e18))
      throw Error(fmt::format("{}: the number {} is out of range", origin, v->dump()));
    if (v->is_structured())
      for (const auto& child : *v) stack.push_back(&child);
  }
  return from_json(j, origin);
}

GenerationMeta GenerationMeta::from_json(const json& j, const std::string& origin) {
  try {
    GenerationMeta m;
    const auto format = json_whole_or<int>(j, "kdr_generation", 0);
    if (format <= 0)
      throw Error(fmt::format("{}: not a kdr generation (no kdr_generation format number)", origin));
    if (format > generation_format_version)
      throw Error(fmt::format("{}: written by a newer kdr (generation format {}; this kdr {} reads formats up to {}): "
                              "read it with that kdr version or newer",
                              origin, format, version, generation_format_version));
    m.id = j.at("id").get<std::string>();
    const auto status = j.at("status").get<std::string>();
    if (status == "complete") m.status = GenerationStatus::complete;
    else if (status == "partial") m.status = GenerationStatus::partial;
    else throw Error(fmt::format("{}: unknown status '{}'", origin, status));
    m.time = json_whole<std::int64_t>(j.at("time"), "'time'");
    m.started = j.value("started", "");
    m.finished = j.value("finished", "");
    m.hostname = j.value("hostname", "");
    m.root = j.value("root", "/");
    m.kdr_version = j.value("kdr_version", "");
    for (const auto& s : j.value("sources", json::array()))
      m.sources.push_back({normalize_node_path(s.at("path").get<std::string>(), origin + ": sources"), s.value("reason", ""), s.value("present", false),
                           json_whole_or<std::uint64_t>(s, "files", 0), json_whole_or<std::uint64_t>(s, "dirs", 0),
                           json_whole_or<std::uint64_t>(s, "symlinks", 0), json_whole_or<std::uint64_t>(s, "bytes", 0)});
    const auto counts = j.value("counts", json::object());
    m.files = json_whole_or<std::uint64_t>(counts, "files", 0);
    m.dirs = json_whole_or<std::uint64_t>(counts, "dirs", 0);
    m.symlinks = json_whole_or<std::uint64_t>(counts, "symlinks", 0);
    m.skipped = json_whole_or<std::uint64_t>(counts, "skipped", 0);
    m.torn = json_whole_or<std::uint64_t>(counts, "torn", 0);
    const auto bytes = j.value("bytes", json::object());
    m.bytes_total = json_whole_or<std::uint64_t>(bytes, "total", 0);
    m.bytes_copied = json_whole_or<std::uint64_t>(bytes, "copied", 0);
    m.bytes_linked = json_whole_or<std::uint64_t>(bytes, "linked", 0);
    m.files_copied = json_whole_or<std::uint64_t>(j, "files_copied", 0);
    m.files_linked = json_whole_or<std::uint64_t>(j, "files_linked", 0);
    m.duration_s = j.value("duration_s", 0.0);
    m.warnings = j.value("warnings", std::vector<std::string>{});
    m.partial_because = j.value("partial_because", std::vector<std::string>{});
    if (j.contains("etcd")) m.etcd = EtcdFacts::from_json(j["etcd"], origin + ": etcd");
    if (j.contains("node")) m.node = NodeFacts::from_json(j["node"], origin + ": node");
    for (const auto& a : j.value("artifacts", json::array()))
      m.artifacts.push_back({a.at("path").get<std::string>(), a.value("sha256", ""), json_whole_or<std::uint64_t>(a, "size", 0)});
    static const char* known[] = {"kdr_generation", "id", "status", "time", "started", "finished", "hostname",
                                  "root", "kdr_version", "sources", "counts", "bytes", "files_copied",
                                  "files_linked", "duration_s", "warnings", "partial_because", "etcd", "node",
                                  "artifacts"};
    for (const auto& [k, v] : j.items())
      if (std::find(std::begin(known), std::end(known), k) == std::end(known)) m.extra[k] = v;
    return m;
  } catch (const json::exception& e) {
    throw Error(fmt::format("{}: {}", origin, e.what()));
  } catch (const Error& e) {
    if (std::string_view(e.what()).rfind(origin, 0) == 0) throw;
    throw Error(fmt::format("{}: {}", origin, e.what()));
  }
}

std::string partial_reason(const GenerationMeta& meta) {
  if (meta.status != GenerationStatus::partial) return "";
  std::string out;
  for (const auto& r : meta.partial_because) out += (out.empty() ? "" : "; ") + r;
  if (!out.empty()) return out;
  return meta.warnings.empty() ? "see its warnings (kdr show)" : meta.warnings.front();
}

std::string time_ago(std::int64_t then) {
  const auto d = now_epoch() - then;
  if (d < 120) return fmt::format("{} s ago", d);
  if (d < 7200) return fmt::format("{} min ago", d / 60);
  if (d < 172800) return fmt::format("{} h ago", d / 3600);
  return fmt::format("{} days ago", d / 86400);
}

}  // namespace kdr::core
