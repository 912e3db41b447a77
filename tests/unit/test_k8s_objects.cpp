// Kubernetes objects encoded as kube-apiserver stores them (Kubernetes' own .proto types, the
// protobuf envelope) and printed as kubectl prints them.
#include <catch2/catch.hpp>

#include "core/fs.hpp"
#include "k8s/decode.hpp"
#include "k8s/envelope.hpp"
#include "k8s/json_check.hpp"
#include "k8s/object_json.hpp"
#include "k8s_fixture.hpp"

using namespace kdr;

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

// The corpus (tests/fixtures/k8s-objects) as kubectl printed it: encoded as kube-apiserver
// stores it, each prints back the same, and its stored bytes decode and encode to themselves.
TEST_CASE("every built-in object of the corpus round-trips through kube-apiserver's storage form") {
  const auto& schema = k8s::Schema::builtin();
  for (const auto& name : core::list_dir(core::bfs::path(KDR_SOURCE_DIR) / "tests/fixtures/k8s-objects")) {
    if (name == "custom-resource.json") continue;  // stored as JSON
    INFO(name);
    const auto object = k8s_fixture(name);
    const auto bytes = k8s_stored(object);
    const auto env = k8s::read_protobuf_envelope(bytes);
    REQUIRE(env.envelope);
    CHECK(env.envelope->api_version == object["apiVersion"].get<std::string>());
    CHECK(env.envelope->kind == object["kind"].get<std::string>());
    const auto* type = schema.message(env.envelope->api_version, env.envelope->kind);
    REQUIRE(type != nullptr);
    // Decoded by kdr, then encoded again: the stored bytes.
    k8s::ojson decoded = {{"apiVersion", object["apiVersion"]}, {"kind", object["kind"]}};
    const auto body = k8s::decode_json(env.envelope->raw, type);
    for (const auto& [k, v] : body.items()) decoded[k] = v;
    CHECK(k8s_stored(decoded) == bytes);
    // Printed as kubectl printed it (kubectl -o yaml sorts keys: compared sorted).
    CHECK(nlohmann::json::parse(decoded.dump()).dump(2) == nlohmann::json::parse(object.dump()).dump(2));
  }
}

TEST_CASE("kube-apiserver writes every non-pointer field, even empty: an object from sparse JSON carries them") {
  // ObjectMeta's generateName is a plain string: the generated Marshal writes it (tag 0x12, length 0).
  const k8s::ojson sparse = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "x"}}}};
  const auto bytes = k8s_stored(sparse);
  const auto env = k8s::read_protobuf_envelope(bytes);
  REQUIRE(env.envelope);
  const auto& raw = env.envelope->raw;
  REQUIRE(raw.size() > 2);
  CHECK(raw[0] == '\x0a');  // metadata
  const std::string meta(raw.substr(2, static_cast<unsigned char>(raw[1])));
  CHECK(meta.substr(0, 3) == std::string("\x0a\x01x", 3));  // name "x"
  CHECK(meta.substr(3, 2) == std::string("\x12\x00", 2));   // generateName ""
  // ...and prints without them: omitempty.
  const auto* type = k8s::Schema::builtin().message("v1", "ConfigMap");
  CHECK(k8s::decode_json(raw, type).dump() == R"({"metadata":{"name":"x","creationTimestamp":null}})");
}

TEST_CASE("Go's duration text") {
  CHECK(k8s::go_duration(0) == "0s");
  CHECK(k8s::go_duration(1500000000) == "1.5s");
  CHECK(k8s::go_duration(3600000000000) == "1h0m0s");
  CHECK(k8s::go_duration(90000000000) == "1m30s");
  CHECK(k8s::go_duration(300000000) == "300ms");
  CHECK(k8s::go_duration(-2000000000) == "-2s");
}

