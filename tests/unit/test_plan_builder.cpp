// The plan builder (restore/plan_builder.hpp) on the fake node of restore_fixture.hpp: each
// shipped playbook's plan for a stacked node, a node whose etcd keeps its data elsewhere, an
// external etcd, and a point of the change journal; and plan.json as kdr 0.x wrote it
// (tests/fixtures/restore-journals) read into the typed plan and written back unchanged.
#include <catch2/catch.hpp>

#include "core/repository.hpp"
#include "restore/plan_builder.hpp"
#include "restore/step.hpp"
#include "restore_fixture.hpp"
#include "written_journal.hpp"

using namespace kdr;
using restore::Var;
using test::RestoreFixture;

namespace {

restore::BuiltPlan plan_for(const RestoreFixture& f, const std::string& playbook, const std::vector<std::string>& set = {}) {
  const auto ctx = f.context();
  const auto pb = restore::find_playbook(playbook, restore::playbook_dirs({}));
  const auto repo = core::Repository::open(f.backup_dir);
  return restore::build_plan(ctx, pb, repo.find("latest"), set);
}

std::vector<std::string> step_names(const restore::Plan& plan) {
  std::vector<std::string> out;
  for (const auto& s : plan.steps) out.emplace_back(restore::to_string(s.type));
  return out;
}

const restore::PlannedStep* first_of(const restore::Plan& plan, restore::StepType type) {
  for (const auto& s : plan.steps)
    if (s.type == type) return &s;
  return nullptr;
}

}  // namespace

TEST_CASE("plan builder: every shipped playbook on a stacked node names its etcd member, its variables and its steps") {
  RestoreFixture f;
  const auto gen = f.backup();
  for (const auto* name : {"restore-files", "restore-etcd-snapshot", "rebuild-node", "restore-etcd-keys",
                           "replace-etcd-member", "restore-etcd-cluster"}) {
    INFO(name);
    std::vector<std::string> set;
    if (std::string(name) == "restore-etcd-keys") set = {"namespace=payments"};
    const auto built = plan_for(f, name, set);
    const auto& p = built.plan;
    CHECK(p.playbook == name);
    CHECK(p.generation == gen);
    CHECK(p.etcd.kind == etcd::EtcdKind::static_pod);
    CHECK(p.etcd.name == "cp1");
    CHECK(p.etcd.peer_url == "https://10.0.0.10:2380");
    CHECK(p.etcd.data_dir == "/var/lib/etcd");
    CHECK(p.var(Var::etcd_data_dir) == "/var/lib/etcd");
    CHECK(p.var(Var::generation) == gen);
    CHECK(p.var(Var::restore_dir) == f.node("/var/lib/kdr/restores/" + p.id).string());
    CHECK(p.var(Var::kubeadm_etcd_dir_check) == "DirAvailable--var-lib-etcd");
    CHECK_FALSE(p.steps.empty());
    for (const auto& s : p.steps) CHECK(s.blocked.empty());
    // What replaces etcd's data measures what it would lose, before anything stops; the rest does not.
    const bool replaces = std::any_of(p.steps.begin(), p.steps.end(),
                                      [&](const restore::PlannedStep& s) { return restore::replaces_etcd_data(s, p); });
    const bool rejoins = restore::plan_has(p, &restore::StepTraits::rejoins_cluster);
    CHECK(p.etcd.loss.has_value() == (replaces && !rejoins));
    if (p.etcd.loss) CHECK(p.etcd.loss->answered);
    CHECK_FALSE(p.etcd.replay);
  }
  const auto files = plan_for(f, "restore-files").plan;
  CHECK(step_names(files) ==
        std::vector<std::string>{"preflight", "stop-static-pods", "wait-stopped", "move-aside", "copy-back",
                                 "start-static-pods", "wait-healthy"});
  CHECK(files.var(Var::etcd_restored_from) == "files");
  const auto snapshot = plan_for(f, "restore-etcd-snapshot").plan;
  CHECK(snapshot.var(Var::etcd_restored_from) == "snapshot");
  CHECK(snapshot.var(Var::to) == "snapshot");
  // rebuild-node's kubeadm steps use the generation's saved configuration
  const auto rebuild = plan_for(f, "rebuild-node").plan;
  CHECK(rebuild.var(Var::kubeadm_config).rfind(f.generation(gen).string(), 0) == 0);
  CHECK(first_of(rebuild, restore::StepType::kubeadm) != nullptr);
}

