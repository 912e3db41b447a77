// What restore-etcd-keys reads from the objects it puts back: the objects they name
// (k8s/references.hpp), what an object chosen by name meets live (restore/object_plan.hpp), the
// names users type for an object, and a Secret's values kept out of every diff.
#include <catch2/catch.hpp>

#include <map>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/namespace_object.hpp"
#include "k8s/decode.hpp"
#include "k8s/object_diff.hpp"
#include "k8s/references.hpp"
#include "restore/object_plan.hpp"
#include "k8s_fixture.hpp"

using namespace kdr;

namespace {

std::vector<std::string> names(const std::vector<k8s::Reference>& refs) {
  std::vector<std::string> out;
  for (const auto& r : refs)
    out.push_back(r.type.resource + "/" + (r.namespace_.empty() ? "" : r.namespace_ + "/") + r.name + " " + r.field);
  return out;
}

k8s::ObjectKey at(const std::string& resource, const std::string& ns, const std::string& name) {
  return {*k8s::find_resource(resource), ns, name};
}

}  // namespace

TEST_CASE("a Deployment needs its Namespace, the ServiceAccount and the Secret its pod template names") {
  const auto refs = k8s::references_of(k8s_fixture("deployment.json"), at("deployments", "payments", "api"));
  CHECK(names(refs) == std::vector<std::string>{
                           "namespaces/payments metadata.namespace",
                           "serviceaccounts/payments/api spec.template.spec.serviceAccountName",
                           "secrets/payments/api-db spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.name"});
}

TEST_CASE("every place a pod names a Secret, ConfigMap or claim is found, each once, but not optional ones nor the default ServiceAccount") {
  const auto pod = k8s::ojson::parse(R"({"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"report","namespace":"ops"},
    "spec":{"jobTemplate":{"spec":{"template":{"spec":{
      "serviceAccountName":"default",
      "imagePullSecrets":[{"name":"registry"}],
      "volumes":[{"name":"a","secret":{"secretName":"tls"}},
                 {"name":"b","configMap":{"name":"settings"}},
                 {"name":"c","configMap":{"name":"maybe","optional":true}},
                 {"name":"d","persistentVolumeClaim":{"claimName":"data"}},
                 {"name":"e","projected":{"sources":[{"secret":{"name":"token"}},{"configMap":{"name":"ca"}},{"serviceAccountToken":{"path":"t"}}]}}],
      "initContainers":[{"name":"i","envFrom":[{"configMapRef":{"name":"settings"}},{"secretRef":{"name":"env"}}]}],
      "containers":[{"name":"c","env":[{"name":"X","value":"1"},{"name":"Y","valueFrom":{"configMapKeyRef":{"name":"flags","key":"y"}}},
                                       {"name":"Z","valueFrom":{"secretKeyRef":{"name":"gone","key":"z","optional":true}}}]}]}}}}}})");
  const auto refs = k8s::references_of(pod, at("cronjobs", "ops", "report"));
  const std::string t = "spec.jobTemplate.spec.template.spec";
  CHECK(names(refs) == std::vector<std::string>{
                           "namespaces/ops metadata.namespace",
                           "secrets/ops/registry " + t + ".imagePullSecrets[0]",
                           "secrets/ops/tls " + t + ".volumes[0].secret.secretName",
                           "configmaps/ops/settings " + t + ".volumes[1].configMap.name",
                           "persistentvolumeclaims/ops/data " + t + ".volumes[3].persistentVolumeClaim.claimName",
                           "secrets/ops/token " + t + ".volumes[4].projected.sources[0].secret.name",
                           "configmaps/ops/ca " + t + ".volumes[4].projected.sources[1].configMap.name",
                           "secrets/ops/env " + t + ".initContainers[0].envFrom[1].secretRef.name",
                           "configmaps/ops/flags " + t + ".containers[0].env[1].valueFrom.configMapKeyRef.name"});
}

