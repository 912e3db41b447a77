// Off-site copies through restic (offsite/): the secrets restic gets and how, the tags a
// generation goes up with and their reading back, which generations a push sends, restic's
// failures told apart. restic here is a stand-in (FakePrograms) answering as restic 0.14 does;
// tests/scenarios/offsite_*.sh run the real restic against real stores.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "offsite/locks.hpp"
#include "offsite/offsite.hpp"
#include "offsite/push_state.hpp"
#include "offsite/restic.hpp"
#include "restore_fixture.hpp"
#include "support.hpp"

using namespace kdr;
using test::answer;
using test::RestoreFixture;

namespace {

std::string error_thrown(const std::function<void()>& f) {
  try {
    f();
  } catch (const core::Error& e) {
    return e.what();
  }
  return "no error";
}

void secret(const RestoreFixture& f, const std::string& node_path, const std::string& text, mode_t mode = 0600) {
  test::write(f.node(node_path), text);
  ::chmod(f.node(node_path).c_str(), mode);
}

}  // namespace

TEST_CASE("restic gets the repository, the password file and the backend's keys through its environment only") {
  RestoreFixture f;
  secret(f, "/etc/kdr/restic-password", "hunter2\n");
  secret(f, "/etc/kdr/s3.env", "# the bucket's keys\nexport AWS_ACCESS_KEY_ID=AKIA123\nAWS_SECRET_ACCESS_KEY='s3cr3t'\n");
  f.extra_config = "offsite:\n  repository: s3:https://s3.example/bucket\n  env_files: [/etc/kdr/s3.env]\n";
  const auto ctx = f.context();
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  f.programs->programs["restic"] = [&](const std::vector<std::string>& a, const core::ProcessOptions& o) {
    argv = a;
    env = o.env;
    return answer(0, "[]");
  };
  const offsite::Restic restic(ctx);
  CHECK(offsite::list_offsite(restic).empty());
  CHECK(env.at("RESTIC_REPOSITORY") == "s3:https://s3.example/bucket");
  CHECK(env.at("RESTIC_PASSWORD_FILE") == f.node("/etc/kdr/restic-password").string());
  CHECK(env.at("AWS_ACCESS_KEY_ID") == "AKIA123");
  CHECK(env.at("AWS_SECRET_ACCESS_KEY") == "s3cr3t");
  for (const auto& a : argv) {
    CHECK_FALSE(contains(a, "hunter2"));
    CHECK_FALSE(contains(a, "s3cr3t"));
    CHECK_FALSE(contains(a, "s3.example"));
  }
  CHECK(argv == std::vector<std::string>{"restic", "snapshots", "--json", "--tag", "kdr", "--tag", "kdr-journal"});
}

TEST_CASE("a repository URL's credentials are masked wherever kdr shows or records it") {
  CHECK(offsite::mask_credentials("rest:https://kdr:s3cret@backup.example:8000/node1") ==
        "rest:https://kdr:***@backup.example:8000/node1");
  CHECK(offsite::mask_credentials("rest:http://token@127.0.0.1:8000/") == "rest:http://***@127.0.0.1:8000/");
  CHECK(offsite::mask_credentials("rest:http://127.0.0.1:8000/a@b") == "rest:http://127.0.0.1:8000/a@b");
  CHECK(offsite::mask_credentials("sftp:root@127.0.0.1:/srv/restic") == "sftp:root@127.0.0.1:/srv/restic");
  CHECK(offsite::mask_credentials("/srv/restic") == "/srv/restic");
  CHECK(offsite::mask_credentials("s3:https://s3.amazonaws.com/bucket") == "s3:https://s3.amazonaws.com/bucket");
}

