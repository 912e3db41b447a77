#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "verify/etcd_live.hpp"

using namespace kdr::verify;

namespace {
EtcdLiveFacts healthy() {
  EtcdLiveFacts f;
  f.backup_revision = 100;
  f.backup_keys = 60;
  f.backup_db_size = 364544;
  f.backup_cluster_id = f.cluster_id = "2cd75fc89e92fc1e";
  f.answered = true;
  f.endpoint = "https://127.0.0.1:2379";
  f.revision = 120;
  f.keys = 61;
  f.data_dir = "/var/lib/etcd";
  f.db_file_size = 400000;
  return f;
}
std::vector<std::string> kinds(const Findings& f) {
  std::vector<std::string> out;
  for (const auto& x : f.all()) out.push_back(std::string(to_string(x.severity)) + " " + x.kind);
  return out;
}
}  // namespace

TEST_CASE("live etcd: a healthy etcd that kept writing is no finding") {
  Findings f;
  judge_etcd_live(healthy(), f);
  CHECK(f.all().empty());
}

TEST_CASE("live etcd: crash-looping on a truncated database is two errors, down and db-shrunk") {
  auto facts = healthy();
  facts.answered = false;
  facts.error = "etcd at https://127.0.0.1:2379 cannot be reached (is it running?): Connection refused";
  facts.db_file_size = 4096;
  Findings f;
  judge_etcd_live(facts, f);
  CHECK(kinds(f) == std::vector<std::string>{"error down", "error db-shrunk"});
  CHECK(f.all()[1].path == "/var/lib/etcd/member/snap/db");
  CHECK(f.all()[1].detail.find("4096 bytes, the backup's was 364544") != std::string::npos);
}

TEST_CASE("live etcd: a small database that answers with its keys is whole (a snapshot restore rewrote it)") {
  auto facts = healthy();
  facts.db_file_size = 20480;
  Findings f;
  judge_etcd_live(facts, f);
  CHECK(f.all().empty());
}

TEST_CASE("live etcd: far fewer keys than the snapshot is an error that says why") {
  auto facts = healthy();
  facts.keys = 29;
  Findings deleted;
  judge_etcd_live(facts, deleted);
  REQUIRE(kinds(deleted) == std::vector<std::string>{"error keys-missing"});
  CHECK(deleted.all()[0].detail ==
        "etcd serves 29 keys, the backup's snapshot holds 60: most of the data is gone (deleted since the backup)");
  facts.cluster_id = "99";
  facts.revision = 3;
  Findings emptied;
  judge_etcd_live(facts, emptied);
  REQUIRE(kinds(emptied) == std::vector<std::string>{"error keys-missing"});
  CHECK(emptied.all()[0].detail.find("etcd is cluster 99, the backup's was 2cd75fc89e92fc1e") != std::string::npos);
  facts.keys = 30;  // half: not "far fewer"
  Findings half;
  judge_etcd_live(facts, half);
  CHECK(half.all().empty());
}

TEST_CASE("live etcd: few keys at a revision that went back is a lost data dir, not keys deleted") {
  auto facts = healthy();
  facts.keys = 8;
  facts.revision = 4;  // the same cluster id, counting from 1 again
  Findings f;
  judge_etcd_live(facts, f);
  REQUIRE(kinds(f) == std::vector<std::string>{"error data-dir-lost"});
  CHECK(f.all()[0].detail.find("its revision went back, so etcd started afresh on an empty data dir") != std::string::npos);
  CHECK(f.all()[0].detail.find("the row \"lost data dir\"") != std::string::npos);
}

TEST_CASE("live etcd: a revision behind the backup's in the same cluster is an error, unless kdr put it back") {
  auto facts = healthy();
  facts.revision = 90;
  Findings f;
  judge_etcd_live(facts, f);
  CHECK(kinds(f) == std::vector<std::string>{"error rolled-back"});
  CHECK(f.all()[0].detail.find("kdr backup --allow-shrink") != std::string::npos);
  facts.went_back_accepted_by = "kdr restore 20261204-031200-restore-etcd-snapshot at 2026-12-04T03:14:00Z";
  Findings accepted;
  judge_etcd_live(facts, accepted);
  CHECK(kinds(accepted) == std::vector<std::string>{"info rolled-back"});
  CHECK(accepted.all()[0].detail.find("put back by kdr restore 20261204") != std::string::npos);
}

TEST_CASE("live etcd: behind the change journal's end is a lost data dir, with the journal's revision to restore") {
  auto facts = healthy();
  facts.revision = facts.backup_revision + 5;  // past the backup, below what the journal holds
  facts.journal_revision = facts.backup_revision + 40;
  Findings f;
  judge_etcd_live(facts, f);
  REQUIRE(kinds(f) == std::vector<std::string>{"error data-dir-lost"});
  CHECK(f.all()[0].detail.find(fmt::format("the change journal reaches revision {}", facts.journal_revision)) !=
        std::string::npos);
  CHECK(f.all()[0].detail.find("(to=auto) brings etcd back to it") != std::string::npos);
}

TEST_CASE("live etcd: the database-size rule is about etcd's own database file only") {
  CHECK(etcd_db_shrank("/var/lib/etcd/member/snap/db", "/var/lib/etcd", 4096, 364544));
  CHECK_FALSE(etcd_db_shrank("/var/lib/etcd/member/snap/db", "/var/lib/etcd", 100000, 364544));
  CHECK_FALSE(etcd_db_shrank("/var/lib/etcd/member/wal/0.wal", "/var/lib/etcd", 4096, 364544));
  CHECK_FALSE(etcd_db_shrank("/var/lib/etcd/member/snap/db", "", 4096, 364544));
}
