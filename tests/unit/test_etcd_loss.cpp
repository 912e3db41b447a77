#include <catch2/catch.hpp>

#include "restore/etcd_loss.hpp"

using kdr::restore::EtcdLoss;

namespace {
EtcdLoss answered(std::int64_t live, std::int64_t backup) {
  EtcdLoss l;
  l.answered = true;
  l.endpoint = "https://127.0.0.1:2379";
  l.live_revision = live;
  l.backup_revision = backup;
  l.live_cluster_id = l.backup_cluster_id = "2cd75fc89e92fc1e";
  l.live_keys = 8;
  return l;
}
}  // namespace

TEST_CASE("etcd loss: a live etcd newer than the backup loses the changes and keys written since") {
  auto l = answered(15, 10);
  l.keys_changed = 2;
  CHECK(l.loses_data());
  CHECK(l.text() == "live etcd at revision 15, the backup at revision 10: 5 changes and 2 keys written since the "
                    "backup will be lost");
  l.live_revision = 11;
  l.keys_changed = 1;
  CHECK(l.text() == "live etcd at revision 11, the backup at revision 10: 1 change and 1 key written since the backup "
                    "will be lost");
}

TEST_CASE("etcd loss: nothing is lost when the live etcd is not newer, unknown when it does not answer") {
  auto l = answered(10, 10);
  CHECK_FALSE(l.loses_data());
  CHECK(l.text() == "live etcd at revision 10, the backup at revision 10: nothing written since the backup is lost");
  EtcdLoss down;
  down.unknown_because = "etcd at https://127.0.0.1:2379 is unreachable";
  CHECK_FALSE(down.loses_data());
  CHECK(down.text() == "cannot tell what is lost: the live etcd does not answer (etcd at https://127.0.0.1:2379 is "
                       "unreachable)");
}

TEST_CASE("etcd loss: another cluster counts its own revisions, an unknown backup revision assumes the worst") {
  auto emptied = answered(3, 10);  // etcd started again on an emptied data dir
  emptied.live_cluster_id = "99";
  CHECK(emptied.other_cluster());
  CHECK_FALSE(emptied.loses_data());
  CHECK(emptied.text().find("is cluster 99, not cluster 2cd75fc89e92fc1e") != std::string::npos);
  auto restored = answered(1000000020, 10);  // restored since, revision bumped
  restored.live_cluster_id = "99";
  CHECK(restored.loses_data());
  auto unknown = answered(15, 0);
  CHECK(unknown.loses_data());
  CHECK(unknown.text().find("recorded no revision") != std::string::npos);
}

TEST_CASE("etcd loss: survives the journal (JSON) unchanged") {
  auto l = answered(15, 10);
  l.keys_changed = 2;
  const auto back = EtcdLoss::from_json(l.to_json());
  CHECK(back.text() == l.text());
  CHECK(back.loses_data());
  CHECK(back.keys_changed == l.keys_changed);
  CHECK(back.live_keys == l.live_keys);
  CHECK(l.to_json().at("loses_data") == true);
}
