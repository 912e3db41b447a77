#pragma once
// Kubernetes objects of tests/fixtures/k8s-objects, as JSON and as kube-apiserver stores them.

#include <string>

#include <catch2/catch.hpp>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "core/fs.hpp"
#include "k8s/envelope.hpp"
#include "k8s/object_json.hpp"
#include "k8s/schema.hpp"

inline kdr::k8s::ojson k8s_fixture(const std::string& name) {
  return kdr::k8s::ojson::parse(
      kdr::core::read_file(kdr::core::bfs::path(KDR_SOURCE_DIR) / "tests/fixtures/k8s-objects" / name));
}

// The bytes kube-apiserver writes for `object` (its generated Marshal: fields by number, map keys
// sorted), in its protobuf envelope.
inline std::string k8s_stored(const kdr::k8s::ojson& object) {
  const auto api_version = object["apiVersion"].get<std::string>();
  const auto kind = object["kind"].get<std::string>();
  const auto* type = kdr::k8s::Schema::builtin().message(api_version, kind);
  REQUIRE(type != nullptr);
  const auto m = kdr::k8s::from_json(object, type);
  std::string raw;
  {
    google::protobuf::io::StringOutputStream out(&raw);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    m->SerializeToCodedStream(&coded);
  }
  return kdr::k8s::write_protobuf_envelope(api_version, kind, raw);
}
