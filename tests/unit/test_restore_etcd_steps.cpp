// The restore's etcd steps against the in-memory etcd (fake_etcd.hpp): etcd-put-keys
// (restore-etcd-keys) writes into the running etcd and its rollback takes back exactly what it
// wrote; etcd-replay makes the keyspace at a journal revision in a private etcd, checked
// against the journal's digest, for the steps after it. tests/scenarios/restore_logical.sh and
// journal_point_in_time.sh run the same playbooks against a real etcd.
#include <catch2/catch.hpp>

#include <fstream>

#include "core/base64.hpp"
#include "etcd/replay.hpp"
#include "restore/journal.hpp"
#include "etcd/member_data.hpp"
#include "etcd/wal_replay.hpp"
#include "restore_fixture.hpp"
#include "written_journal.hpp"

using namespace kdr;
using test::RestoreFixture;
using Journal = test::WrittenJournal;

namespace {

// Whether `part` is in what kdr printed, which wraps long lines.
bool contains_words(const std::string& text, const std::string& part) {
  std::string flat;
  for (const char c : text) {
    const bool space = c == ' ' || c == '\n';
    if (space && !flat.empty() && flat.back() == ' ') continue;
    flat += space ? ' ' : c;
  }
  return flat.find(part) != std::string::npos;
}

const std::vector<std::string> payments_keys = {"/registry/configmaps/payments/rates",
                                                "/registry/namespaces/payments",
                                                "/registry/secrets/payments/api-key"};

void delete_payments(RestoreFixture& f) {
  for (const auto& k : payments_keys) f.live->write(k, std::nullopt);
}

// The URL a started etcd served ("etcd ... --listen-client-urls URL ...").
std::string served_url(const std::string& call) {
  const auto at = call.find("--listen-client-urls ") + 21;
  return call.substr(at, call.find(' ', at) - at);
}

std::string journal_text(const RestoreFixture& f, const std::string& id) {
  return core::read_file(f.node("/var/lib/kdr/restores") / id / "journal.jsonl");
}

std::size_t count_of(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (auto pos = text.find(part); pos != std::string::npos; pos = text.find(part, pos + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("restore-etcd-keys puts a deleted namespace back into the running etcd, and a rollback takes back exactly those keys") {
  RestoreFixture f;
  const auto at_backup = f.live->values();
  f.backup();
  delete_payments(f);
  f.live->write("/registry/configmaps/default/after", "written since the backup");
  const auto before = f.live->values();
  const auto files = f.tree();

  REQUIRE(f.restore("restore-etcd-keys", {"namespace=payments"}) == core::ExitCode::ok);
  INFO(f.printed.all());
  CHECK(contains_words(f.printed.out(), "snapshot holds 3 keys: configmaps 1, namespaces 1, secrets 1 for namespace payments"));
  CHECK(contains_words(f.printed.out(), "3 to write, 0 already live with the same value, 0 conflicts"));
  CHECK(contains_words(f.printed.out(), "wrote 3 keys into the live etcd: configmaps 1, namespaces 1, secrets 1"));
  auto expected = before;
  for (const auto& k : payments_keys) expected[k] = at_backup.at(k);
  CHECK(f.live->values() == expected);
  CHECK(f.live->batches == 1);  // the three keys journaled with one flush, written in one transaction
  CHECK(test::tree_diff(f.tree(), files) == "");  // no file of the node touched
  const auto id = f.restore_ids().at(0);
  CHECK(count_of(journal_text(f, id), "\"etcd-put\"") >= 3);
  CHECK(f.etcd->at(RestoreFixture::node_etcd_url) != nullptr);

  // The snapshot was read off a private copy of its file (by the preflight, then by the step):
  // no etcd started for it, only the node's serves.
  CHECK(f.programs->calls_of("etcd").empty());
  CHECK(f.etcd->served_count() == 1);

  REQUIRE(f.rollback(id) == core::ExitCode::ok);
  CHECK(f.live->values() == before);
  CHECK(contains_words(f.printed.out(), "deleted /registry/namespaces/payments (written by this restore)"));
}

TEST_CASE("restore-etcd-keys: a key written by someone else just before its transaction is left alone, the others of the transaction written one by one") {
  RestoreFixture f;
  const auto at_backup = f.live->values();
  f.backup();
  delete_payments(f);
  const std::string raced = "/registry/secrets/payments/api-key";
  f.live->before_batch = [&](test::FakeKeyspace& ks) { ks.write(raced, "written by kube-apiserver meanwhile"); };
  REQUIRE(f.restore("restore-etcd-keys", {"namespace=payments"}) == core::ExitCode::ok);
  INFO(f.printed.all());
  CHECK(f.live->batches == 0);  // the transaction's comparison failed: nothing of it applied
  CHECK(contains_words(f.printed.all(), raced + " changed in the live etcd while the restore ran: left as it is"));
  CHECK(contains_words(f.printed.out(), "wrote 2 keys into the live etcd: configmaps 1, namespaces 1"));
  CHECK(contains_words(f.printed.out(), "1 changed meanwhile, left as they are"));
  const auto now = f.live->values();
  CHECK(now.at(raced) == "written by kube-apiserver meanwhile");
  CHECK(now.at("/registry/configmaps/payments/rates") == at_backup.at("/registry/configmaps/payments/rates"));
  CHECK(now.at("/registry/namespaces/payments") == at_backup.at("/registry/namespaces/payments"));
}

TEST_CASE("restore-etcd-keys on an etcd that refuses its transaction as too large writes the keys one by one") {
  RestoreFixture f;
  const auto at_backup = f.live->values();
  f.backup();
  delete_payments(f);
  f.live->max_txn_ops = 2;  // etcd started with --max-txn-ops 2
  REQUIRE(f.restore("restore-etcd-keys", {"namespace=payments"}) == core::ExitCode::ok);
  INFO(f.printed.all());
  CHECK(f.live->batches == 0);
  CHECK(contains_words(f.printed.out(), "wrote 3 keys into the live etcd: configmaps 1, namespaces 1, secrets 1"));
  for (const auto& k : payments_keys) CHECK(f.live->values().at(k) == at_backup.at(k));
}

namespace {

// Rewrites one byte in the middle of `file`, as whoever can write the backup disk could.
void flip_a_byte(const core::bfs::path& file) {
  auto bytes = core::read_file(file);
  bytes[bytes.size() / 2] ^= 0x20;
  core::write_file_atomic(file, bytes, 0600);
}

// Rewrites every `from` in `file` to `to` (as long) in place: a reader that holds the file open
// reads the new bytes.
std::size_t rewrite_in_place(const core::bfs::path& file, const std::string& from, const std::string& to) {
  REQUIRE(from.size() == to.size());
  const auto bytes = core::read_file(file);
  std::fstream out(file.string(), std::ios::in | std::ios::out | std::ios::binary);
  std::size_t n = 0;
  for (auto at = bytes.find(from); at != std::string::npos; at = bytes.find(from, at + 1), ++n) {
    out.seekp(static_cast<std::streamoff>(at));
    out.write(to.data(), static_cast<std::streamsize>(to.size()));
  }
  out.flush();
  REQUIRE(out.good());
  return n;
}

std::vector<core::bfs::path> files_named(const core::bfs::path& dir, const std::string& prefix) {
  std::vector<core::bfs::path> out;
  for (const auto& e : core::bfs::directory_iterator(dir))
    if (e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path());
  return out;
}

}  // namespace

TEST_CASE("restore-etcd-keys writes the keys its preflight read off its private copy: the snapshot changed on the backup disk afterwards is not read again") {
  RestoreFixture f;
  const auto id = f.backup();
  const auto at_backup = f.live->values();
  delete_payments(f);
  // Once the preflight passed, as the step begins, the generation's snapshot is rewritten on
  // the backup disk: the step reads the preflight's private copy in the restore's folder,
  // hashed as it was written, not the disk's file once more.
  const auto snapshot = f.generation(id) / "etcd/snapshot.db";
  bool tampered = false;
  std::vector<core::bfs::path> copies;
  restore::set_record_hook([&](const core::bfs::path& restore_dir) {
    if (tampered) return;
    const auto text = core::read_file(restore_dir / "journal.jsonl");
    const auto last = text.substr(text.rfind('\n', text.size() - 2) + 1);
    if (!contains_words(last, "\"begin\"") || !contains_words(last, "etcd-put-keys")) return;
    copies = files_named(restore_dir, "keys-source-");
    flip_a_byte(snapshot);
    tampered = true;
  });
  const auto rc = f.restore("restore-etcd-keys", {"namespace=payments"});
  restore::set_record_hook(nullptr);
  INFO(f.printed.all());
  CHECK(tampered);
  REQUIRE(rc == core::ExitCode::ok);
  CHECK(copies.size() == 1);  // the preflight's copy, kept for the step
  // Read once, by the copy: the generation's check did not hash the snapshot again.
  CHECK(contains_words(f.printed.out(), "entries checked; none re-hashed here (a file this restore reads is hashed as it is copied)"));
  CHECK(contains_words(f.printed.out(), "wrote 3 keys into the live etcd"));
  for (const auto& k : payments_keys) CHECK(f.live->values().at(k) == at_backup.at(k));
  CHECK(files_named(f.node("/var/lib/kdr/restores") / f.restore_ids().at(0), "keys-source-").empty());
}

namespace {

// restore-etcd-keys with `change` made to its private copy once the step has read it a first time
// (as it reads the live etcd's keys, before it reads the copy's values again): what nothing
// outside kdr can do, as the copy is root's own in a 0700 folder, and the step defends
// against all the same. Returns the restore's exit code.
core::ExitCode restore_with_copy_changed(RestoreFixture& f, const std::function<void(const core::bfs::path&)>& change,
                                         bool& changed) {
  restore::set_record_hook([&](const core::bfs::path& restore_dir) {
    const auto text = core::read_file(restore_dir / "journal.jsonl");
    const auto last = text.substr(text.rfind('\n', text.size() - 2) + 1);
    if (!contains_words(last, "\"begin\"") || !contains_words(last, "etcd-put-keys")) return;
    f.live->before_scan = [&, restore_dir](test::FakeKeyspace&) {
      const auto copies = files_named(restore_dir, "keys-source-");
      REQUIRE(copies.size() == 1);
      change(copies.front());
      changed = true;
    };
  });
  const auto rc = f.restore("restore-etcd-keys", {"namespace=payments"});
  restore::set_record_hook(nullptr);
  return rc;
}

}  // namespace

TEST_CASE("restore-etcd-keys stops at a value its private copy no longer holds as planned, having written nothing") {
  RestoreFixture f;
  f.backup();
  delete_payments(f);
  bool changed = false;
  const auto rc = restore_with_copy_changed(
      f, [](const core::bfs::path& copy) { CHECK(rewrite_in_place(copy, "rates v2", "rates v9") >= 1); }, changed);
  INFO(f.printed.all());
  REQUIRE(changed);
  CHECK(rc == core::ExitCode::failed);  // nothing written
  CHECK(contains_words(f.printed.all(), "/registry/configmaps/payments/rates: generation "));
  CHECK(contains_words(f.printed.all(), "holds another value than it did when the keys were read; 0 keys written before it"));
  for (const auto& k : payments_keys) CHECK(f.live->values().count(k) == 0);  // the namespace waited in its batch
}

TEST_CASE("restore-etcd-keys stops when its private copy no longer hands out a planned key, naming it, and a rollback removes what it wrote") {
  RestoreFixture f;
  const auto at_backup = f.live->values();
  f.backup();
  delete_payments(f);
  const std::string rates = "/registry/configmaps/payments/rates";
  bool changed = false;
  const auto rc = restore_with_copy_changed(
      f, [&](const core::bfs::path& copy) { CHECK(rewrite_in_place(copy, rates, rates.substr(0, rates.size() - 1) + "z") >= 1); },
      changed);
  INFO(f.printed.all());
  REQUIRE(changed);
  CHECK(rc == core::ExitCode::incomplete);  // keys written: resume or roll back
  CHECK(contains_words(f.printed.all(), "no longer hands out 1 of the keys planned (" + rates +
                                            " among them); 2 keys written (kdr restore --rollback removes them)"));
  CHECK(f.live->values().count(rates) == 0);
  CHECK(f.live->values().at("/registry/namespaces/payments") == at_backup.at("/registry/namespaces/payments"));
  REQUIRE(f.rollback(f.restore_ids().at(0)) == core::ExitCode::ok);
  for (const auto& k : payments_keys) CHECK(f.live->values().count(k) == 0);
}

TEST_CASE("restore-etcd-keys declined after its preflight leaves no copy behind, and refuses the snapshot changed on the backup disk when resumed") {
  RestoreFixture f;
  const auto id = f.backup();
  delete_payments(f);
  const auto before = f.live->values();
  f.host->answers = {core::Answer::yes, core::Answer::no};  // the restore started, its first change declined
  const auto rc = f.restore("restore-etcd-keys", {"namespace=payments"}, false);
  INFO(f.printed.all());
  CHECK(rc == core::ExitCode::failed);
  CHECK(contains_words(f.printed.out(), "3 to write, 0 already live with the same value, 0 conflicts"));
  const auto restore_id = f.restore_ids().at(0);
  CHECK(files_named(f.node("/var/lib/kdr/restores") / restore_id, "keys-source-").empty());
  flip_a_byte(f.generation(id) / "etcd/snapshot.db");
  CHECK(f.resume(restore_id) == core::ExitCode::failed);
  CHECK(contains_words(f.printed.all(), "it changed on the backup disk; not read"));
  CHECK(f.live->values() == before);
}

TEST_CASE("restore-etcd-keys leaves a key changed since the backup alone unless overwrite=true, and a rollback puts its live value back") {
  RestoreFixture f;
  f.backup();
  f.live->write("/registry/configmaps/payments/rates", "rates v3");  // changed since the backup
  f.live->write("/registry/secrets/payments/api-key", std::nullopt);  // deleted since

  REQUIRE(f.restore("restore-etcd-keys", {"namespace=payments"}) == core::ExitCode::ok);
  CHECK(contains_words(f.printed.out(), "1 to write, 1 already live with the same value, 1 conflict"));
  CHECK(contains_words(f.printed.all(), "conflict: /registry/configmaps/payments/rates exists live with another value"));
  CHECK(f.live->values().at("/registry/configmaps/payments/rates") == "rates v3");
  CHECK(f.live->values().at("/registry/secrets/payments/api-key") == "key v2");

  REQUIRE(f.restore("restore-etcd-keys", {"namespace=payments", "overwrite=true"}) == core::ExitCode::ok);
  CHECK(f.live->values().at("/registry/configmaps/payments/rates") == "rates v2");
  const auto ids = f.restore_ids();
  REQUIRE(ids.size() == 2);
  REQUIRE(f.rollback(ids[1]) == core::ExitCode::ok);
  CHECK(f.live->values().at("/registry/configmaps/payments/rates") == "rates v3");
  CHECK(contains_words(f.printed.out(), "put back the value /registry/configmaps/payments/rates had before this restore"));

  // The first restore wrote the secret; the cluster changed it since: its rollback leaves it.
  f.live->write("/registry/secrets/payments/api-key", "key v9");
  REQUIRE(f.rollback(ids[0]) == core::ExitCode::ok);
  CHECK(f.live->values().at("/registry/secrets/payments/api-key") == "key v9");
  CHECK(contains_words(f.printed.all(),
                 "/registry/secrets/payments/api-key changed in the live etcd since the restore wrote it: left as it is"));
}

TEST_CASE("restore-etcd-keys with overwrite=true replaces a live value only if it is still the one it planned over: one changed meanwhile is left alone, and its value not journaled") {
  RestoreFixture f;
  const auto at_backup = f.live->values();
  f.backup();
  const std::string rates = "/registry/configmaps/payments/rates", key = "/registry/secrets/payments/api-key";
  f.live->write(rates, "rates v3");
  f.live->write(key, "key v3");
  // the live value it replaces is read as its transaction is written: just before, the cluster
  // writes another one
  f.live->before_get = [&](test::FakeKeyspace& ks) { ks.write(rates, "rates v4, written meanwhile"); };
  REQUIRE(f.restore("restore-etcd-keys", {"namespace=payments", "overwrite=true"}) == core::ExitCode::ok);
  INFO(f.printed.all());
  CHECK(contains_words(f.printed.out(), "2 to write, 1 already live with the same value, 0 conflicts"));
  CHECK(contains_words(f.printed.all(), rates + " changed in the live etcd while the restore ran: left as it is"));
  CHECK(contains_words(f.printed.out(), "wrote 1 key into the live etcd: secrets 1"));
  CHECK(f.live->values().at(rates) == "rates v4, written meanwhile");
  CHECK(f.live->values().at(key) == at_backup.at(key));
  const auto journal = journal_text(f, f.restore_ids().at(0));
  CHECK(count_of(journal, "\"etcd-put\"") >= 1);
  CHECK(journal.find(core::base64_encode("key v3")) != std::string::npos);  // the value it replaced, for a rollback
  CHECK(journal.find(core::base64_encode(rates)) == std::string::npos);      // nothing journaled of the one left alone
  CHECK(journal.find(core::base64_encode("rates v4, written meanwhile")) == std::string::npos);

  REQUIRE(f.rollback(f.restore_ids().at(0)) == core::ExitCode::ok);
  CHECK(f.live->values().at(key) == "key v3");
  CHECK(f.live->values().at(rates) == "rates v4, written meanwhile");
}

TEST_CASE("restore-etcd-keys with to=REVISION reads the keys at that point of the change journal, replayed off the node") {
  RestoreFixture f;
  const auto gen = f.backup();
  Journal journal(f, gen);
  journal.write("/registry/configmaps/payments/rates", "rates v3");  // 10
  journal.write("/registry/secrets/payments/extra", "extra v1");     // 11
  const auto just_before = f.live->values();
  for (const auto& k : payments_keys) journal.write(k, std::nullopt);  // 12-14: the namespace deleted
  journal.write("/registry/secrets/payments/extra", std::nullopt);     // 15
  journal.write("/registry/configmaps/default/after", "after");        // 16
  journal.close();
  const auto before = f.live->values();

  REQUIRE(f.restore("restore-etcd-keys", {"namespace=payments", "to=11"}) == core::ExitCode::ok);
  INFO(f.printed.all());
  CHECK(contains_words(f.printed.out(), "keyspace digest matches the journal's at revision 11"));
  auto expected = before;
  for (const auto& [k, v] : just_before)
    if (k.find("/payments") != std::string::npos) expected[k] = v;
  CHECK(f.live->values() == expected);
  CHECK(expected.at("/registry/configmaps/payments/rates") == "rates v3");
  CHECK(expected.count("/registry/secrets/payments/extra") == 1);

  // The replay ran in a private etcd with the snapshot as its base (in the preflight, so that
  // the keys are counted before anything is confirmed), saved what it made, and stopped; the
  // preflight and then the put-keys step read that snapshot off a private copy each (the step
  // checks it holds what the preflight showed); the etcd-replay step found it made.
  const auto started = f.programs->calls_of("etcd");
  REQUIRE(started.size() == 1);
  CHECK(contains_words(f.printed.out(), "replayed earlier"));
  CHECK(contains_words(started[0], "--max-txn-ops"));
  CHECK(f.programs->calls_of("etcdctl").back().find("snapshot save") != std::string::npos);
  for (const auto& call : started) CHECK(served_url(call) == "unix://client:0");
  CHECK(f.etcd->served_count() == 1);

  const auto id = f.restore_ids().at(0);
  REQUIRE(f.rollback(id) == core::ExitCode::ok);
  CHECK(f.live->values() == before);
}

TEST_CASE("the replay's private etcd takes a request as large as the journal's largest change") {
  RestoreFixture f;
  const auto gen = f.backup();
  Journal journal(f, gen);
  const std::string big((20u << 20) + 5, 'x');  // over the 16 MiB of two transactions' worth
  journal.write("/registry/configmaps/payments/bundle", big);  // 10
  journal.write("/registry/configmaps/payments/rates", "rates v3");  // 11
  journal.close();

  REQUIRE(f.restore("restore-etcd-keys", {"namespace=payments", "to=11"}) == core::ExitCode::ok);
  INFO(f.printed.all());
  CHECK(f.live->values().at("/registry/configmaps/payments/bundle") == big);
  const auto started = f.programs->calls_of("etcd");
  REQUIRE(started.size() == 1);
  const auto at = started[0].find("--max-request-bytes ");
  REQUIRE(at != std::string::npos);
  const auto limit = std::stoull(started[0].substr(at + std::string("--max-request-bytes ").size()));
  CHECK(limit >= big.size() + std::string("/registry/configmaps/payments/bundle").size());
  CHECK(limit <= big.size() + (2u << 20));
}

TEST_CASE("a private etcd is refused before anything is restored when its scratch folder has no room for it") {
  RestoreFixture f;
  const auto gen = f.backup();
  Journal journal(f, gen);
  journal.write("/registry/configmaps/payments/rates", "rates v3");  // 10
  journal.close();
  const auto before = f.live->values();
  f.host->free = 0;
  CHECK(f.restore("restore-etcd-keys", {"namespace=payments", "to=10"}) == core::ExitCode::failed);
  INFO(f.printed.all());
  CHECK(contains_words(f.printed.all(), "in a private etcd (its copy and etcd's data dir) needs about"));
  CHECK(f.programs->calls_of("etcd").empty());
  for (const auto& call : f.programs->calls_of("etcdutl"))
    CHECK((!contains_words(call, "snapshot restore") || contains_words(call, "--help")));
  CHECK(f.live->values() == before);
}

TEST_CASE("a replay whose keyspace does not match the journal's digest is refused, and nothing is written") {
  RestoreFixture f;
  const auto gen = f.backup();
  // A journal whose history starts from another keyspace than the snapshot's (a key the
  // snapshot does not hold).
  f.live->write_at(f.live->revision, "/registry/configmaps/default/ghost", "not in the snapshot");
  Journal journal(f, gen);
  journal.write("/registry/namespaces/payments", std::nullopt);
  journal.close();
  const auto before = f.live->values();

  CHECK(f.restore("restore-etcd-keys", {"namespace=payments", "to=latest"}) == core::ExitCode::failed);
  CHECK(contains_words(f.printed.err(), "the replayed point does not match the journal"));
  CHECK(f.live->values() == before);
  CHECK(!core::lstat_path(f.node("/var/lib/kdr/restores") / f.restore_ids().at(0) / "replayed.db"));
}

TEST_CASE("a restore to a point whose journal cannot follow the keyspace digest is refused before anything changes") {
  RestoreFixture f;
  const auto gen = f.backup();
  Journal journal(f, gen);
  journal.write("/registry/configmaps/default/app", "app v2", false);  // 10: its previous value not recorded
  journal.write("/registry/configmaps/default/other", "other");         // 11
  journal.close();
  const auto before = f.tree();
  const auto live_before = f.live->values();

  // refused while the plan is made (the command prints it and exits 1)
  CHECK_THROWS_WITH(f.restore("restore-etcd-snapshot", {"to=latest", "accept_loss=true"}),
                    Catch::Contains("the journal's digest cannot be followed at revision 10"));
  CHECK(test::tree_diff(f.tree(), before) == "");
  CHECK(f.live->values() == live_before);
}

TEST_CASE("a time that falls in a gap of the journal is refused naming the gap, unless accept_gap=true") {
  RestoreFixture f;
  const auto gen = f.backup();
  const auto t0 = f.host->clock;
  {
    Journal epoch1(f, gen);
    epoch1.write("/registry/configmaps/default/app", "app v2");  // 10, received at t0 + 10 s
    epoch1.close();
  }
  const auto at_10 = f.live->values();
  // The follower was away: etcd moved on without it (11, 12), then it began epoch 2.
  f.live->write("/registry/configmaps/default/unseen", "1");
  f.live->write("/registry/configmaps/default/unseen-2", "2");
  f.host->clock = t0 + 100;
  const auto gen2 = f.backup();
  {
    Journal epoch2(f, gen2);
    epoch2.write("/registry/configmaps/default/later", "3");  // 13
    epoch2.close();
  }
  const auto in_gap = "to=" + core::iso_time(t0 + 50);
  CHECK_THROWS_WITH(f.restore("restore-etcd-snapshot", {in_gap, "accept_loss=true"}),
                    Catch::Contains("falls in a gap of the change journal") &&
                        Catch::Contains("the last point before it is revision 10") &&
                        Catch::Contains("--set accept_gap=true"));
  const auto gap_rc = f.restore("restore-etcd-snapshot", {in_gap, "accept_loss=true", "accept_gap=true"});
  INFO(f.printed.all());
  REQUIRE(gap_rc == core::ExitCode::ok);
  INFO(f.printed.all());
  CHECK(f.live->values() == at_10);
}

TEST_CASE("a replay that applies another number of changes than its plan counted publishes nothing") {
  RestoreFixture f;
  const auto gen = f.backup();
  Journal journal(f, gen);
  journal.write("/registry/configmaps/default/app", "app v2");
  journal.write("/registry/configmaps/default/other", "other");
  journal.close();
  const auto ctx = f.context();
  const auto key = core::load_node_key(core::node_key_file(ctx));
  REQUIRE(key);
  auto plan = etcd::plan_replay(ctx, etcd::parse_replay_target("latest"), &*key);
  REQUIRE(plan.events == 2);
  CHECK(plan.auth.status == core::AuthStatus::authentic);
  plan.events = 3;  // what a journal that changed since the plan was made would count
  const auto out = f.dir.path() / "replayed.db";
  CHECK_THROWS_WITH(etcd::replay_to_snapshot(ctx, plan, out, &*key),
                    Catch::Contains("the replay applied 2 change(s), the plan counted 3"));
  CHECK_FALSE(core::lstat_path(out));
}

// A backup, then the change journal after it: a ConfigMap written at revision 10, the
// default Namespace deleted at 11 (the damage). The keyspace at 10.
auto app_v2_then_damage(RestoreFixture& f) {
  const auto gen = f.backup();
  Journal journal(f, gen);
  journal.write("/registry/configmaps/default/app", "app v2");  // 10
  const auto at_10 = f.live->values();
  journal.write("/registry/namespaces/default", std::nullopt);  // 11: the damage
  journal.close();
  return at_10;
}

TEST_CASE("restore-etcd-snapshot with to=REVISION restores the keyspace the journal held at that revision") {
  RestoreFixture f;
  const auto at_10 = app_v2_then_damage(f);

  REQUIRE(f.restore("restore-etcd-snapshot", {"to=10", "accept_loss=true"}) == core::ExitCode::ok);
  INFO(f.printed.all());
  // The node's data dir holds the generation's snapshot restored as its member, and in its WAL
  // the journal's changes as committed entries: etcd, started again on it, applied them before
  // it served, and serves revision 10's keys. No etcd was started beside kdr to apply them.
  CHECK(f.live->values() == at_10);
  CHECK(f.programs->calls_of("etcd").empty());
  std::vector<std::string> entries;
  etcd::read_wal_entries(f.node("/var/lib/etcd"), 1,
                         [&](std::uint64_t, std::uint64_t, std::string_view d) { entries.emplace_back(d); });
  REQUIRE(entries.size() == 1);
  CHECK(contains_words(entries[0], "/registry/configmaps/default/app"));
  CHECK(contains_words(f.printed.out(), "the journal's changes are in etcd: 1 keys written as planned"));
  // The preflight copied the replay's base, hashed as it was written; that copy is the one
  // database restored: as this node's member, into the data dir the etcd-snapshot-restore step
  // renames into place. No snapshot is written out and restored once more, and the copy is gone.
  CHECK(contains_words(f.printed.out(), "copied into the restore's folder for the replay, its SHA-256 as recorded"));
  const auto id = f.restore_ids().at(0);
  const auto dir = f.node("/var/lib/kdr/restores") / id;
  std::vector<std::string> restores;
  for (const auto& tool : {"etcdctl", "etcdutl"})
    for (const auto& call : f.programs->calls_of(tool))
      if (contains_words(call, "snapshot restore") && !contains_words(call, "--help")) restores.push_back(call);
  REQUIRE(restores.size() == 1);
  CHECK(contains_words(restores[0], "snapshot restore " + dir.string() + "/replay-base-"));
  CHECK(contains_words(restores[0], "--data-dir " + f.node("/var/lib/etcd").string() + ".kdr-" + id + ".new.part"));
  CHECK(contains_words(restores[0], "--name cp1"));
  CHECK_FALSE(core::lstat_path(dir / "replayed.db"));
  for (const auto& name : core::list_dir(dir)) CHECK(name.rfind("replay-base-", 0) != 0);
}

TEST_CASE("a restore to a point whose base and changes do not make the journal's digest is refused before the node is touched") {
  RestoreFixture f;
  const auto gen = f.backup();
  // the journal's history starts from another keyspace than the snapshot's
  f.live->write_at(f.live->revision, "/registry/configmaps/default/ghost", "not in the snapshot");
  Journal journal(f, gen);
  journal.write("/registry/configmaps/default/app", "app v2");
  journal.close();
  const auto node = f.tree();

  CHECK(f.restore("restore-etcd-snapshot", {"to=latest", "accept_loss=true"}) == core::ExitCode::failed);
  INFO(f.printed.all());
  CHECK(contains_words(f.printed.err(), "the replayed point does not match the journal"));
  CHECK(contains_words(f.printed.err(), "with the journal's changes makes"));
  CHECK(f.tree() == node);  // no member dir left made either
}

TEST_CASE("a restore to a point fails, saying so, when etcd started without the changes written into its WAL") {
  RestoreFixture f;
  app_v2_then_damage(f);
  f.etcd_applies_wal = false;
  // the pods are back and the data dir placed: incomplete, to roll back or resume
  CHECK(f.restore("restore-etcd-snapshot", {"to=10", "accept_loss=true"}) == core::ExitCode::incomplete);
  INFO(f.printed.all());
  CHECK(contains_words(f.printed.err(), "etcd serves revision 9; with the journal's changes kdr wrote into its WAL it "
                                        "would be at 10"));
}

TEST_CASE("once etcd serves, every key the replay wrote into its WAL must hold the revision it was written at") {
  test::FakeEtcd etcd;
  auto ks = std::make_shared<test::FakeKeyspace>();
  ks->revision = 20;
  ks->write_at(5, "/registry/a", "base");
  ks->write_at(21, "/registry/b", "written by the replay");
  ks->write_at(22, "/registry/c", "written by the replay");
  ks->revision = 22;
  etcd.serve("http://127.0.0.1:9", ks);
  const auto client = etcd.connect(etcd::EtcdEndpoint{"http://127.0.0.1:9", "", "", ""}, std::chrono::seconds(1));
  etcd::WalReplayCheck check;
  check.after_revision = 20;
  check.up_to = 22;
  check.keys = 3;
  check.puts = {{"/registry/b", 21}, {"/registry/c", 22}};
  CHECK_NOTHROW(etcd::check_wal_replay(*client, check));

  auto missing = check;
  missing.puts.emplace_back("/registry/d", 22);
  CHECK_THROWS_WITH(etcd::check_wal_replay(*client, missing),
                    Catch::Contains("etcd does not hold /registry/d at revision 22: the journal's change to it (revision "
                                    "22) was not applied"));
  auto other = check;
  other.puts = {{"/registry/b", 21}, {"/registry/c", 21}};
  CHECK_THROWS_WITH(etcd::check_wal_replay(*client, other),
                    Catch::Contains("etcd holds /registry/c from revision 22 at revision 22; the journal's change wrote "
                                    "it at 21"));
  auto extra = check;
  extra.puts = {{"/registry/c", 22}};
  CHECK_THROWS_WITH(etcd::check_wal_replay(*client, extra),
                    Catch::Contains("etcd wrote /registry/b at revision 21, which no change of the journal writes"));
  auto count = check;
  count.keys = 4;
  CHECK_THROWS_WITH(etcd::check_wal_replay(*client, count),
                    Catch::Contains("etcd holds 3 keys at revision 22, the journal's point 4"));
}

TEST_CASE("the keys a snapshot restore would lose, once etcd compacted its history: counted off the change journal when it reaches the live revision") {
  RestoreFixture f;
  const auto older = f.backup();
  f.live->write("/registry/configmaps/default/between", "after the older backup");  // before the journal
  const auto gen = f.backup();
  Journal journal(f, gen);  // its history starts at this backup
  journal.write("/registry/configmaps/default/app", "app v2");
  journal.write("/registry/configmaps/default/new", "written after");
  journal.write("/registry/namespaces/default", std::nullopt);
  journal.close();
  f.live->history_compacted = true;  // no watch from the backup's revision; the filtered range times out
  SECTION("the journal reaches the live revision: the count is known") {
    CHECK(f.restore("restore-etcd-snapshot", {"to=snapshot"}) == core::ExitCode::failed);
    INFO(f.printed.all());
    CHECK(contains_words(f.printed.all(), "3 changes and 2 keys written since the backup will be lost"));
  }
  SECTION("an older generation, from before the journal's history starts: unknown") {
    restore::RestoreOptions o;
    o.playbook = "restore-etcd-snapshot";
    o.set = {"to=snapshot"};
    o.generation = older;
    CHECK(restore::run_restore(f.context(), o) == core::ExitCode::failed);
    INFO(f.printed.all());
    CHECK(contains_words(f.printed.all(), "4 changes and an unknown number of keys written since the backup"));
  }
  SECTION("written after the journal's end: unknown, as etcd cannot say either") {
    f.live->write("/registry/configmaps/default/later", "not journaled");
    CHECK(f.restore("restore-etcd-snapshot", {"to=snapshot"}) == core::ExitCode::failed);
    INFO(f.printed.all());
    CHECK(contains_words(f.printed.all(), "4 changes and an unknown number of keys written since the backup"));
  }
}

TEST_CASE("restore-etcd-snapshot to a journal point declined after the replay: a resume places the data dir the replay made, a rollback removes it") {
  RestoreFixture f;
  const auto at_10 = app_v2_then_damage(f);
  f.host->answers = {core::Answer::yes, core::Answer::no};  // the replay ran, the first change declined
  REQUIRE(f.restore("restore-etcd-snapshot", {"to=10", "accept_loss=true"}, false) == core::ExitCode::failed);
  const auto id = f.restore_ids().at(0);
  const auto made = core::bfs::path(f.node("/var/lib/etcd").string() + ".kdr-" + id + ".new");
  REQUIRE(core::lstat_path(made / "member/snap/db"));
  CHECK_FALSE(core::lstat_path(made.string() + ".part"));
  const auto before = f.live->values();
  SECTION("resumed: the replay is not made again, its data dir is placed") {
    const auto calls = f.programs->calls_of("etcd").size();
    REQUIRE(f.resume(id) == core::ExitCode::ok);
    INFO(f.printed.all());
    CHECK(f.programs->calls_of("etcd").size() == calls);  // no private etcd started again
    CHECK(f.live->values() == at_10);
    CHECK_FALSE(core::lstat_path(made));
  }
  SECTION("rolled back: the node as it was, the data dir made for it gone") {
    REQUIRE(f.rollback(id) == core::ExitCode::ok);
    INFO(f.printed.all());
    CHECK(f.live->values() == before);
    CHECK_FALSE(core::lstat_path(made));
  }
  SECTION("killed after the replay made the data dir but before its step was recorded done: a resume finds it, "
          "replays nothing again and places it") {
    // The journal as a kill would have left it: everything from the etcd-replay step's `done`
    // record on never reached the disk (records are appended and synced one by one).
    const auto file = f.node("/var/lib/kdr/restores") / id / "journal.jsonl";
    const auto text = core::read_file(file);
    std::string kept;
    std::optional<int> replay_step;
    for (std::size_t at = 0; at < text.size();) {
      const auto end = text.find('\n', at) + 1;
      const auto record = nlohmann::json::parse(text.substr(at, end - at));
      if (record.value("event", "") == "begin" && record.value("type", "") == "etcd-replay")
        replay_step = record.value("step", -1);
      if (replay_step && record.value("event", "") == "done" && record.value("step", -1) == *replay_step) break;
      kept += text.substr(at, end - at);
      at = end;
    }
    REQUIRE(replay_step);
    REQUIRE(kept.size() < text.size());
    core::write_file_atomic(file, kept);
    const auto calls = f.programs->calls_of("etcd").size();
    REQUIRE(f.resume(id) == core::ExitCode::ok);
    INFO(f.printed.all());
    CHECK(contains_words(f.printed.out(), "replayed earlier into " + made.string()));
    CHECK(f.programs->calls_of("etcd").size() == calls);  // no private etcd started again
    CHECK(f.live->values() == at_10);
    CHECK_FALSE(core::lstat_path(made));
  }
}

TEST_CASE("restore-etcd-snapshot restores the copy its preflight hashed: the snapshot rewritten on the backup disk afterwards is not read again") {
  RestoreFixture f;
  const auto at_backup = f.live->values();
  const auto id = f.backup();
  f.live->write("/registry/namespaces/default", std::nullopt);  // the damage
  // As the preflight ends, before any step after it starts (or prepares ahead), whoever can
  // write the backup disk rewrites the generation's snapshot.
  const auto snapshot = f.generation(id) / "etcd/snapshot.db";
  bool tampered = false;
  restore::set_record_hook([&](const core::bfs::path& restore_dir) {
    if (tampered) return;
    const auto text = core::read_file(restore_dir / "journal.jsonl");
    const auto last = nlohmann::json::parse(text.substr(text.rfind('\n', text.size() - 2) + 1));
    if (last.value("event", "") != "done" || last.value("step", -1) != 0) return;
    auto bytes = core::read_file(snapshot);
    bytes[bytes.size() / 2] ^= 0x20;
    core::write_file_atomic(snapshot, bytes, 0600);
    tampered = true;
  });
  const auto rc = f.restore("restore-etcd-snapshot", {"to=snapshot", "accept_loss=true"});
  restore::set_record_hook(nullptr);
  INFO(f.printed.all());
  REQUIRE(tampered);
  REQUIRE(rc == core::ExitCode::ok);
  CHECK(contains_words(f.printed.out(), "copied into the restore's folder, its SHA-256 as the generation recorded it"));
  // What the tool restored is the snapshot as it was backed up: the preflight's copy.
  const auto db = core::read_file(f.node("/var/lib/etcd/member/snap/db"));
  const auto held = f.etcd->snapshot(core::sha256_hex(db));
  REQUIRE(held);
  CHECK(held->values() == at_backup);
  CHECK(f.live->values() == at_backup);
  CHECK_FALSE(core::lstat_path(f.node("/var/lib/kdr/restores") / f.restore_ids().at(0) / "snapshot.db"));
}

TEST_CASE("restore-etcd-snapshot: a snapshot damaged on the backup disk is refused by the preflight, nothing changed and no copy left") {
  RestoreFixture f;
  const auto id = f.backup();
  f.live->write("/registry/configmaps/default/after", "written since the backup");
  const auto snapshot = f.generation(id) / "etcd/snapshot.db";
  auto bytes = core::read_file(snapshot);
  bytes[bytes.size() / 2] ^= 0x20;
  core::write_file_atomic(snapshot, bytes, 0600);
  const auto files = f.tree();
  SECTION("refused for another reason too (the live etcd's newer data): the snapshot is re-hashed where it lies, and both are said") {
    CHECK(f.restore("restore-etcd-snapshot", {"to=snapshot"}) == core::ExitCode::failed);
    INFO(f.printed.all());
    CHECK(contains_words(f.printed.all(), "preflight found 2 problems; nothing was changed"));
    CHECK(contains_words(f.printed.all(), "etcd/snapshot.db: content does not match its SHA-256"));
    CHECK(contains_words(f.printed.all(), "--set accept_loss=true"));
  }
  SECTION("every other check passed: the preflight's private copy finds it") {
    CHECK(f.restore("restore-etcd-snapshot", {"to=snapshot", "accept_loss=true"}) == core::ExitCode::failed);
    INFO(f.printed.all());
    CHECK(contains_words(f.printed.all(), "preflight found 1 problem; nothing was changed"));
    CHECK(contains_words(f.printed.all(), snapshot.string() + ": its content hashes to"));
    CHECK(contains_words(f.printed.all(), "it changed on the backup disk; not read"));
  }
  const auto dir = f.node("/var/lib/kdr/restores") / f.restore_ids().at(0);
  CHECK_FALSE(core::lstat_path(dir / "snapshot.db"));
  CHECK_FALSE(core::lstat_path(dir / "snapshot.db.part"));
  CHECK(test::tree_diff(f.tree(), files) == "");
}

TEST_CASE("restore-etcd-snapshot declined after its preflight leaves no copy of the snapshot behind, and a resume copies it again") {
  RestoreFixture f;
  const auto at_backup = f.live->values();
  f.backup();
  f.live->write("/registry/namespaces/default", std::nullopt);
  f.host->answers = {core::Answer::yes, core::Answer::no};  // the restore started, its first change declined
  const auto rc = f.restore("restore-etcd-snapshot", {"to=snapshot", "accept_loss=true"}, false);
  INFO(f.printed.all());
  CHECK(rc == core::ExitCode::failed);
  CHECK(contains_words(f.printed.all(), "nothing was changed; resume with"));
  const auto id = f.restore_ids().at(0);
  CHECK_FALSE(core::lstat_path(f.node("/var/lib/kdr/restores") / id / "snapshot.db"));
  REQUIRE(f.resume(id) == core::ExitCode::ok);
  CHECK(f.live->values() == at_backup);
}

TEST_CASE("a snapshot restore on one member of a cluster whose other members keep quorum is refused: no split brain") {
  RestoreFixture f;
  f.members_json = R"({"members":[)"
                   R"({"ID":33,"name":"cp1","peerURLs":["https://10.0.0.10:2380"],"clientURLs":["http://127.0.0.1:2"]},)"
                   R"({"ID":34,"name":"cp2","peerURLs":["https://10.0.0.11:2380"],"clientURLs":["http://127.0.0.1:3"]},)"
                   R"({"ID":35,"name":"cp3","peerURLs":["https://10.0.0.12:2380"],"clientURLs":["http://127.0.0.1:4"]}]})";
  auto cp2 = std::make_shared<test::FakeKeyspace>(*f.live), cp3 = std::make_shared<test::FakeKeyspace>(*f.live);
  f.etcd->serve("http://127.0.0.1:3", cp2);
  f.etcd->serve("http://127.0.0.1:4", cp3);
  f.backup();
  test::write(f.node("/var/lib/etcd/member/snap/db"), "torn");
  const auto before = f.tree();

  SECTION("both others serve reads: refused, naming them, nothing changed") {
    CHECK(f.restore("restore-etcd-snapshot") == core::ExitCode::failed);
    CHECK(contains_words(f.printed.all(), "the other members of this node's etcd cluster still keep quorum"));
    CHECK(contains_words(f.printed.all(), "cp2 (http://127.0.0.1:3): answers as cluster 11, serves reads"));
    CHECK(contains_words(f.printed.all(), "--set force_new_cluster=true restores anyway"));
    CHECK(test::tree_diff(f.tree(), before) == "");
    CHECK(f.restore("rebuild-node") == core::ExitCode::failed);
    CHECK(test::tree_diff(f.tree(), before) == "");
  }
  SECTION("force_new_cluster=true restores anyway, and says so") {
    CHECK(f.restore("restore-etcd-snapshot", {"force_new_cluster=true"}) == core::ExitCode::ok);
    CHECK(contains_words(f.printed.all(), "going ahead (force_new_cluster=true)"));
  }
  SECTION("neither other member answers (down, or not reachable from here): the restore goes on, naming both") {
    f.etcd->stop("http://127.0.0.1:3");
    f.etcd->stop("http://127.0.0.1:4");
    CHECK(f.restore("restore-etcd-snapshot") == core::ExitCode::ok);
    CHECK(contains_words(f.printed.all(), "no other member of the generation's 3-member cluster serves reads"));
    CHECK(contains_words(f.printed.all(), "cp2 (http://127.0.0.1:3): does not answer"));
    CHECK(contains_words(f.printed.all(), "cp3 (http://127.0.0.1:4): does not answer"));
  }
  SECTION("one member down and the last without a majority: the cluster lost quorum, the restore goes on") {
    f.etcd->stop("http://127.0.0.1:3");
    cp3->quorum = false;
    CHECK(f.restore("restore-etcd-snapshot") == core::ExitCode::ok);
    CHECK(contains_words(f.printed.all(), "no other member of the generation's 3-member cluster serves reads"));
    CHECK(contains_words(f.printed.all(), "cp2 (http://127.0.0.1:3): does not answer"));
    CHECK(contains_words(f.printed.all(), "cp3 (http://127.0.0.1:4): answers as cluster 11, serves no read"));
  }
}

TEST_CASE("the split-brain check with fewer than two recorded members: one member needs no look and none recorded is said") {
  RestoreFixture f;
  SECTION("a one-member cluster: nobody else is asked, and the preflight says why") {
    f.backup();
    CHECK(f.restore("restore-etcd-snapshot") == core::ExitCode::ok);
    CHECK(contains_words(f.printed.all(), "the generation's etcd cluster had this one member: no other member to split from"));
  }
  SECTION("no member list recorded: the restore goes on with a warning that nothing was checked") {
    const auto id = f.backup();
    const auto meta = f.generation(id) / "meta.json";
    auto j = nlohmann::json::parse(core::read_file(meta));
    REQUIRE(j["etcd"].contains("members"));
    j["etcd"].erase("members");
    core::write_file_atomic(meta, j.dump(2) + "\n");
    core::remove_tree(f.generation(id) / "AUTH");  // as a kdr that did not authenticate wrote it
    CHECK(f.restore("restore-etcd-snapshot", {"unauthenticated=true"}) == core::ExitCode::ok);
    INFO(f.printed.all());
    CHECK(contains_words(f.printed.all(), "the generation recorded no etcd member list"));
    CHECK(contains_words(f.printed.all(), "was not checked; make sure they are stopped, or restore every member"));
  }
}

TEST_CASE("replace-etcd-member joins this node again as a new member through the healthy ones, and promotes it") {
  RestoreFixture f;
  f.make_ha();
  f.backup();
  core::remove_tree(f.node("/var/lib/etcd/member"));  // a dead disk
  f.live->promote_refusals = 2;                        // etcd refuses while the learner catches up
  f.live->add_refusals = 1;                            // and a new member right after the removal
  f.live->remove_refusals = 1;                         // and a removal while the cluster settles

  REQUIRE(f.restore("replace-etcd-member") == core::ExitCode::ok);
  INFO(f.printed.all());
  CHECK(contains_words(f.printed.out(), "the cluster keeps quorum without this node: cp2 (http://127.0.0.1:3), cp3 "
                                  "(http://127.0.0.1:4) serve reads"));
  CHECK(f.live->remove_refusals == 0);  // refused as unhealthy once, asked again
  CHECK(contains_words(f.printed.out(), "removed member cp1 (21) through http://127.0.0.1:3"));
  CHECK(contains_words(f.printed.out(), "added cp1 (https://10.0.0.10:2380) as member 100, a learner"));
  CHECK(contains_words(f.printed.out(), "promoted cp1 (100) to a voting member"));
  CHECK(contains_words(f.printed.out(), "the cluster has 3 voting members, each serving reads: cp2, cp3, cp1"));
  // The manifest the kubelet runs now joins the cluster; the old data dir is kept aside.
  const auto manifest = core::read_file(f.node("/etc/kubernetes/manifests/etcd.yaml"));
  CHECK(manifest.find("- --initial-cluster=cp2=https://10.0.0.11:2380,cp3=https://10.0.0.12:2380,cp1=https://10.0.0.10:2380\n") != std::string::npos);
  CHECK(manifest.find("\n    - --initial-cluster-state=existing\n") != std::string::npos);
  const auto id = f.restore_ids().at(0);
  CHECK(core::lstat_path(f.root / ("var/lib/etcd.kdr-" + id)));
  CHECK(f.live->members.size() == 3);
  for (const auto& m : f.live->members) CHECK_FALSE(m.learner);

  // A rollback puts the node's files back and takes the new member out; it cannot add the old
  // member id back, and says so.
  REQUIRE(f.rollback(id) == core::ExitCode::ok);
  CHECK(core::read_file(f.node("/etc/kubernetes/manifests/etcd.yaml")) == test::etcd_manifest);
  CHECK(f.live->members.size() == 2);
  CHECK(contains_words(f.printed.all(), "cannot be added back under its id"));
}

TEST_CASE("replace-etcd-member onto a machine with another address and name: the old member out, the new one in at its peer URL, what names the old node made again by kubeadm's phases") {
  RestoreFixture f;
  f.make_ha();
  f.write_node_identity();
  const auto gen = f.backup();
  const auto good = f.tree();
  // the replacement machine: the kubelet package installed, nothing of the control plane
  core::remove_tree(f.node("/etc/kubernetes"));
  core::remove_tree(f.node("/var/lib/etcd"));
  test::write(f.node("/var/lib/kubelet/config.yaml"), "the kubelet package's\n");
  const auto before = f.tree();

  REQUIRE(f.restore("replace-etcd-member", {"address=127.0.0.77", "node_name=cp4"}) == core::ExitCode::ok);
  INFO(f.printed.all());
  CHECK(contains_words(f.printed.out(), "removed member cp1 (21) through http://127.0.0.1:3"));
  CHECK(contains_words(f.printed.out(), "added cp4 (https://127.0.0.77:2380) as member 100, a learner"));
  CHECK(contains_words(f.printed.out(), "promoted cp4 (100) to a voting member"));
  CHECK(contains_words(f.printed.out(), "the cluster has 3 voting members, each serving reads: cp2, cp3, cp4"));
  std::vector<std::string> names;
  for (const auto& m : f.live->members) names.push_back(m.name);
  CHECK(names == std::vector<std::string>{"cp2", "cp3", "cp4"});
  // etcd's manifest is the generation's, for the new member, joining
  const auto manifest = core::read_file(f.node("/etc/kubernetes/manifests/etcd.yaml"));
  CHECK(manifest.find("- --name=cp4\n") != std::string::npos);
  CHECK(manifest.find("- --initial-advertise-peer-urls=https://127.0.0.77:2380\n") != std::string::npos);
  CHECK(manifest.find("- --initial-cluster=cp2=https://10.0.0.11:2380,cp3=https://10.0.0.12:2380,cp4=https://127.0.0.77:2380\n") != std::string::npos);
  CHECK(manifest.find("- --initial-cluster-state=existing\n") != std::string::npos);
  CHECK(manifest.find("10.0.0.10") == std::string::npos);
  // kubeadm's phases read the configuration rewritten for the new node
  const auto id = f.restore_ids().at(0);
  const auto config = (f.node("/var/lib/kdr/restores") / id / "kubeadm-config.yaml").string();
  const auto kubeadm = f.programs->calls_of("kubeadm");
  std::vector<std::string> phases;
  for (const auto& c : kubeadm)
    if (contains_words(c, " phase ")) phases.push_back(c);
  CHECK(phases == std::vector<std::string>{"kubeadm init phase certs all --config " + config,
                                           "kubeadm init phase kubeconfig all --config " + config,
                                           "kubeadm init phase control-plane all --config " + config,
                                           "kubeadm init phase kubelet-start --config " + config});
  CHECK(contains_words(core::read_file(config), "advertiseAddress: 127.0.0.77"));
  // what named the old node was made again; every CA and the sa keys are the backup's
  const auto now = f.tree();
  CHECK(now.at("/etc/kubernetes/pki/apiserver.crt") != good.at("/etc/kubernetes/pki/apiserver.crt"));
  CHECK(now.at("/etc/kubernetes/pki/apiserver.crt.kdr-" + id) == good.at("/etc/kubernetes/pki/apiserver.crt"));
  for (const auto* p : {"/etc/kubernetes/pki/ca.crt", "/etc/kubernetes/pki/ca.key", "/etc/kubernetes/pki/sa.key"})
    CHECK(now.at(p) == good.at(p));
  CHECK(contains_words(now.at("/var/lib/kubelet/kubeadm-flags.env"), "--node-ip=127.0.0.77"));
  CHECK(now.at("/var/lib/kubelet/config.yaml.kdr-" + id) == before.at("/var/lib/kubelet/config.yaml"));
  // the old Node out of etcd
  CHECK(f.live->values().count("/registry/minions/cp1") == 0);

  SECTION("a rollback leaves the machine as it was, the kubelet's files included, and takes the new member out") {
    REQUIRE(f.rollback(id) == core::ExitCode::ok);
    CHECK(test::tree_diff(f.tree(), before) == "");
    CHECK(f.live->values().count("/registry/minions/cp1") == 1);
    CHECK(f.live->members.size() == 2);
    CHECK(contains_words(f.printed.all(), "/var/lib/kubelet/kubeadm-flags.env (written by kubeadm)"));
  }
  SECTION("a bad address or name is refused in the preflight, nothing changed") {
    RestoreFixture g;
    g.make_ha();
    g.write_node_identity();
    g.backup();
    core::remove_tree(g.node("/etc/kubernetes"));
    const auto untouched = g.tree();
    CHECK(g.restore("replace-etcd-member", {"address=192.0.2.77", "node_name=cp4"}) == core::ExitCode::failed);
    CHECK(contains_words(g.printed.err(), "address 192.0.2.77 is not on this machine"));
    CHECK(g.restore("replace-etcd-member", {"address=127.0.0.77", "node_name=cp_4"}) == core::ExitCode::failed);
    CHECK(contains_words(g.printed.err(), "node_name 'cp_4'"));
    CHECK(g.tree() == untouched);
    CHECK(g.live->members.size() == 3);
  }
}

TEST_CASE("replace-etcd-member is refused when no other member serves: the cluster lost quorum") {
  RestoreFixture f;
  f.make_ha();
  f.backup();
  f.live->quorum = false;
  const auto before = f.tree();
  CHECK(f.restore("replace-etcd-member") == core::ExitCode::failed);
  CHECK(contains_words(f.printed.all(), "no other member of the cluster serves reads: it has lost quorum"));
  CHECK(test::tree_diff(f.tree(), before) == "");
  CHECK(f.live->members.size() == 3);
}

TEST_CASE("restore-etcd-cluster restores this node as a new cluster and names the command that joins each other member") {
  RestoreFixture f;
  f.make_ha();
  f.backup();
  f.etcd->stop("http://127.0.0.1:3");  // two members of three gone: quorum lost
  f.etcd->stop("http://127.0.0.1:4");
  test::write(f.node("/var/lib/etcd/member/snap/db"), "torn");

  REQUIRE(f.restore("restore-etcd-cluster") == core::ExitCode::ok);
  INFO(f.printed.all());
  CHECK(contains_words(f.printed.out(), "no other member of the generation's 3-member cluster serves reads"));
  CHECK(contains_words(f.printed.out(),
                 "on cp2 (https://10.0.0.11:2380): kdr restore replace-etcd-member --yes --set via=http://127.0.0.1:2 "
                 "--set cluster_id=11"));
  CHECK(contains_words(f.printed.out(), "on cp3 (https://10.0.0.12:2380): kdr restore replace-etcd-member --yes"));
  const auto id = f.restore_ids().at(0);
  const auto cluster = nlohmann::json::parse(core::read_file(f.node("/var/lib/kdr/restores") / id / "cluster.json"));
  CHECK(cluster.at("token") == "kdr-" + id);
  CHECK(cluster.at("via") == "http://127.0.0.1:2");
}

TEST_CASE("a member told to join another cluster than the one it finds refuses before changing anything") {
  RestoreFixture f;
  f.make_ha();
  f.backup();
  const auto before = f.tree();
  CHECK(f.restore("replace-etcd-member", {"via=http://127.0.0.1:3", "cluster_id=abc"}) == core::ExitCode::failed);
  CHECK(contains_words(f.printed.all(), "is cluster 11, not cluster abc this node is to join"));
  CHECK(test::tree_diff(f.tree(), before) == "");
  CHECK(f.live->members.size() == 3);
}

TEST_CASE("replace-etcd-member rolls nothing back: it needs no accept_loss even while this node's etcd answers with newer data") {
  RestoreFixture f;
  f.make_ha();
  f.backup();
  for (int i = 0; i < 5; ++i) f.live->write(fmt::format("/registry/configmaps/default/later-{}", i), "x");
  REQUIRE(f.restore("replace-etcd-member") == core::ExitCode::ok);
  CHECK_FALSE(contains_words(f.printed.all(), "accept_loss"));
  CHECK(f.live->values().count("/registry/configmaps/default/later-4") == 1);
}

TEST_CASE("etcd-member-join without the etcd manifest taken out first fails and leaves the live manifest alone") {
  RestoreFixture f;
  f.make_ha();
  f.backup();
  test::write(f.dir.path() / "playbooks/join-only.yaml",
              "name: join-only\nsteps:\n  - type: preflight\n  - type: etcd-member-join\n");
  const auto before = f.tree();
  CHECK(f.restore("join-only", {}, true, {(f.dir.path() / "playbooks").string()}) == core::ExitCode::failed);
  CHECK(contains_words(f.printed.err(), "no etcd manifest was taken out of /etc/kubernetes/manifests by this restore"));
  CHECK(test::tree_diff(f.tree(), before) == "");
}
