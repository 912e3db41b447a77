// A Kubernetes object stored as JSON (custom resources; any type under kube-apiserver's
// --storage-media-type=application/json), read with simdjson, which parses at gigabytes a
// second: checked without building it (well-formed JSON, UTF-8 included, an object, and its
// apiVersion and kind), as the restore test reads every value of the database
// (k8s::DecodeOptions::check_only); or built into the object kdr prints, where nlohmann-json's
// own parser reads a character at a time (most of `kdr get -A`'s time over JSON values).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "k8s/object_json.hpp"

namespace kdr::k8s {

struct JsonCheck {
  bool ok = false;
  std::string problem;  // why not, when not
  std::string api_version, kind;
};

JsonCheck check_json_object(std::string_view text);

// The JSON object `text` holds, its members in their order, as nlohmann-json's parser would
// build it (a non-negative integer unsigned, a negative one signed, a fraction or exponent a
// double; a key given twice keeps its first place and its last value). Empty when `text` is
// not one JSON object. Text simdjson refuses (an integer past 64 bits, among others) is read
// by nlohmann-json's parser, so that both accept the same texts.
std::optional<ojson> parse_json_object(std::string_view text);

}  // namespace kdr::k8s
