#include "k8s/json_check.hpp"

#include <simdjson.h>

namespace kdr::k8s {

namespace {

simdjson::dom::parser& thread_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

ojson build(simdjson::dom::element e) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::OBJECT: {
      ojson out = ojson::object();
      for (const auto field : simdjson::dom::object(e)) out[std::string(field.key)] = build(field.value);
      return out;
    }
    case element_type::ARRAY: {
      ojson out = ojson::array();
      auto& items = out.get_ref<ojson::array_t&>();
      for (const auto item : simdjson::dom::array(e)) items.push_back(build(item));
      return out;
    }
    case element_type::STRING: return std::string(std::string_view(e));
    case element_type::INT64: {
      const auto v = std::int64_t(e);
      if (v >= 0) return static_cast<std::uint64_t>(v);
      return v;
    }
    case element_type::UINT64: return std::uint64_t(e);
    case element_type::DOUBLE: return double(e);
    case element_type::BOOL: return bool(e);
    case element_type::NULL_VALUE: return nullptr;
  }
  return nullptr;
}

}  // namespace

std::optional<ojson> parse_json_object(std::string_view text) {
  simdjson::dom::element root;
  if (thread_parser().parse(text.data(), text.size(), true).get(root) != simdjson::SUCCESS) {
    auto parsed = ojson::parse(text, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) return std::nullopt;
    return parsed;
  }
  if (root.type() != simdjson::dom::element_type::OBJECT) return std::nullopt;
  return build(root);
}

JsonCheck check_json_object(std::string_view text) {
  JsonCheck out;
  simdjson::dom::element root;
  // realloc_if_needed: the text is copied into simdjson's padded buffer (it reads past the end)
  if (const auto error = thread_parser().parse(text.data(), text.size(), true).get(root); error) {
    out.problem = simdjson::error_message(error);
    return out;
  }
  simdjson::dom::object object;
  if (root.get_object().get(object)) {
    out.problem = "not a JSON object";
    return out;
  }
  std::string_view field;
  if (!object["apiVersion"].get_string().get(field)) out.api_version = field;
  if (!object["kind"].get_string().get(field)) out.kind = field;
  out.ok = true;
  return out;
}

}  // namespace kdr::k8s
