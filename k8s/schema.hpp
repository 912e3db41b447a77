// Kubernetes' API types as kube-apiserver encodes them: the messages of k8s.io/api and
// k8s.io/apimachinery (their generated.proto files, built into kdr as a protobuf descriptor set)
// and, for each field, what encoding/json prints for it (its json tag, from the Go structs).
//
// Built once, on first use, from the data k8s/CMakeLists.txt embeds; read-only afterwards.
#pragma once

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace kdr::k8s {

namespace pb = google::protobuf;

// What the Go struct field is: kube-apiserver's generated Marshal writes every field that is not
// a pointer, slice or map, even when it holds its zero value; encoding/json leaves out a field
// tagged omitempty when it is zero (never a struct).
enum class GoKind { value, pointer, slice, map };

struct FieldInfo {
  std::string json;  // its name in JSON and YAML
  bool omitempty = false;
  GoKind kind = GoKind::value;
  int position = 0;  // in its Go struct
  // An embedded struct (`json:",inline"`): its fields print as the outer struct's.
  bool inline_fields() const { return json == "-inline-"; }
};

// The messages with a JSON form of their own (k8s.io/apimachinery's MarshalJSON methods).
enum class Special {
  none,
  time,           // meta/v1 Time: RFC 3339 to the second, null when zero
  micro_time,     // meta/v1 MicroTime: RFC 3339 to the microsecond
  duration,       // meta/v1 Duration: Go's duration text
  quantity,       // resource.Quantity: its string
  int_or_string,  // intstr.IntOrString: a number or a string
  raw_json,       // runtime.RawExtension, meta/v1 FieldsV1: the JSON they hold
  list            // a Go slice type (ExtraValue): its items
};

// How one field prints, worked out once per field.
struct FieldPlan {
  const pb::FieldDescriptor* field = nullptr;
  FieldInfo info;                 // the Go struct's tag, or what the proto says
  Special special = Special::none;  // of its message type
};

// How one message prints: its fields in print order, and where each field number is in it.
struct MessagePlan {
  const pb::Descriptor* message = nullptr;
  Special special = Special::none;
  std::vector<FieldPlan> fields;  // in the order encoding/json prints them
  std::vector<int> slot;          // field number -> index in `fields`; -1 unknown
  const FieldPlan* by_number(std::uint64_t number) const {
    return number < slot.size() && slot[number] >= 0 ? &fields[static_cast<std::size_t>(slot[number])] : nullptr;
  }
};

class Schema {
 public:
  // The types built into kdr (k8s.io/api 0.32, Kubernetes 1.32).
  static const Schema& builtin();

  // The message of an object of `kind` in `api_version` ("v1", "apps/v1"); null when unknown.
  const pb::Descriptor* message(std::string_view api_version, std::string_view kind) const;
  // A message by its full name ("k8s.io.apimachinery.pkg.runtime.Unknown"); null when unknown.
  const pb::Descriptor* message(std::string_view full_name) const;
  // How the field prints; null for a field whose Go struct kdr did not read (its proto name then).
  const FieldInfo* field(const pb::FieldDescriptor* f) const;
  // How `d` prints: its fields in the order encoding/json prints them (the Go struct's), then
  // any the Go structs do not name, by number. Every message of the schema has one.
  const MessagePlan& plan(const pb::Descriptor* d) const;
  // An empty message to parse into (New() on it).
  const pb::Message* prototype(const pb::Descriptor* d) const;

  // "golang-k8s-api-dev 0.32.3-1, golang-k8s-apimachinery-dev 0.32.3-2"
  std::string version() const;

  Schema(const Schema&) = delete;
  Schema& operator=(const Schema&) = delete;
  ~Schema();

 private:
  Schema();

 public:
  struct Impl;  // defined in schema.cpp

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kdr::k8s