TEST_CASE("a password file or an env file that others can read is refused, naming it") {
  RestoreFixture f;
  f.extra_config = "offsite:\n  repository: /srv/restic\n";
  CHECK(contains(error_thrown([&] { offsite::Restic r(f.context()); }), "/etc/kdr/restic-password does not exist"));
  secret(f, "/etc/kdr/restic-password", "pw\n", 0644);
  CHECK(contains(error_thrown([&] { offsite::Restic r(f.context()); }),
                 "offsite.password_file: /etc/kdr/restic-password has mode 0644: it holds a secret; make it 0600"));
  ::chmod(f.node("/etc/kdr/restic-password").c_str(), 0600);
  secret(f, "/etc/kdr/b2.env", "B2_ACCOUNT_ID=1\n", 0640);
  f.extra_config += "  env_files: [/etc/kdr/b2.env]\n";
  CHECK(contains(error_thrown([&] { offsite::Restic r(f.context()); }), "/etc/kdr/b2.env has mode 0640"));
  ::chmod(f.node("/etc/kdr/b2.env").c_str(), 0600);
  CHECK(error_thrown([&] { offsite::Restic r(f.context()); }) == "no error");
}

TEST_CASE("an env file's bad line is named with its file and line") {
  CHECK(offsite::parse_env_file("A=1\n\n# c\nexport B=\"two words\"\n", "x.env") ==
        std::map<std::string, std::string>{{"A", "1"}, {"B", "two words"}});
  CHECK(contains(error_thrown([] { offsite::parse_env_file("A=1\nnot a pair\n", "x.env"); }), "x.env:2: expected KEY=VALUE"));
  CHECK(contains(error_thrown([] { offsite::parse_env_file("1A=x\n", "x.env"); }), "x.env:1:"));
}

TEST_CASE("restic's failures are told apart, each with its exit code") {
  using P = offsite::ResticProblem;
  const auto of = [](int code, const std::string& err) { return offsite::classify_restic(answer(code, "", err)); };
  CHECK(of(1, "Fatal: wrong password or no key found\n") == P::denied);
  CHECK(of(1, "Fatal: unable to create lock in backend: repository is already locked by PID 42 on cp-1 by root\n") ==
        P::locked);
  CHECK(of(1, "Fatal: unable to open config file: Head \"http://127.0.0.1:9/config\": dial tcp 127.0.0.1:9: connect: "
              "connection refused\n") == P::unreachable);
  CHECK(of(1, "Fatal: unable to open repository at sftp:x:/r: unable to start the sftp session, error: EOF\n") ==
        P::unreachable);
  CHECK(of(1, "Save(<data/1234>) returned error: write /srv/r/data/12/1234: no space left on device\n") == P::full);
  CHECK(of(1, "Fatal: unable to open config file: stat /r/config: no such file or directory\nIs there a repository "
              "at the following location?\n") == P::no_repository);
  // sftp (SSH_FX_FAILURE) and REST servers (500) cannot say why they refused to store data.
  CHECK(of(1, "Save(<data/ed43cee70d>) returned error, retrying after 3.2s: Write: sftp: \"Failure\" "
              "(SSH_FX_FAILURE)\nFatal: unable to save snapshot: Write: sftp: \"Failure\" (SSH_FX_FAILURE)\n") == P::full);
  CHECK(of(1, "Fatal: unable to save snapshot: server response unexpected: 500 Internal Server Error (500)\n") ==
        P::full);
  CHECK(of(1, "Fatal: unable to open config file: server response unexpected: 500 Internal Server Error (500)\n") ==
        P::other);
  CHECK(of(0, "") == P::none);
  CHECK(offsite::exit_code_of(P::unreachable) == core::ExitCode::offsite_unreachable);
  CHECK(offsite::exit_code_of(P::denied) == core::ExitCode::offsite_denied);
  CHECK(offsite::exit_code_of(P::locked) == core::ExitCode::offsite_locked);
  CHECK(offsite::exit_code_of(P::full) == core::ExitCode::offsite_full);
}

