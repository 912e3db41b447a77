// The commands' library functions end to end on the fake node (restore_fixture.hpp):
// `kdr backup` (jobs/backup_job.hpp) and `kdr journal start` (journal/start.hpp).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/repository.hpp"
#include "jobs/backup_job.hpp"
#include "jobs/restore_test.hpp"
#include "journal/inspect.hpp"
#include "journal/start.hpp"
#include "journal/store.hpp"
#include "restore/journal.hpp"
#include "crash_after.hpp"
#include "restore_fixture.hpp"

using namespace kdr;
using test::RestoreFixture;

namespace {

std::size_t generations(const RestoreFixture& f) { return core::Repository::open(f.backup_dir).generations().size(); }

core::bfs::path metrics_dir(const RestoreFixture& f) { return f.node("/var/lib/node_exporter/textfile_collector"); }

// Leaves a restore that changed the node and stopped (as a kill would stop it).
std::string half_done_restore(RestoreFixture& f) {
  test::CrashAfter crash(4);
  REQUIRE_THROWS_AS(f.restore("restore-files"), test::Crash);
  return f.restore_ids().at(0);
}

}  // namespace

TEST_CASE("kdr backup writes a generation, its metrics, and verifies it when asked") {
  RestoreFixture f;
  core::bfs::create_directories(metrics_dir(f));
  jobs::BackupJobOptions o;
  o.verify = true;
  CHECK(jobs::run_backup_job(f.context(), o) == core::ExitCode::ok);
  CHECK(generations(f) == 1);
  const auto id = core::Repository::open(f.backup_dir).find("latest").id;
  const auto out = f.printed.all();
  CHECK_THAT(out, Catch::Contains("generation " + id + " complete"));
  const auto backup_prom = core::read_file(metrics_dir(f) / "kdr_backup.prom");
  CHECK_THAT(backup_prom, Catch::Contains("kdr_backup_last_run_exit_code 0"));
  // verify ran on the new generation and wrote its own metrics
  CHECK_THAT(out, Catch::Contains("kdr verify: generation " + id));
  CHECK_THAT(core::read_file(metrics_dir(f) / "kdr_verify.prom"),
             Catch::Contains(fmt::format("kdr_verify_generation_timestamp_seconds {}", f.host->clock)));
}

TEST_CASE("kdr backup --dry-run shows the sources and writes nothing") {
  RestoreFixture f;
  jobs::BackupJobOptions o;
  o.dry_run = true;
  CHECK(jobs::run_backup_job(f.context(), o) == core::ExitCode::ok);
  CHECK_FALSE(core::lstat_path(f.backup_dir / "generations"));
  CHECK_THAT(f.printed.out(), Catch::Contains("Sources (") && Catch::Contains("/etc/kubernetes") &&
                                  Catch::Contains("Dry run: would write a new generation"));
}

TEST_CASE("kdr backup refuses a node a restore left half-done, naming the commands that finish or undo it") {
  RestoreFixture f;
  f.backup();
  core::bfs::create_directories(metrics_dir(f));
  const auto id = half_done_restore(f);
  const auto before = generations(f);
  try {
    jobs::run_backup_job(f.context(), {});
    FAIL("the backup ran");
  } catch (const core::Error& e) {
    CHECK(e.code() == core::ExitCode::locked);
    CHECK_THAT(e.what(), Catch::Contains("restore " + id + " is unfinished") &&
                             Catch::Contains("restore --resume " + id) && Catch::Contains("restore --rollback " + id));
  }
  CHECK(generations(f) == before);
  // the refusal is in the metrics, so that the alert on a failed backup fires
  CHECK_THAT(core::read_file(metrics_dir(f) / "kdr_backup.prom"),
             Catch::Contains(fmt::format("kdr_backup_last_run_exit_code {}", core::to_int(core::ExitCode::locked))));
  // once it is rolled back, backups run again
  REQUIRE(f.rollback(id) == core::ExitCode::ok);
  CHECK(jobs::run_backup_job(f.context(), {}) == core::ExitCode::ok);
  CHECK(generations(f) == before + 1);
}

