// Kubernetes objects encoded as kube-apiserver stores them (Kubernetes' own .proto types, the
// protobuf envelope) and printed as kubectl prints them.
#include <catch2/catch.hpp>

#include "core/fs.hpp"
#include "k8s/envelope.hpp"
#include "k8s/object_json.hpp"

using namespace kdr;

namespace {

k8s::ojson fixture(const std::string& name) {
  return k8s::ojson::parse(core::read_file(core::bfs::path(KDR_SOURCE_DIR) / "tests/fixtures/k8s-objects" / name));
}

// The bytes kube-apiserver writes for `object` (its generated Marshal: fields by number, map keys sorted).
std::string stored(const k8s::ojson& object) {
  const auto& schema = k8s::Schema::builtin();
  const auto* type = schema.message(object["apiVersion"].get<std::string>(), object["kind"].get<std::string>());
  REQUIRE(type != nullptr);
  const auto m = k8s::from_json(object, type);
  std::string raw;
  google::protobuf::io::StringOutputStream out(&raw);
  google::protobuf::io::CodedOutputStream coded(&out);
  coded.SetSerializationDeterministic(true);
  m->SerializeToCodedStream(&coded);
  coded.Trim();
  return k8s::write_protobuf_envelope(object["apiVersion"].get<std::string>(), object["kind"].get<std::string>(), raw);
}

}  // namespace

TEST_CASE("runtime.Unknown's field numbers in the envelope reader are Kubernetes' own") {
  const auto& schema = k8s::Schema::builtin();
  const auto* unknown = schema.message("k8s.io.apimachinery.pkg.runtime.Unknown");
  REQUIRE(unknown != nullptr);
  CHECK(unknown->FindFieldByName("typeMeta")->number() == 1);
  CHECK(unknown->FindFieldByName("raw")->number() == 2);
  CHECK(unknown->FindFieldByName("contentEncoding")->number() == 3);
  CHECK(unknown->FindFieldByName("contentType")->number() == 4);
  const auto* type_meta = schema.message("k8s.io.apimachinery.pkg.runtime.TypeMeta");
  CHECK(type_meta->FindFieldByName("apiVersion")->number() == 1);
  CHECK(type_meta->FindFieldByName("kind")->number() == 2);
}

TEST_CASE("a Deployment encoded as kube-apiserver stores it prints back as kubectl printed it") {
  const auto object = fixture("deployment.json");
  const auto bytes = stored(object);
  const auto env = k8s::read_protobuf_envelope(bytes);
  REQUIRE(env.envelope);
  CHECK(env.envelope->api_version == "apps/v1");
  CHECK(env.envelope->kind == "Deployment");
  const auto* type = k8s::Schema::builtin().message("apps/v1", "Deployment");
  std::unique_ptr<google::protobuf::Message> m(k8s::Schema::builtin().prototype(type)->New());
  REQUIRE(m->ParseFromArray(env.envelope->raw.data(), static_cast<int>(env.envelope->raw.size())));
  k8s::ojson printed = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}};
  const auto body = k8s::to_json(*m);
  for (const auto& [k, v] : body.items()) printed[k] = v;
  // kubectl -o yaml sorts keys; compare as it would print them.
  CHECK(nlohmann::json::parse(printed.dump()).dump(2) == nlohmann::json::parse(object.dump()).dump(2));
}