TEST_CASE("a generation goes up tagged so that restic's own tools find it, and is read back from restic's listing") {
  core::GenerationMeta meta;
  meta.id = "2026-11-28T101500Z";
  meta.status = core::GenerationStatus::partial;
  meta.bytes_total = 1234;
  meta.etcd.snapshot = core::EtcdSnapshotRecord{};
  const auto tags = offsite::tags_of(meta, "cp-1");
  CHECK(tags == std::vector<std::string>{"kdr", "kdr-node=cp-1", "kdr-generation=2026-11-28T101500Z",
                                         "kdr-status=partial", "kdr-bytes=1234", "kdr-full"});
  const auto snapshot = nlohmann::json{{"short_id", "abcd1234"},
                                       {"time", "2026-11-28T10:16:00Z"},
                                       {"hostname", "cp-1"},
                                       {"paths", {"/backup/kdr/generations/2026-11-28T101500Z"}},
                                       {"tags", tags}};
  const auto g = offsite::from_restic_snapshot(snapshot);
  REQUIRE(g);
  CHECK(g->generation == meta.id);
  CHECK(g->node == "cp-1");
  CHECK(g->status == "partial");
  CHECK(g->full);
  CHECK(g->bytes == 1234);
  CHECK(g->snapshot_id == "abcd1234");
  CHECK(g->path == "/backup/kdr/generations/2026-11-28T101500Z");
  CHECK_FALSE(offsite::from_restic_snapshot({{"short_id", "x"}, {"tags", {"other"}}}));  // not kdr's
}

TEST_CASE("a restic snapshot tagged as kdr's with an id or a path kdr never writes is refused, never a folder name") {
  const auto snapshot = [](const std::string& id, const std::string& path) {
    return nlohmann::json{{"short_id", "feedbeef"},
                          {"paths", {path}},
                          {"tags", {"kdr", "kdr-node=cp-1", "kdr-generation=" + id}}};
  };
  CHECK(offsite::from_restic_snapshot(snapshot("2026-11-28T101500Z", "/backup/kdr/generations/2026-11-28T101500Z")));
  CHECK(offsite::from_restic_snapshot(snapshot("2026-11-28T101500Z.2", "/backup/x")));
  for (const auto* id : {"x/../../../planted", "../2026-11-28T101500Z", "2026-11-28T101500Z/..", "2026-11-28T101500Z.0",
                         "2026-11-28T101500Z.", "2026-11-28T101500", "2026-11-28 101500Z", "latest", ".staging-x"}) {
    INFO(id);
    CHECK_THROWS_WITH(offsite::from_restic_snapshot(snapshot(id, "/backup/x")),
                      Catch::Contains("is not a generation id kdr makes"));
  }
  for (const auto* path : {"backup/x", "/backup/../etc", "/backup/./x", ""}) {
    INFO(path);
    CHECK_THROWS_WITH(offsite::from_restic_snapshot(snapshot("2026-11-28T101500Z", path)),
                      Catch::Contains("is not one kdr backs up"));
  }
}

TEST_CASE("a push sends what is newer than the newest off site: the newest generation and those with a full snapshot") {
  RestoreFixture f;
  const auto g1 = f.backup();
  f.host->clock += 300;
  const auto g2 = f.backup();
  f.host->clock += 300;
  const auto g3 = f.backup();
  const auto repo = core::Repository::open(f.backup_dir);
  const auto ids = [](const std::vector<core::GenerationEntry>& v) {
    std::vector<std::string> out;
    for (const auto& e : v) out.push_back(e.id);
    return out;
  };
  // every one holds a full snapshot here: all three go up the first time
  CHECK(ids(offsite::to_push(repo, {}, "cp1")) == std::vector<std::string>{g1, g2, g3});
  offsite::OffsiteGeneration up;
  up.node = "cp1";
  up.generation = g2;
  CHECK(ids(offsite::to_push(repo, {up}, "cp1")) == std::vector<std::string>{g3});
  // another node's generations in the same repository do not count
  up.node = "cp2";
  up.generation = g3;
  CHECK(ids(offsite::to_push(repo, {up}, "cp1")).size() == 3);
  up.node = "cp1";
  CHECK(offsite::to_push(repo, {up}, "cp1").empty());
  CHECK(ids(offsite::to_push(repo, {up}, "cp1", g1)) == std::vector<std::string>{g1});  // asked for
}

TEST_CASE("a backup pushes as offsite.push says: never (manual), always (after-backup), or once the last push is N minutes old") {
  RestoreFixture f;
  offsite::PushState state;
  state.last_success = f.host->clock - 30 * 60;
  const auto due = [&](const std::string& yaml) {
    f.extra_config = "offsite:\n  repository: /srv/restic\n" + yaml;
    return offsite::push_due(f.context(), state);
  };
  CHECK_FALSE(due(""));  // manual by default
  CHECK(due("  push: after-backup\n"));
  CHECK_FALSE(due("  push: every\n  push_every_minutes: 60\n"));
  CHECK(due("  push: every\n  push_every_minutes: 30\n"));
  f.extra_config = "";
  CHECK_FALSE(offsite::push_due(f.context(), state));  // no repository: nothing to push to
}

