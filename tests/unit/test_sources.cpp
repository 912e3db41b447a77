#include <catch2/catch.hpp>

#include "backup/sources.hpp"
#include "core/error.hpp"
#include "core/static_pods.hpp"
#include "temp_dir.hpp"

using namespace kdr;

namespace {
const char* apiserver = R"(apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver
spec:
  containers:
  - image: registry.k8s.io/kube-apiserver:v1.31.2
    name: kube-apiserver
  volumes:
  - hostPath:
      path: /etc/kubernetes/pki
      type: DirectoryOrCreate
    name: k8s-certs
  - hostPath:
      path: /etc/kubernetes/encryption/config.yaml
      type: File
    name: encryption
  - hostPath:
      path: /srv/audit/
    name: audit
  - hostPath:
      path: /var/log/kubernetes
    name: audit-log
  - emptyDir: {}
    name: scratch
)";

const backup::Source* find(const backup::SourcePlan& plan, const std::string& path) {
  for (const auto& s : plan.sources)
    if (s.path == path) return &s;
  return nullptr;
}
}  // namespace

TEST_CASE("a static pod manifest yields its images and hostPath volumes") {
  auto pod = core::parse_static_pod(apiserver, "/etc/kubernetes/manifests/kube-apiserver.yaml");
  CHECK(pod.name == "kube-apiserver");
  CHECK(pod.images == std::vector<std::string>{"registry.k8s.io/kube-apiserver:v1.31.2"});
  REQUIRE(pod.host_paths.size() == 4);
  CHECK(pod.host_paths[1].path == "/etc/kubernetes/encryption/config.yaml");
  CHECK(pod.host_paths[1].type == "File");
}

TEST_CASE("bad static pod manifests are refused with the file and line") {
  CHECK_THROWS_WITH(core::parse_static_pod("kind: Deployment\n", "m.yaml"), Catch::Contains("m.yaml") && Catch::Contains("Deployment"));
  CHECK_THROWS_WITH(core::parse_static_pod("kind: Pod\nspec:\n  volumes:\n  - hostPath: {}\n", "m.yaml"),
                    Catch::Contains("m.yaml:4") && Catch::Contains("without a path"));
  CHECK_THROWS_WITH(core::parse_static_pod("kind: Pod\nspec: [\n", "m.yaml"), Catch::Contains("not valid YAML"));
}

TEST_CASE("sources: config plus hostPaths, each path once, with reasons") {
  test::TempDir tmp;
  const auto root = tmp.path();
  test::write(root / "etc/kubernetes/manifests/kube-apiserver.yaml", apiserver);
  test::write(root / "etc/kubernetes/manifests/.etcd.yaml.swp", "not: [yaml");
  test::write(root / "etc/kubernetes/manifests/broken.yaml", "kind: Pod\nspec: [\n");
  test::write(root / "etc/kubernetes/encryption/config.yaml", "kind: EncryptionConfiguration\n");
  test::write(root / "var/lib/etcd/member/snap/db", "x");
  test::write(root / "srv/audit/policy.yaml", "rules: []\n");

  auto plan = backup::plan_sources(core::default_config(), core::NodeRoot(root));

  // hostPaths inside /etc/kubernetes are covered by it, not added again
  CHECK(find(plan, "/etc/kubernetes/pki") == nullptr);
  CHECK(find(plan, "/etc/kubernetes/encryption/config.yaml") == nullptr);
  // a hostPath outside every configured source is added, with its reason
  const auto* audit = find(plan, "/srv/audit");
  REQUIRE(audit != nullptr);
  CHECK(audit->present);
  CHECK_FALSE(audit->required);
  CHECK_THAT(backup::join_reasons(*audit), Catch::Contains("hostPath 'audit' of kube-apiserver"));
  // excluded paths never become sources
  CHECK(find(plan, "/var/log/kubernetes") == nullptr);
  bool excluded_noted = false, covered_noted = false;
  for (const auto& n : plan.notes) {
    excluded_noted |= n.find("/var/log/kubernetes excluded") != std::string::npos;
    covered_noted |= n.find("/etc/kubernetes/encryption/config.yaml is inside /etc/kubernetes") != std::string::npos;
  }
  CHECK(excluded_noted);
  CHECK(covered_noted);
  // etcd's data dir is required (no etcd manifest here: the config's etcd_data_dir);
  // missing optional sources are warned about
  REQUIRE(find(plan, "/var/lib/etcd") != nullptr);
  CHECK(find(plan, "/var/lib/etcd")->required);
  CHECK_THAT(backup::join_reasons(*find(plan, "/var/lib/etcd")), Catch::Contains("config etcd_data_dir"));
  CHECK_FALSE(find(plan, "/etc/ssl/certs")->present);
  bool missing_warned = false, broken_warned = false, hidden_read = false;
  for (const auto& w : plan.warnings) {
    missing_warned |= w.find("/etc/ssl/certs does not exist") != std::string::npos;
    broken_warned |= w.find("broken.yaml") != std::string::npos;
    hidden_read |= w.find(".etcd.yaml.swp") != std::string::npos;
  }
  CHECK(missing_warned);
  CHECK(broken_warned);
  CHECK_FALSE(hidden_read);
  // no source lies inside another
  for (const auto& a : plan.sources)
    for (const auto& b : plan.sources)
      if (&a != &b) CHECK_FALSE(core::path_is_within(a.path, b.path));
}