TEST_CASE("a claim needs the volume it is bound to, and a cluster-scoped object needs no namespace") {
  const auto pvc = k8s::ojson::parse(
      R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data","namespace":"ops"},"spec":{"volumeName":"pv-1"}})");
  CHECK(names(k8s::references_of(pvc, at("pvc", "ops", "data"))) ==
        std::vector<std::string>{"namespaces/ops metadata.namespace", "persistentvolumes/pv-1 spec.volumeName"});
  CHECK(k8s::references_of(k8s_fixture("node.json"), at("nodes", "", "cp1")).empty());
}

TEST_CASE("objects are named as kubectl takes them, and a wrong name says what is wrong") {
  const auto d = restore::parse_object_choice("deploy/payments/api");
  CHECK(d.key == "/registry/deployments/payments/api");
  CHECK(d.text() == "Deployment payments/api");
  CHECK(restore::parse_object_choice("svc/payments/api").key == "/registry/services/specs/payments/api");
  CHECK(restore::parse_object_choice("no/cp1").key == "/registry/minions/cp1");
  CHECK(restore::parse_object_choice("ns/payments").key == "/registry/namespaces/payments");
  const auto error = [](const char* v) {
    try {
      restore::parse_object_choice(v);
    } catch (const core::Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK_THAT(error("deploymnts/payments/api"), Catch::Contains("did you mean deployments"));
  CHECK_THAT(error("deploy/api"), Catch::Contains("deployments are namespaced: deploy/NAMESPACE/NAME"));
  CHECK_THAT(error("ns/a/b"), Catch::Contains("namespaces are cluster-scoped"));
  CHECK_THAT(error("deploy/payments/.."), Catch::Contains("expected RESOURCE/NAMESPACE/NAME"));
  CHECK_THAT(error("deploy//api"), Catch::Contains("expected RESOURCE/NAMESPACE/NAME"));
  CHECK_THAT(error("api"), Catch::Contains("expected RESOURCE/NAMESPACE/NAME"));
}

TEST_CASE("the object plan: what each chosen object meets live, and what it needs that live lacks") {
  // The point holds the Deployment (its Secret api-db, ServiceAccount and Namespace too); live
  // lost the Secret and holds a Deployment scaled since.
  const auto deployment = k8s_fixture("deployment.json");
  const auto stored = [](const k8s::ojson& o) {
    const auto* type = k8s::Schema::builtin().message(o["apiVersion"].get<std::string>(), o["kind"].get<std::string>());
    return k8s::write_protobuf_envelope(o["apiVersion"].get<std::string>(), o["kind"].get<std::string>(),
                                        k8s::from_json(o, type)->SerializeAsString());
  };
  auto scaled = deployment;
  scaled["spec"]["replicas"] = 5;
  std::map<std::string, etcd::EtcdKeyValue> point, live;
  const auto put = [](auto& m, const std::string& key, std::string value, std::int64_t rev) {
    m[key] = etcd::EtcdKeyValue{key, std::move(value), rev, rev};
  };
  put(point, "/registry/deployments/payments/api", stored(deployment), 11);
  put(point, "/registry/secrets/payments/api-db", "k8s:enc:aescbc:v1:key1:xxxx", 9);
  put(point, "/registry/serviceaccounts/payments/api", "sa", 8);
  put(point, "/registry/namespaces/payments", "ns", 7);
  put(live, "/registry/deployments/payments/api", stored(scaled), 30);
  put(live, "/registry/serviceaccounts/payments/api", "sa", 8);
  put(live, "/registry/namespaces/payments", "ns", 7);
  const auto lookup = [](const std::map<std::string, etcd::EtcdKeyValue>& m) {
    return [&m](const std::string& key) -> std::optional<etcd::EtcdKeyValue> {
      const auto it = m.find(key);
      return it == m.end() ? std::nullopt : std::optional(it->second);
    };
  };
  restore::KeySelection sel;
  sel.objects = {restore::parse_object_choice("deployments/payments/api"), restore::parse_object_choice("cm/payments/gone")};

  auto plan = restore::plan_objects(sel, lookup(point), lookup(live), false, {});
  REQUIRE(plan.objects.size() == 2);
  CHECK(plan.objects[0].state == restore::ChosenObject::State::differs);
  CHECK(plan.objects[0].live_mod_revision == 30);
  REQUIRE(plan.objects[0].changes.size() == 1);
  CHECK(k8s::change_text(plan.objects[0].changes[0]) == "spec.replicas: 5 -> 3");
  CHECK(plan.objects[1].state == restore::ChosenObject::State::missing_at_point);
  REQUIRE(plan.missing.size() == 1);
  CHECK(plan.missing[0].text() == "Secret payments/api-db");
  CHECK(plan.missing[0].needed_by == "Deployment payments/api");
  CHECK(plan.missing[0].at_point);
  CHECK_FALSE(plan.missing[0].added);
  CHECK(plan.added.empty());
  CHECK(plan.live_dependencies == 2);

  plan = restore::plan_objects(sel, lookup(point), lookup(live), true, {});
  REQUIRE(plan.added.size() == 1);
  CHECK(plan.added[0].key == "/registry/secrets/payments/api-db");
  CHECK(plan.added[0].value == "k8s:enc:aescbc:v1:key1:xxxx");  // as stored: still encrypted

  // A dependency the restore puts back anyway (its namespace is chosen) is not listed.
  sel.namespaces = {"payments"};
  plan = restore::plan_objects(sel, lookup(point), lookup(live), false, {});
  CHECK(plan.missing.empty());

  // Live holds it as the point does.
  live["/registry/deployments/payments/api"] = point["/registry/deployments/payments/api"];
  sel.namespaces.clear();
  plan = restore::plan_objects(sel, lookup(point), lookup(live), false, {});
  CHECK(plan.objects[0].state == restore::ChosenObject::State::same);
  live.erase("/registry/deployments/payments/api");
  plan = restore::plan_objects(sel, lookup(point), lookup(live), false, {});
  CHECK(plan.objects[0].state == restore::ChosenObject::State::create);
}

TEST_CASE("a Secret's values never appear in a diff: changed ones are masked before and after, as kubectl diff does") {
  auto a = k8s_fixture("secret-db.json"), b = a;
  b["data"]["password"] = "bmV3LXBhc3N3b3Jk";
  b["data"]["token"] = "dG9rZW4=";
  b["metadata"]["labels"] = {{"app", "api"}};
  std::string all;
  for (const auto& f : k8s::diff_fields(a, b)) all += k8s::change_text(f) + "\n";
  CHECK(all == "data.password: \"*** (before)\" -> \"*** (after)\"\n"
               "data.token: (none) -> \"***\"\n"
               "metadata.labels: (none) -> {\"app\":\"api\"}\n");
  b.erase("data");
  const auto whole = k8s::diff_fields(a, b);
  REQUIRE(whole.size() == 2);
  CHECK(k8s::change_text(whole[0]) == "data: {\"password\":\"***\",\"username\":\"***\"} -> (none)");
  // a ConfigMap's data is no secret
  auto c = k8s_fixture("configmap.json"), d = c;
  d["data"]["LOG_LEVEL"] = "debug";
  CHECK(k8s::change_text(k8s::diff_fields(c, d).front()) == "data.LOG_LEVEL: \"info\" -> \"debug\"");
}

TEST_CASE("whether an object's deletion was asked for is read from its stored value, protobuf or JSON") {
  auto pod = k8s_fixture("pod.json");
  const auto stored = [](const k8s::ojson& o) {
    const auto* type = k8s::Schema::builtin().message(o["apiVersion"].get<std::string>(), o["kind"].get<std::string>());
    return k8s::write_protobuf_envelope(o["apiVersion"].get<std::string>(), o["kind"].get<std::string>(),
                                        k8s::from_json(o, type)->SerializeAsString());
  };
  auto s = core::object_state(stored(pod));
  CHECK(s.readable);
  CHECK_FALSE(s.deleting);
  pod["metadata"]["deletionTimestamp"] = "2026-12-01T09:00:00Z";
  s = core::object_state(stored(pod));
  CHECK(s.readable);
  CHECK(s.deleting);
  CHECK(core::object_state(R"({"metadata":{"deletionTimestamp":"2026-12-01T09:00:00Z"}})").deleting);
  CHECK_FALSE(core::object_state(R"({"metadata":{"deletionTimestamp":null}})").deleting);
  CHECK_FALSE(core::object_state("k8s:enc:aescbc:v1:key1:xxxx").readable);
}