TEST_CASE("strings that are not UTF-8 print with U+FFFD, as Go's encoding/json writes them") {
  CHECK(k8s::utf8("plain") == "plain");
  CHECK(k8s::utf8("caf\xc3\xa9") == "caf\xc3\xa9");
  CHECK(k8s::utf8("pa\x88\x92s") == "pa\xef\xbf\xbd\xef\xbf\xbds");
  CHECK(k8s::utf8("\xc0\xaf") == "\xef\xbf\xbd\xef\xbf\xbd");  // overlong
  CHECK(k8s::utf8("\xed\xa0\x80").size() == 9);                  // a surrogate
  CHECK(k8s::utf8("\xe2\x82") == "\xef\xbf\xbd\xef\xbf\xbd");    // cut short
}

// The restore test checks JSON objects without building them (k8s/json_check.hpp): it must tell
// a good object from a damaged one as the full decoding does, and read the same kind.
TEST_CASE("a JSON object checked, not built, is told good or damaged as decoding it tells, with its kind") {
  const std::string key = "/registry/example.com/widgets/team-1/w1";
  const std::vector<std::pair<std::string, bool>> values = {
      {R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"team-1"},"spec":{"size":3,"tags":["a","é"]}})", true},
      {R"({"kind":"Widget","metadata":{}} )", true},
      {R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1")", false},  // cut short
      {R"({"apiVersion":"example.com/v1","kind":"Widget",})", false},                    // a trailing comma
      {"{\"apiVersion\":\"v1\",\"kind\":\"Wid\xff\xfeget\"}", false},                       // not UTF-8
      {R"({"kind":"Widget"} {"kind":"Other"})", false},                                   // two values
  };
  for (const auto& [value, good] : values) {
    INFO(value);
    k8s::DecodeOptions built, checked;
    checked.check_only = true;
    const auto full = k8s::decode_stored(key, value, 7, 5, built);
    const auto fast = k8s::decode_stored(key, value, 7, 5, checked);
    CHECK(full.decoded() == good);
    CHECK(fast.decoded() == good);
    CHECK(fast.problem_kind == full.problem_kind);
    CHECK(fast.kind == full.kind);
    CHECK(fast.api_version == full.api_version);
  }
}

TEST_CASE("a JSON object is built by simdjson exactly as nlohmann-json's parser builds it, and refused where it refuses") {
  const std::vector<std::string> texts = {
      R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","labels":{"b":"2","a":"1"}},)"
      R"("spec":{"size":3,"neg":-7,"big":18446744073709551615,"ratio":0.25,"exp":1e300,"on":true,"off":false,)"
      R"("none":null,"tags":["a","\u00e9","\ud83d\ude00",[],{}],"text":"line\nbreak \"quoted\""}})",
      R"({"z":1,"a":2,"z":3})",                                 // a key twice: its first place, its last value
      R"({"huge":123456789012345678901234567890})",             // past 64 bits: a double, as nlohmann reads it
      R"({"minus_zero":-0,"small":-9223372036854775808})",
      R"( {"padded" : [ 1 , 2 ] } )",
      R"([1,2])",                                               // not an object
      R"("text")",
      R"({"cut":)",                                             // damaged
      "{\"bad\":\"\xff\"}",                                   // not UTF-8
      R"({"a":1} {"b":2})",                                     // two values
      "",
  };
  for (const auto& text : texts) {
    INFO(text);
    const auto reference = k8s::ojson::parse(text, nullptr, false);
    const auto built = k8s::parse_json_object(text);
    if (reference.is_discarded() || !reference.is_object()) {
      CHECK_FALSE(built);
      continue;
    }
    REQUIRE(built);
    CHECK(built->dump() == reference.dump());
    CHECK(*built == reference);
  }
  // Number types as nlohmann's parser gives them (kdr's diff and printing tell them apart).
  const auto types = k8s::parse_json_object(R"({"u":5,"i":-5,"d":5.0})");
  REQUIRE(types);
  CHECK((*types)["u"].is_number_unsigned());
  CHECK((*types)["i"].is_number_integer());
  CHECK_FALSE((*types)["i"].is_number_unsigned());
  CHECK((*types)["d"].is_number_float());
}
