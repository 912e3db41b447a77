// A Kubernetes object stored as JSON (custom resources; any type under kube-apiserver's
// --storage-media-type=application/json) checked without building it: well-formed JSON (UTF-8
// included), an object, and its apiVersion and kind. simdjson parses at gigabytes a second,
// where building the object kdr prints costs twenty times as much: the restore test reads every
// value of the database this way (k8s::DecodeOptions::check_only).
#pragma once

#include <string>
#include <string_view>

namespace kdr::k8s {

struct JsonCheck {
  bool ok = false;
  std::string problem;  // why not, when not
  std::string api_version, kind;
};

JsonCheck check_json_object(std::string_view text);

}  // namespace kdr::k8s
