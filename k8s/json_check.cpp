#include "k8s/json_check.hpp"

#include <simdjson.h>

namespace kdr::k8s {

JsonCheck check_json_object(std::string_view text) {
  thread_local simdjson::dom::parser parser;
  JsonCheck out;
  simdjson::dom::element root;
  // realloc_if_needed: the text is copied into simdjson's padded buffer (it reads past the end)
  if (const auto error = parser.parse(text.data(), text.size(), true).get(root); error) {
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