TEST_CASE("a hostPath that contains a configured source replaces it") {
  test::TempDir tmp;
  test::write(tmp.path() / "etc/kubernetes/manifests/x.yaml",
              "kind: Pod\nmetadata: {name: x}\nspec:\n  volumes:\n  - name: all\n    hostPath: {path: /etc}\n");
  auto config = core::parse_config("sources:\n  - path: /etc/kubernetes\n    required: true\n", "t");
  auto plan = backup::plan_sources(config, core::NodeRoot(tmp.path()));
  REQUIRE(plan.sources.size() == 2);  // /etc, and etcd's data dir
  CHECK(plan.sources[0].path == "/etc");
  CHECK(plan.sources[0].required);  // inherits: /etc/kubernetes is required inside it
  CHECK(plan.sources[1].path == "/var/lib/etcd");
}

TEST_CASE("the EncryptionConfiguration kube-apiserver names is backed up wherever it lives, even excluded or undiscovered") {
  test::TempDir tmp;
  const auto root = tmp.path();
  const std::string manifest = R"(apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver
spec:
  containers:
  - name: kube-apiserver
    command:
    - kube-apiserver
    - --encryption-provider-config=/etc/enc/config.yaml
    volumeMounts:
    - mountPath: /etc/enc
      name: enc
  volumes:
  - hostPath:
      path: /srv/secrets/enc
    name: enc
)";
  test::write(root / "etc/kubernetes/manifests/kube-apiserver.yaml", manifest);
  test::write(root / "srv/secrets/enc/config.yaml", "kind: EncryptionConfiguration\n");
  auto config = core::default_config();
  config.discover_host_paths = false;
  config.exclude.push_back("/srv/secrets");
  const auto plan = backup::plan_sources(config, core::NodeRoot(root));
  const auto* enc = find(plan, "/srv/secrets/enc/config.yaml");
  REQUIRE(enc != nullptr);
  CHECK(enc->present);
  CHECK_THAT(backup::join_reasons(*enc), Catch::Contains("kube-apiserver's --encryption-provider-config"));
  // Without that rule it would not be there: hostPath discovery is off and /srv/secrets excluded.
  CHECK(find(plan, "/srv/secrets/enc") == nullptr);
  // The copy does not apply the exclusion that would leave it out, and says so.
  CHECK(plan.excludes == std::vector<std::string>(config.exclude.begin(), config.exclude.end() - 1));
  bool warned = false;
  for (const auto& w : plan.warnings) warned |= w.find("host_paths.exclude /srv/secrets would leave out") != std::string::npos;
  CHECK(warned);
}
