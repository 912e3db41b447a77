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

TEST_CASE("etcd loss: writes the change journal holds past the restored point are a loss, and said so") {
  auto l = answered(10, 10);
  l.journal_revision = 30;
  CHECK(l.journal_past_backup());
  CHECK(l.loses_data());
  CHECK_FALSE(l.loses_live_data());
  CHECK(l.text().find("the change journal holds 20 more revisions of this cluster, up to revision 30") != std::string::npos);
  CHECK(l.text().find("nothing written since") == std::string::npos);
  const auto back = EtcdLoss::from_json(l.to_json());
  CHECK(back.journal_revision == 30);
  CHECK(back.text() == l.text());
  l.backup_revision = l.live_revision = 30;  // to=latest
  CHECK_FALSE(l.loses_data());
  CHECK(l.text() == "live etcd at revision 30, the backup at revision 30; the point restored is the change journal's "
                    "end: nothing acknowledged is lost");
}

TEST_CASE("etcd loss: a live etcd that went back below the journal's end lost its data dir, and holds nothing newer") {
  auto l = answered(40, 30);  // emptied, then written past the backup's revision by the API server
  l.journal_revision = 30;
  CHECK(l.live_went_back() == false);  // not below the journal's end: newer writes, counted
  CHECK(l.loses_data());
  l.journal_revision = 55;  // the journal reached 55 before the data dir was lost
  l.backup_revision = 55;
  CHECK(l.live_went_back());
  CHECK_FALSE(l.loses_data());
  CHECK(l.text().find("went back to revision 40 with 8 keys, below the change journal's 55: it lost its data dir") !=
        std::string::npos);
}