namespace {

// A repository whose locks are `locks` (id -> `restic cat lock` JSON): restic lists them, an
// exclusive command (forget) is refused while any is there, `restic unlock` removes those restic
// takes for stale (this host's with their process gone, and any older than 30 min).
struct LockedRepository {
  std::map<std::string, std::string> locks;
  std::vector<std::vector<std::string>> calls;
  const test::FakeHost* host = nullptr;

  static std::string lock_json(const std::string& hostname, int pid, const std::string& time) {
    return fmt::format(R"({{"time":"{}","exclusive":false,"hostname":"{}","username":"root","pid":{}}})", time,
                       hostname, pid);
  }
  core::ProcessResult operator()(const std::vector<std::string>& a) {
    calls.push_back(a);
    if (a.at(1) == "list") {
      std::string ids;
      for (const auto& [id, _] : locks) ids += id + "\n";
      return answer(0, ids);
    }
    if (a.at(1) == "cat") return answer(0, locks.at(a.at(3)));
    if (a.at(1) == "unlock") {
      for (auto it = locks.begin(); it != locks.end();) {
        const auto lock = offsite::parse_lock(it->first, it->second);
        const bool stale = core::now_epoch() - lock->time > offsite::restic_stale_seconds ||
                           (lock->hostname == host->hostname() && !host->process_alive(lock->pid));
        it = stale ? locks.erase(it) : std::next(it);
      }
      return answer(0, "successfully removed locks\n");
    }
    if (!locks.empty()) {
      const auto l = offsite::parse_lock(locks.begin()->first, locks.begin()->second);
      return answer(1, "", fmt::format("unable to create lock in backend: repository is already locked by PID {} on {} "
                                       "by root (UID 0, GID 0)\nlock was created at 2026-11-18\n",
                                       l->pid, l->hostname));
    }
    return answer(0, "forgotten\n");
  }
  std::size_t count(const std::string& command) const {
    return static_cast<std::size_t>(
        std::count_if(calls.begin(), calls.end(), [&](const auto& c) { return c.at(1) == command; }));
  }
};

}  // namespace