TEST_CASE("plan builder: an etcd whose manifest keeps its data elsewhere is restored there, and the steps name that dir") {
  RestoreFixture f;
  const auto manifest = f.node("/etc/kubernetes/manifests/etcd.yaml");
  auto text = core::read_file(manifest);
  for (auto at = text.find("/var/lib/etcd"); at != std::string::npos; at = text.find("/var/lib/etcd", at))
    text.replace(at, 13, "/data/etcd");
  test::write(manifest, text);
  core::bfs::create_directories(f.node("/data"));
  core::bfs::rename(f.node("/var/lib/etcd"), f.node("/data/etcd"));
  f.extra_config = "etcd_data_dir: /data/etcd\n";
  f.backup();
  const auto p = plan_for(f, "restore-etcd-snapshot").plan;
  CHECK(p.etcd.data_dir == "/data/etcd");
  CHECK(p.var(Var::etcd_data_dir) == "/data/etcd");
  CHECK(p.var(Var::kubeadm_etcd_dir_check) == "DirAvailable--data-etcd");
  const auto* aside = first_of(p, restore::StepType::move_aside);
  REQUIRE(aside);
  CHECK(aside->values.value("path", "") == "/data/etcd");
  CHECK(p.holds_etcd_data("/data/etcd"));
  CHECK_FALSE(p.holds_etcd_data("/var/lib/etcd"));
}

TEST_CASE("plan builder: with an external etcd a snapshot restore is refused with the commands, and restore-files leaves etcd out") {
  RestoreFixture f;
  core::remove_tree(f.node("/etc/kubernetes/manifests/etcd.yaml"));
  core::remove_tree(f.node("/var/lib/etcd"));
  test::write(f.node("/etc/kubernetes/manifests/kube-apiserver.yaml"),
              "apiVersion: v1\nkind: Pod\nmetadata: {name: kube-apiserver, namespace: kube-system}\nspec:\n"
              "  containers:\n  - command:\n    - kube-apiserver\n    - --etcd-servers=http://127.0.0.1:5\n"
              "    image: registry.k8s.io/kube-apiserver:v1.31.2\n    name: kube-apiserver\n");
  f.etcd->serve("http://127.0.0.1:5", f.live);
  f.backup();
  CHECK_THROWS_WITH(plan_for(f, "restore-etcd-snapshot"),
                    Catch::Contains("external etcd") && Catch::Contains("etcdutl snapshot restore") &&
                        Catch::Contains("Nothing was changed"));
  const auto p = plan_for(f, "restore-files").plan;
  CHECK(p.etcd.kind == etcd::EtcdKind::external);
  CHECK_FALSE(p.etcd.on_node());
  CHECK(p.etcd.data_dir.empty());
  CHECK_FALSE(p.etcd.loss);
  for (const auto& s : p.steps) CHECK(s.values.dump().find("/var/lib/etcd") == std::string::npos);
  CHECK(std::any_of(p.notes.begin(), p.notes.end(),
                    [](const std::string& n) { return n.find("etcd is not restored by this plan") != std::string::npos; }));
}

TEST_CASE("plan builder: to=REVISION resolves a point of the change journal once, and the plan keeps the replay") {
  RestoreFixture f;
  const auto gen = f.backup();
  test::WrittenJournal journal(f, gen);
  journal.write("/registry/configmaps/default/app", "app v2");  // 10
  journal.write("/registry/namespaces/default", std::nullopt);  // 11
  journal.close();
  const auto p = plan_for(f, "restore-etcd-snapshot", {"to=10", "accept_loss=true"}).plan;
  REQUIRE(p.etcd.replay);
  CHECK(p.etcd.replay->target_revision == 10);
  CHECK(p.etcd.replay->base_revision == 9);
  CHECK(p.etcd.replay->events == 1);
  CHECK(p.etcd.replay->base == "generation " + gen);
  CHECK(p.var(Var::to) == "10");
  CHECK(p.var(Var::etcd_restored_from) == "replayed");
  REQUIRE(p.etcd.loss);
  CHECK(p.etcd.loss->backup_revision == 10);
  CHECK(restore::plan_has(p, &restore::StepTraits::replays_journal));
  // latest: the journal's end
  CHECK(plan_for(f, "restore-etcd-snapshot", {"to=latest", "accept_loss=true"}).plan.etcd.replay->target_revision == 11);
}

TEST_CASE("plan.json as kdr 0.x wrote it reads into the typed plan and is written back the same") {
  for (const auto* name : {"restore-etcd-snapshot", "restore-etcd-snapshot-to-revision", "restore-etcd-keys", "rebuild-node"}) {
    INFO(name);
    const auto file = core::bfs::path(KDR_SOURCE_DIR) / "tests/fixtures/restore-journals" / name / "plan.json";
    const auto written = nlohmann::json::parse(core::read_file(file));
    const auto plan = restore::Plan::from_json(written, "/var/lib/kdr");
    CHECK(plan.to_json() == written);
    CHECK(plan.etcd.name == "cp1");
    CHECK(plan.steps.size() == written.at("steps").size());
    const auto header = restore::PlanHeader::from_json(written);
    CHECK(header.id == plan.id);
    CHECK(header.steps == plan.steps.size());
    CHECK(header.vars == plan.vars);
  }
}
