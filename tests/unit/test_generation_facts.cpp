// meta.json read into typed facts: the format number (older accepted, newer refused), the
// etcd and node sections, and errors that name the field when a value has the wrong type.
#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "core/generation.hpp"

using namespace kdr;
using nlohmann::json;

namespace {

json minimal_meta() {
  return {{"kdr_generation", 1}, {"id", "2026-11-28T080000Z"}, {"status", "complete"}, {"time", 1795939200}};
}

}  // namespace

TEST_CASE("a generation's format: this one and older are read, a newer one is refused naming both") {
  auto j = minimal_meta();
  CHECK_NOTHROW(core::GenerationMeta::from_json(j, "g/meta.json"));
  j["kdr_generation"] = core::generation_format_version + 1;
  CHECK_THROWS_WITH(core::GenerationMeta::from_json(j, "g/meta.json"),
                    Catch::Contains("g/meta.json: written by a newer kdr (generation format 2;") &&
                        Catch::Contains("reads formats up to 1)"));
  j.erase("kdr_generation");
  CHECK_THROWS_WITH(core::GenerationMeta::from_json(j, "g/meta.json"), Catch::Contains("not a kdr generation"));
}

TEST_CASE("the etcd and node sections are read once into typed facts, and written back the same") {
  auto j = minimal_meta();
  j["etcd"] = {{"snapshot",
                {{"file", "etcd/snapshot.db.zst"}, {"compression", "zstd"}, {"revision", 1234}, {"keys", 77},
                 {"total_keys", 90}, {"db_size", 4096}, {"cluster_id", "cdf818194e3a8c32"}}},
               {"members", json::array({json{{"id", "8e9e05c52164694d"}, {"name", "cp-1"}, {"peer_urls", {"https://10.0.0.1:2380"}}}})}};
  const json image = {{"image", "k8s/kube-apiserver:v1.31.2"}, {"version", "v1.31.2"}};
  const json pod = {{"name", "kube-apiserver"}, {"images", json::array({image})}};
  j["node"] = {{"hostname", "cp-1"},
               {"addresses", {"10.0.0.1"}},
               {"static_pods", json::array({pod})},
               {"etcd", {{"kind", "static-pod"}, {"data_dir", "/data/etcd"}, {"problems", {"a problem"}}}},
               {"kubeadm_config", "node/kubeadm-config.yaml"}};
  j["verify"] = {{"kept", "as written"}};
  const auto m = core::GenerationMeta::from_json(j, "g/meta.json");
  REQUIRE(m.etcd.snapshot);
  CHECK(m.etcd.snapshot->revision == 1234);
  CHECK(m.etcd.snapshot->keys == std::optional<std::uint64_t>(77));
  CHECK(m.etcd.snapshot->compression == "zstd");
  CHECK(m.etcd.members.at(0).first_peer_url() == "https://10.0.0.1:2380");
  CHECK(m.node.pod_version("kube-apiserver") == "v1.31.2");
  CHECK(m.node.recorded_etcd_data_dir() == "/data/etcd");
  CHECK(m.node.kubeadm_config == "node/kubeadm-config.yaml");
  CHECK(m.extra.at("verify") == json{{"kept", "as written"}});
  // Written back, read again: the same facts (and the layout's other fields kept).
  const auto again = core::GenerationMeta::from_json(m.to_json(), "again");
  CHECK(again.etcd.to_json() == m.etcd.to_json());
  CHECK(again.node.to_json() == m.node.to_json());
  CHECK(again.node.etcd->raw.at("problems") == json{"a problem"});
}