TEST_CASE("a lock left by a killed push on this host is removed, while another host's lock, or one whose process runs, is named and left") {
  RestoreFixture f;
  secret(f, "/etc/kdr/restic-password", "pw\n");
  f.extra_config = "offsite:\n  repository: /srv/restic\n";
  f.host->name = "cp1";
  f.host->clock = *offsite::parse_rfc3339("2026-11-18T12:00:00Z");
  f.host->running_pids = {777};
  const auto ctx = f.context();
  LockedRepository repo;
  repo.host = f.host.get();
  f.programs->programs["restic"] = [&](const std::vector<std::string>& a, const core::ProcessOptions&) { return repo(a); };
  const offsite::Restic restic(ctx);
  const auto forget = [&] { restic.run({"forget", "--prune"}, std::chrono::minutes(1)); };
  const auto own_dead = LockedRepository::lock_json("cp1", 555, "2026-11-18T11:58:00.123456789Z");

  SECTION("this host's, its process gone: removed, and the command runs") {
    repo.locks["aaaa1111"] = own_dead;
    CHECK(error_thrown(forget) == "no error");
    CHECK(repo.locks.empty());
    CHECK(repo.count("unlock") == 1);
    CHECK(repo.count("forget") == 2);
    CHECK(contains(f.printed.all(), "removed this host's stale restic lock (lock aaaa1111: PID 555 on cp1 (root), shared, 2 min old"));
  }
  SECTION("a command whose exit code 1 is a result (check) is not taken for one when a lock stopped it") {
    repo.locks["aaaa1111"] = own_dead;
    const auto res = restic.run({"check"}, std::chrono::minutes(1), {1});
    CHECK(res.exit_code == 0);
    CHECK(repo.count("unlock") == 1);
    CHECK(repo.count("check") == 2);
  }
  SECTION("another host's (recent): this host's stale one removed, the other named and left, exit 22") {
    repo.locks["aaaa1111"] = own_dead;
    repo.locks["bbbb2222"] = LockedRepository::lock_json("cp2", 555, "2026-11-18T11:57:00+00:00");
    try {
      forget();
      FAIL("the forget ran despite cp2's lock");
    } catch (const offsite::OffsiteError& e) {
      CHECK(e.code() == core::ExitCode::offsite_locked);
      CHECK(contains(e.what(), "lock bbbb2222: PID 555 on cp2 (root), shared, 3 min old: another host's; kdr leaves it"));
    }
    CHECK(repo.locks.count("bbbb2222") == 1);
    CHECK(repo.locks.count("aaaa1111") == 0);
  }
  SECTION("another host's older than 30 min: restic unlock would remove it too, so kdr runs no unlock") {
    repo.locks["aaaa1111"] = own_dead;
    repo.locks["cccc3333"] = LockedRepository::lock_json("cp3", 9, "2026-11-18T12:30:00+01:00");  // 11:30 UTC
    const auto message = error_thrown(forget);
    CHECK(contains(message, "lock cccc3333: PID 9 on cp3 (root), shared, 30 min old: another host's"));
    CHECK(contains(message, "restic unlock would also remove another client's lock older than 30 min"));
    CHECK(repo.count("unlock") == 0);
    CHECK(repo.locks.size() == 2);
  }
  SECTION("this host's, its process running: left") {
    repo.locks["dddd4444"] = LockedRepository::lock_json("cp1", 777, "2026-11-18T11:59:00Z");
    CHECK(contains(error_thrown(forget), "lock dddd4444: PID 777 on cp1 (root), shared, 60 s old: its process runs on this host"));
    CHECK(repo.count("unlock") == 0);
  }
}

TEST_CASE("restic's lock times are read in RFC 3339, with fractions and offsets") {
  CHECK(offsite::parse_rfc3339("1970-01-01T00:01:00Z") == 60);
  CHECK(offsite::parse_rfc3339("1970-01-01T01:01:00.999999999+01:00") == 60);
  CHECK(offsite::parse_rfc3339("1970-01-01T00:00:00-00:30") == 1800);
  CHECK_FALSE(offsite::parse_rfc3339("yesterday").has_value());
  CHECK_FALSE(offsite::parse_lock("x", "{\"time\": 1}").has_value());
}

TEST_CASE("off-site retention keeps the full generation a kept one needs for etcd, and the newest journal only") {
  const auto gen = [](std::string snap, std::string id, bool full) {
    offsite::OffsiteGeneration g;
    g.snapshot_id = std::move(snap);
    g.generation = std::move(id);
    g.node = "cp1";
    g.full = full;
    return g;
  };
  // g1 full, g2 point, g3 full, g4 point, g5 point (newest)
  const std::vector<offsite::OffsiteGeneration> offsite = {gen("s1", "g1", true), gen("s2", "g2", false),
                                                           gen("s3", "g3", true), gen("s4", "g4", false),
                                                           gen("s5", "g5", false)};
  std::vector<offsite::OffsiteJournal> journals(3);
  for (std::size_t i = 0; i < journals.size(); ++i) journals[i].snapshot_id = fmt::format("j{}", i + 1);
  const auto snaps = [](std::initializer_list<const char*> ids) {
    auto out = nlohmann::json::array();
    for (const auto* id : ids) out.push_back({{"short_id", id}});
    return out;
  };
  SECTION("keep last 1: g5 needs g3; g1, g2, g4 and the older journals go") {
    const nlohmann::json policy = nlohmann::json::array({{{"keep", snaps({"s5"})}, {"remove", snaps({"s1", "s2", "s3", "s4"})}}});
    const auto plan = offsite::plan_forget(policy, offsite, journals);
    CHECK(plan.remove == std::vector<std::string>{"s1", "s2", "s4", "j1", "j2"});
    REQUIRE(plan.kept_for.size() == 1);
    CHECK(plan.kept_for[0] == std::make_pair(std::string("g3"), std::string("g5")));
  }
  SECTION("a kept full generation needs nothing; a kept point whose base is kept anyway adds nothing") {
    const nlohmann::json policy =
        nlohmann::json::array({{{"keep", snaps({"s3", "s4"})}, {"remove", snaps({"s1", "s2", "s5"})}}});
    const auto plan = offsite::plan_forget(policy, offsite, {});
    CHECK(plan.remove == std::vector<std::string>{"s1", "s2", "s5"});
    CHECK(plan.kept_for.empty());
  }
}

