#include "core/manifest.hpp"

#include <limits>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/json_util.hpp"
#include "core/node_root.hpp"
#include "core/sha256.hpp"

namespace kdr::core {

using nlohmann::json;

std::string mode_to_string(std::uint32_t mode) { return fmt::format("{:04o}", mode & 07777); }

std::uint32_t mode_from_string(std::string_view text) {
  if (text.empty() || text.size() > 5) throw Error(fmt::format("bad mode '{}'", text));
  std::uint32_t mode = 0;
  for (char c : text) {
    if (c < '0' || c > '7') throw Error(fmt::format("bad mode '{}'", text));
    mode = mode * 8 + static_cast<std::uint32_t>(c - '0');
  }
  if (mode > 07777) throw Error(fmt::format("bad mode '{}'", text));
  return mode;
}

std::string generation_relative_path(std::string_view node_path) {
  return "files" + std::string(node_path);
}

namespace {

json entry_to_json(const ManifestEntry& e) {
  json j;
  j["path"] = e.path;
  j["type"] = to_string(e.type);
  j["mode"] = mode_to_string(e.mode);
  j["uid"] = e.uid;
  j["gid"] = e.gid;
  if (e.type == FileType::file) {
    j["size"] = e.size;
    j["sha256"] = e.sha256;
  }
  if (e.type == FileType::symlink) j["target"] = e.target;
  j["mtime"] = e.mtime_sec;
  j["mtime_nsec"] = e.mtime_nsec;
  if (e.torn) j["torn"] = true;
  return j;
}

FileType type_from_string(std::string_view text) {
  if (text == "file") return FileType::file;
  if (text == "dir") return FileType::directory;
  if (text == "symlink") return FileType::symlink;
  throw Error(fmt::format("unknown type '{}'", text));
}

template <typename T>
T field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) throw Error(fmt::format("missing key '{}'", key));
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    throw Error(fmt::format("key '{}' has the wrong type", key));
  }
}

template <typename T>
T unsigned_field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) throw Error(fmt::format("missing key '{}'", key));
  if (!it->is_number_unsigned() || it->get<std::uint64_t>() > std::numeric_limits<T>::max())
    throw Error(fmt::format("key '{}' is not a whole number in range", key));
  return static_cast<T>(it->get<std::uint64_t>());
}

ManifestEntry entry_from_json(const json& j) {
  if (!j.is_object()) throw Error("entry is not a JSON object");
  ManifestEntry e;
  e.path = normalize_node_path(field<std::string>(j, "path"), "path");
  e.type = type_from_string(field<std::string>(j, "type"));
  e.mode = mode_from_string(field<std::string>(j, "mode"));
  e.uid = unsigned_field<std::uint32_t>(j, "uid");
  e.gid = unsigned_field<std::uint32_t>(j, "gid");
  if (!j.contains("mtime") || !j.contains("mtime_nsec")) throw Error("missing key 'mtime' or 'mtime_nsec'");
  e.mtime_sec = json_whole<std::int64_t>(j.at("mtime"), "key 'mtime'");
  e.mtime_nsec = json_whole<std::int64_t>(j.at("mtime_nsec"), "key 'mtime_nsec'");
  if (e.mtime_nsec < 0 || e.mtime_nsec > 999'999'999) throw Error("mtime_nsec out of range");
  if (e.type == FileType::file) {
    e.size = unsigned_field<std::uint64_t>(j, "size");
    e.sha256 = field<std::string>(j, "sha256");
    if (!is_sha256_hex(e.sha256)) throw Error("sha256 is not 64 lower-case hex digits");
  }
  if (e.type == FileType::symlink) e.target = field<std::string>(j, "target");
  if (auto it = j.find("torn"); it != j.end()) {
    if (!it->is_boolean()) throw Error("key 'torn' has the wrong type");
    e.torn = it->get<bool>();
  }
  return e;
}

}  // namespace

std::string Manifest::to_jsonl() const {
  std::string out = json{{"kdr_manifest", manifest_format_version}}.dump() + "\n";
  for (const auto& e : entries) {
    out += entry_to_json(e).dump(-1, ' ', false, json::error_handler_t::replace);
    out += '\n';
  }
  return out;
}

Manifest Manifest::parse(std::string_view text, const std::string& origin) {
  Manifest m;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  bool header_seen = false;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos)
      throw Error(fmt::format("{}: line {}: truncated (no final newline)", origin, line_no + 1));
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    try {
      json j = json::parse(line);
      if (!header_seen) {
        if (!j.is_object() || !j.contains("kdr_manifest"))
          throw Error("first line is not a kdr manifest header");
        if (j["kdr_manifest"] != manifest_format_version)
          throw Error(fmt::format("manifest format {} is not supported (this kdr reads {})",
                                  j["kdr_manifest"].dump(), manifest_format_version));
        header_seen = true;
        continue;
      }
      m.entries.push_back(entry_from_json(j));
    } catch (const json::exception& ex) {
      throw Error(fmt::format("{}: line {}: not valid JSON ({})", origin, line_no, ex.what()));
    } catch (const Error& ex) {
      throw Error(fmt::format("{}: line {}: {}", origin, line_no, ex.what()));
    }
  }
  if (!header_seen) throw Error(fmt::format("{}: empty manifest", origin));
  return m;
}

Manifest Manifest::load(const bfs::path& file) { return parse(read_backup_file(file), file.string()); }

std::unordered_map<std::string, std::size_t> Manifest::index() const {
  std::unordered_map<std::string, std::size_t> out;
  out.reserve(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) out.emplace(entries[i].path, i);
  return out;
}

namespace {

void sum_line(std::string& out, const std::string& sha256, std::string name) {
    // GNU coreutils: a name with a backslash or newline is escaped and the line starts
    // with a backslash.
    if (name.find_first_of("\\\n") != std::string::npos) {
      std::string escaped;
      for (char c : name) {
        if (c == '\\') escaped += "\\\\";
        else if (c == '\n') escaped += "\\n";
        else escaped += c;
      }
      out += '\\';
      name = std::move(escaped);
    }
  out += sha256;
  out += "  ";
  out += name;
  out += '\n';
}

}  // namespace

std::string sha256sums(const Manifest& manifest, const std::vector<Artifact>& artifacts) {
  std::string out;
  for (const auto& a : artifacts) sum_line(out, a.sha256, a.path);
  for (const auto& e : manifest.entries)
    if (e.type == FileType::file) sum_line(out, e.sha256, generation_relative_path(e.path));
  return out;
}

}  // namespace kdr::core