TEST_CASE("etcd's HashKV recorded beside the snapshot reads back, at the snapshot's revision only") {
  auto j = minimal_meta();
  j["etcd"] = {{"snapshot", {{"revision", 1234}, {"hashkv", {{"revision", 1234}, {"hash", 3653553185u}, {"compact_revision", -1}}}}}};
  const auto m = core::GenerationMeta::from_json(j, "g/meta.json");
  REQUIRE(m.etcd.snapshot->hashkv);
  CHECK(m.etcd.snapshot->hashkv->hash == 3653553185u);
  CHECK(m.etcd.snapshot->hashkv->compact_revision == -1);
  CHECK(core::GenerationMeta::from_json(m.to_json(), "again").etcd.to_json() == m.etcd.to_json());
  // etcd 3.4 (no HashKV in its gateway), and generations from before kdr recorded it
  j["etcd"]["snapshot"]["hashkv"] = nullptr;
  CHECK_FALSE(core::GenerationMeta::from_json(j, "g/meta.json").etcd.snapshot->hashkv);
  j["etcd"]["snapshot"]["hashkv"] = {{"revision", 99}, {"hash", 1}};
  CHECK_THROWS_WITH(core::GenerationMeta::from_json(j, "g/meta.json"),
                    Catch::Contains("g/meta.json: etcd.snapshot.hashkv.revision: not the snapshot's revision 1234"));
  j["etcd"]["snapshot"]["hashkv"] = {{"revision", 1234}, {"hash", "1"}};
  CHECK_THROWS_WITH(core::GenerationMeta::from_json(j, "g/meta.json"),
                    Catch::Contains("etcd.snapshot.hashkv.hash: \"1\" is not a whole number"));
}

TEST_CASE("a generation without etcd or node sections reads as not recorded, without a snapshot") {
  const auto m = core::GenerationMeta::from_json(minimal_meta(), "g/meta.json");
  CHECK_FALSE(m.etcd.recorded);
  CHECK_FALSE(m.etcd.snapshot);
  CHECK(m.etcd.no_snapshot_reason() == "none taken");
  CHECK_FALSE(m.node.recorded_etcd_data_dir());
  CHECK(m.to_json().contains("etcd") == false);
}

TEST_CASE("a field of the wrong type is an error naming the file and the field, not a silent default") {
  auto j = minimal_meta();
  j["etcd"] = {{"snapshot", {{"revision", "1234"}}}};
  CHECK_THROWS_WITH(core::GenerationMeta::from_json(j, "g/meta.json"),
                    Catch::Contains("g/meta.json: etcd.snapshot.revision: \"1234\" is not a whole number"));
  j = minimal_meta();
  j["node"] = {{"addresses", "10.0.0.1"}};
  CHECK_THROWS_WITH(core::GenerationMeta::from_json(j, "g/meta.json"), Catch::Contains("g/meta.json: node.addresses"));
  j = minimal_meta();
  j["etcd"] = {{"members", json::array({json{{"learner", "no"}}})}};
  CHECK_THROWS_WITH(core::GenerationMeta::from_json(j, "g/meta.json"),
                    Catch::Contains("etcd.members[0].learner: \"no\" is not true or false"));
}

TEST_CASE("a generation says which member took its snapshot, and flags a learner or a member out of the cluster") {
  core::EtcdFacts etcd;
  etcd.snapshot = core::EtcdSnapshotRecord{};
  etcd.snapshot->cluster_id = "5e1a";
  etcd.snapshot->member_id = "b2";
  auto member = [](std::string id, std::string name, bool learner) {
    core::EtcdMemberRecord m;
    m.id = std::move(id);
    m.name = std::move(name);
    m.learner = learner;
    return m;
  };
  etcd.members = {member("a1", "cp-1", false), member("b2", "cp-2", false), member("c3", "cp-3", false)};
  CHECK(etcd.snapshot_member_problem().empty());
  CHECK(etcd.cluster_text() == "cluster 5e1a, 3 members: cp-1, cp-2, cp-3; the snapshot from cp-2");

  etcd.members[1].learner = true;
  CHECK(etcd.snapshot_member_problem() ==
        "the snapshot was taken from member cp-2 (b2), a learner: it may lag behind the voting members");
  CHECK(etcd.cluster_text() == "cluster 5e1a, 3 members: cp-1, cp-2 (learner), cp-3; the snapshot from cp-2");

  etcd.members.erase(etcd.members.begin() + 1);
  CHECK(etcd.snapshot_member_problem().find("member b2, which the cluster's member list does not hold") !=
        std::string::npos);

  etcd.members.clear();  // no list recorded: nothing to say
  CHECK(etcd.snapshot_member_problem().empty());
  CHECK(etcd.cluster_text().empty());
}
