#include "core/yaml_writer.hpp"

#include <cctype>
#include <regex>

#include <fmt/format.h>

namespace kdr::core {

namespace {

using json = nlohmann::json;

// Plain scalars YAML 1.1 (go-yaml) would not read back as the same string.
bool needs_quotes(const std::string& s) {
  if (s.empty()) return true;
  static const std::regex special(
      "^(~|null|Null|NULL|y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|"
      "[-+]?(\\.[0-9]+|[0-9][0-9_]*(\\.[0-9_]*)?)([eE][-+]?[0-9]+)?|0x[0-9a-fA-F_]+|0o?[0-7_]+|"
      "[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)|[0-9]+(:[0-5]?[0-9])+(\\.[0-9_]*)?|<<|=|"
      // timestamps (kubectl prints creationTimestamp: "2024-01-02T03:04:05Z")
      "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(([Tt]|[ \\t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(\\.[0-9]*)?([ \\t]*Z|[-+][0-9]{1,2}(:[0-9]{2})?)?)?)$");
  if (std::regex_match(s, special)) return true;
  const char first = s.front();
  if (std::string_view("-?:,[]{}#&*!|>'\"%@`").find(first) != std::string_view::npos) {
    // "- x", "? x", ": x" and lone indicators are special; "-foo" is a plain scalar.
    if (first != '-' && first != '?' && first != ':') return true;
    if (s.size() == 1 || s[1] == ' ') return true;
  }
  if (s.front() == ' ' || s.back() == ' ') return true;
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos || s.back() == ':') return true;
  for (const char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  return false;
}

std::string quoted(const std::string& s) {
  // JSON's string escapes are valid YAML double-quoted escapes.
  return json(s).dump();
}

bool block_safe(const std::string& s) {
  if (s.find('\n') == std::string::npos) return false;
  for (const char c : s)
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\n') || c == 0x7f) return false;
  // Lines that start with a space would need an indentation indicator.
  return s.front() != ' ' && s.find("\n ") == std::string::npos;
}

// A scalar after "key: " or "- "; a literal block's lines at `indent` + 2.
void scalar(const json& v, const std::string& indent, std::string& out) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (block_safe(s)) {
      std::size_t trailing = 0;
      while (trailing < s.size() && s[s.size() - 1 - trailing] == '\n') ++trailing;
      out += trailing == 0 ? "|-" : trailing == 1 ? "|" : "|+";
      const auto body = s.substr(0, s.size() - (trailing > 1 ? 1 : trailing));
      std::size_t start = 0;
      while (start <= body.size()) {
        const auto nl = body.find('\n', start);
        const auto line = body.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
        out += '\n';
        if (!line.empty()) {
          out += indent;
          out += "  ";
          out += line;
        }
        if (nl == std::string::npos) break;
        start = nl + 1;
      }
      out += '\n';
      return;
    }
    out += needs_quotes(s) ? quoted(s) : s;
  } else {
    out += v.dump();
  }
  out += '\n';
}

std::string key_text(const std::string& k) { return needs_quotes(k) ? quoted(k) : k; }

void list(const json& v, const std::string& indent, std::string& out);

// A map's keys at `indent`; `inline_first`: the first key goes on the current line (after "- ").
void map(const json& v, const std::string& indent, std::string& out, bool inline_first) {
  bool first = true;
  for (const auto& [k, child] : v.items()) {
    if (!(first && inline_first)) out += indent;
    first = false;
    out += key_text(k) + ":";
    if (child.is_object() && !child.empty()) {
      out += '\n';
      map(child, indent + "  ", out, false);
    } else if (child.is_array() && !child.empty()) {
      out += '\n';
      list(child, indent, out);  // go-yaml: a list's dashes at its key's indent
    } else if (child.is_object()) {
      out += " {}\n";
    } else if (child.is_array()) {
      out += " []\n";
    } else {
      out += ' ';
      scalar(child, indent, out);
    }
  }
}

void list(const json& v, const std::string& indent, std::string& out) {
  for (const auto& item : v) {
    out += indent + "-";
    if (item.is_object() && !item.empty()) {
      out += ' ';
      map(item, indent + "  ", out, true);
    } else if (item.is_array() && !item.empty()) {
      out += '\n';
      list(item, indent + "  ", out);
    } else if (item.is_object()) {
      out += " {}\n";
    } else if (item.is_array()) {
      out += " []\n";
    } else {
      out += ' ';
      scalar(item, indent, out);
    }
  }
}

}  // namespace

std::string to_yaml(const nlohmann::json& value) {
  std::string out;
  if (value.is_object() && !value.empty()) map(value, "", out, false);
  else if (value.is_array() && !value.empty()) list(value, "", out);
  else if (value.is_object()) out = "{}\n";
  else if (value.is_array()) out = "[]\n";
  else scalar(value, "", out);
  return out;
}

}  // namespace kdr::core