TEST_CASE("kdr journal start starts the follower detached, with its log, unless one holds the journal") {
  RestoreFixture f;
  const auto ctx = f.context();
  const journal::JournalStore store(f.backup_dir);
  // The stand-in for `kdr journal run`: it takes the journal's lock, as the follower does.
  int follower_fd = -1;
  f.programs->on_spawn = [&](const std::vector<std::string>&, const core::bfs::path& log) {
    CHECK(core::lstat_path(log)->mode == 0600);
    follower_fd = ::open(store.lock_file().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    REQUIRE(follower_fd >= 0);
    REQUIRE(::flock(follower_fd, LOCK_EX | LOCK_NB) == 0);
  };
  const std::vector<std::string> argv = {"/usr/bin/kdr", "--root", f.root.string(), "journal", "run"};
  CHECK(journal::start_follower(ctx, argv) == core::ExitCode::ok);
  REQUIRE(f.programs->spawned.size() == 1);
  CHECK(f.programs->spawned[0] == argv);
  CHECK(core::lstat_path(store.dir() / "follower.log"));
  CHECK_THAT(f.printed.out(), Catch::Contains("journal started: ") && Catch::Contains("follower.log"));
  // it runs: a second start (cron's next minute) starts nothing
  CHECK(journal::start_follower(ctx, argv) == core::ExitCode::ok);
  CHECK(f.programs->spawned.size() == 1);
  ::close(follower_fd);
}

TEST_CASE("kdr journal start says so, naming the log, when the follower does not come up") {
  RestoreFixture f;
  CHECK_THROWS_WITH(journal::start_follower(f.context(), {"/usr/bin/kdr", "journal", "run"}, std::chrono::milliseconds(300)),
                    Catch::Contains("the journal did not start within") && Catch::Contains("follower.log"));
  CHECK(f.programs->spawned.size() == 1);
}

TEST_CASE("a backup's due restore test locked out by another kdr run is left to the next backup, exit unchanged") {
  RestoreFixture f;
  f.backup();
  REQUIRE(jobs::restore_test_due(f.context()));  // never proven: the test is due
  // another kdr run (an overlapping cron run) took the folder once the generation was published
  const auto other = core::Repository::open(f.backup_dir).lock(core::LockMode::exclusive);
  CHECK(jobs::restore_test_if_due(f.context(), core::ExitCode::ok) == core::ExitCode::ok);
  CHECK_THAT(f.printed.all(), Catch::Contains("restore test not run now: another kdr run holds the lock on") &&
                                  Catch::Contains("the next backup tries again"));
  // a backup that already failed keeps its own code
  CHECK(jobs::restore_test_if_due(f.context(), core::ExitCode::partial) == core::ExitCode::partial);
}

namespace {

bool etcdctl_saved_a_snapshot(const RestoreFixture& f) {
  for (const auto& call : f.programs->calls_of("etcdctl"))
    if (call.find("snapshot save") != std::string::npos) return true;
  return false;
}

// No temporary of the snapshot left anywhere on the backup disk.
void check_no_snapshot_temporaries(const RestoreFixture& f) {
  for (const auto& e : core::bfs::recursive_directory_iterator(f.backup_dir))
    CHECK(e.path().filename().string().find(".snapshot.db") == std::string::npos);
}

}  // namespace

TEST_CASE("a snapshot etcd streams is written by kdr itself, checked and recorded, not saved by etcdctl") {
  RestoreFixture f;
  f.stream_snapshots();
  jobs::BackupJobOptions o;
  o.verify = true;
  REQUIRE(jobs::run_backup_job(f.context(), o) == core::ExitCode::ok);
  CHECK_FALSE(etcdctl_saved_a_snapshot(f));
  const auto gen = f.generation(core::Repository::open(f.backup_dir).find("latest").id);
  const auto file = gen / "etcd" / "snapshot.db";
  REQUIRE(core::lstat_path(file));
  CHECK(core::lstat_path(file)->mode == 0600);
  // the file is the one etcd streamed: the database, then its SHA-256, as etcdctl writes it
  const auto bytes = core::read_file(file);
  CHECK(f.etcd->snapshot(core::sha256_hex(bytes.substr(0, bytes.size() - 32))));
  const auto meta = nlohmann::json::parse(core::read_file(gen / "meta.json"));
  const auto& snap = meta.at("etcd").at("snapshot");
  CHECK(snap.at("sha256") == core::sha256_hex(bytes));
  CHECK(snap.at("revision") == f.live->revision);
  CHECK(meta.at("status") == "complete");
  CHECK_THAT(f.printed.all(), Catch::Contains("kdr verify: generation"));
  check_no_snapshot_temporaries(f);
}

TEST_CASE("a snapshot stream cut short, or damaged on the way, leaves no snapshot and says why") {
  RestoreFixture f;
  f.stream_snapshots();
  SECTION("etcd closed the connection midway: stream-cut") {
    f.live->stream_cut_after = 4096;
    CHECK(jobs::run_backup_job(f.context(), {}) == core::ExitCode::partial);
    CHECK_THAT(f.printed.all(), Catch::Contains("closed the connection before its answer was complete") &&
                                    Catch::Contains("Connection reset by peer"));
    const auto gen = f.generation(core::Repository::open(f.backup_dir).find("latest").id);
    CHECK(nlohmann::json::parse(core::read_file(gen / "meta.json")).at("etcd").at("snapshot_failure") == "stream-cut");
    CHECK_FALSE(core::lstat_path(gen / "etcd" / "snapshot.db"));
  }
  SECTION("a byte changed on the way: its SHA-256 does not match, invalid-snapshot") {
    f.live->snapshot_stream = [&f](test::FakeKeyspace& ks) {
      auto bytes = f.snapshot_file(ks);
      bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 1);
      return bytes;
    };
    CHECK(jobs::run_backup_job(f.context(), {}) == core::ExitCode::partial);
    CHECK_THAT(f.printed.all(), Catch::Contains("etcd snapshot rejected: SHA-256 trailer"));
    const auto gen = f.generation(core::Repository::open(f.backup_dir).find("latest").id);
    CHECK(nlohmann::json::parse(core::read_file(gen / "meta.json")).at("etcd").at("snapshot_failure") ==
          "invalid-snapshot");
    CHECK_FALSE(core::lstat_path(gen / "etcd" / "snapshot.db"));
  }
  CHECK_FALSE(etcdctl_saved_a_snapshot(f));
  check_no_snapshot_temporaries(f);
}