TEST_CASE("a push asks the repository what it holds once a day, after a failure or a change of repository, and in between trusts its last push") {
  RestoreFixture f;
  secret(f, "/etc/kdr/restic-password", "pw\n");
  f.extra_config = "offsite:\n  repository: /srv/restic\n";
  std::map<std::string, std::vector<std::string>> snapshots_in;  // per repository, as pushes add them
  std::vector<std::string> commands;
  int fail_next_backup = 0;
  f.programs->programs["restic"] = [&](const std::vector<std::string>& a, const core::ProcessOptions& o) {
    commands.push_back(a.at(1));
    auto& listed_snapshots = snapshots_in[o.env.at("RESTIC_REPOSITORY")];
    if (a.at(1) == "snapshots") {
      std::string out = "[";
      for (std::size_t i = 0; i < listed_snapshots.size(); ++i) out += (i ? "," : "") + listed_snapshots[i];
      return answer(0, out + "]");
    }
    if (fail_next_backup > 0) {
      --fail_next_backup;
      return answer(1, "", "Fatal: unable to open config file: dial tcp 127.0.0.1:9: connect: connection refused\n");
    }
    std::string tags;
    for (std::size_t i = 0; i + 1 < a.size(); ++i)
      if (a[i] == "--tag") tags += (tags.empty() ? "\"" : ",\"") + a[i + 1] + "\"";
    listed_snapshots.push_back(fmt::format(R"({{"short_id":"s{}","tags":[{}],"paths":["{}"]}})", listed_snapshots.size(),
                                           tags, a.back()));
    return answer(0, R"({"message_type":"summary","data_added":10,"total_bytes_processed":20})");
  };
  const auto count = [&](const std::string& c) { return std::count(commands.begin(), commands.end(), c); };
  const auto g1 = f.backup();
  offsite::push_and_record(f.context());
  CHECK(count("snapshots") == 1);  // nothing known yet: listed
  CHECK(offsite::read_push_state(f.context()).newest_generation == g1);

  f.host->clock += 300;
  const auto g2 = f.backup();
  auto result = offsite::push_and_record(f.context());
  CHECK(count("snapshots") == 1);  // the last push is trusted
  CHECK(result.pushed == std::vector<std::string>{g2});
  CHECK(offsite::read_push_state(f.context()).newest_generation == g2);

  f.host->clock += 300;
  const auto g3 = f.backup();
  fail_next_backup = 1;
  CHECK_THROWS_AS(offsite::push_and_record(f.context()), offsite::OffsiteError);
  CHECK(count("snapshots") == 1);
  result = offsite::push_and_record(f.context());  // after a failure: listed again
  CHECK(count("snapshots") == 2);
  CHECK(result.pushed == std::vector<std::string>{g3});

  f.host->clock += offsite::relist_seconds;
  const auto g4 = f.backup();
  offsite::push_and_record(f.context());  // a day later: listed again
  CHECK(count("snapshots") == 3);

  f.host->clock += 300;
  f.backup();
  f.extra_config = "offsite:\n  repository: /srv/another\n";
  result = offsite::push_and_record(f.context());  // another repository: listed, and it gets everything
  CHECK(count("snapshots") == 4);
  CHECK(result.pushed.size() == 5);
  (void)g4;

  // a repository kdr offsite init just made holds nothing: the first push does not ask
  f.host->clock += 300;
  f.backup();
  f.extra_config = "offsite:\n  repository: /srv/fresh\n";
  offsite::record_new_repository(f.context(), "/srv/fresh");
  result = offsite::push_and_record(f.context());
  CHECK(count("snapshots") == 4);
  CHECK(result.pushed.size() == 6);
}
