// A Kubernetes object between its protobuf message and the JSON kubectl prints
// (`kubectl get -o json`), by the rules of k8s.io/apimachinery's Go types:
//   - field names and order from the Go structs' json tags (Schema);
//   - omitempty fields left out when zero; other fields printed even when zero or absent
//     (`ready: false`, `creationTimestamp: null`, `status: {}`);
//   - meta/v1 Time as RFC 3339 in UTC, to the second (null when zero), MicroTime to the
//     microsecond, Duration as Go prints it ("1h0m0s"), Quantity as its string, IntOrString as a
//     number or a string, RawExtension and FieldsV1 as the JSON they hold;
//   - bytes ([]byte, such as Secret data) as base64.
// from_json is the other way, as kube-apiserver's generated Marshal writes: every field that is
// not a Go pointer, slice or map is set even when the JSON leaves it out.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "k8s/schema.hpp"

namespace kdr::k8s {

using ojson = nlohmann::ordered_json;

// The object `raw` (its protobuf, as kube-apiserver wrote it) of message `type`, read straight
// off the wire with the schema's types (no protobuf message is built: this is what `kdr get`
// runs per object). Throws DamagedObject naming the field where the bytes stop making sense.
ojson decode_json(std::string_view raw, const pb::Descriptor* type, const Schema& schema = Schema::builtin());

class DamagedObject : public core::Error {
 public:
  using core::Error::Error;
};

// Throws core::Error naming the JSON path (spec.replicas) that does not fit the message.
std::unique_ptr<pb::Message> from_json(const ojson& object, const pb::Descriptor* type,
                                       const Schema& schema = Schema::builtin());

// `s` as valid UTF-8: Go's strings may hold any bytes, JSON's may not. Bytes that are not
// UTF-8 become U+FFFD, as Go's encoding/json writes them.
std::string utf8(std::string_view s);

// Go's time.Duration.String() of `nanoseconds` ("1h0m0s", "1.5s", "300ms", "0s").
std::string go_duration(std::int64_t nanoseconds);

}  // namespace kdr::k8s