TEST_CASE("a snapshot whose stream etcd cut short is a stream-cut failure: its part file gone, the data dir copied instead") {
  RestoreFixture f;
  // etcdctl as it ends when etcd closes the stream midway: the .part file half written, exit 1
  // and gRPC's "transport is closing" (etcdctl 3.4 and 3.5 print it so)
  const auto saved = f.programs->programs["etcdctl"];
  f.programs->programs["etcdctl"] = [saved](const std::vector<std::string>& argv, const core::ProcessOptions& o) {
    if (!test::has_args(argv, {"snapshot", "save"})) return saved(argv, o);
    core::write_file_atomic(argv.back() + ".part", std::string(4096, 'x'), 0600);
    return test::answer(1, "", "Error: rpc error: code = Unavailable desc = transport is closing\n");
  };
  CHECK(jobs::run_backup_job(f.context(), {}) == core::ExitCode::partial);
  const auto out = f.printed.all();
  CHECK_THAT(out, Catch::Contains("no consistent etcd snapshot in this generation: etcd at http://127.0.0.1:2 closed "
                                  "the connection before its answer was complete: it restarted, or stalled short of "
                                  "memory") &&
                      Catch::Contains("transport is closing"));
  const auto gen = f.generation(core::Repository::open(f.backup_dir).find("latest").id);
  const auto meta = nlohmann::json::parse(core::read_file(gen / "meta.json"));
  CHECK(meta.at("etcd").at("snapshot_failure") == "stream-cut");
  CHECK(meta.at("status") == "partial");
  CHECK_FALSE(core::lstat_path(gen / "etcd" / "snapshot.db"));
  for (const auto& e : core::bfs::recursive_directory_iterator(f.backup_dir))
    CHECK(e.path().filename().string().find(".part") == std::string::npos);
  // in its place, the raw copy of the data dir
  CHECK(core::lstat_path(gen / "files" / "var/lib/etcd/member/snap/db"));
}
