#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "core/repository.hpp"
#include "temp_dir.hpp"

using namespace kdr;

namespace {
void fake_generation(const core::Repository& repo, const std::string& id, std::int64_t time) {
  core::make_dir(repo.staging_path(id), 0700);
  core::GenerationMeta m;
  m.id = id;
  m.time = time;
  core::write_file_atomic(repo.staging_path(id) / "meta.json", m.to_json().dump());
  repo.publish(id);
}
}  // namespace

TEST_CASE("a backup folder is created 0700 only where its parent exists") {
  test::TempDir tmp;
  CHECK_THROWS_WITH(core::Repository::open_or_create(tmp.path() / "not-mounted/kdr"),
                    Catch::Contains("is the backup disk mounted"));
  auto repo = core::Repository::open_or_create(tmp.path() / "kdr");
  CHECK(core::lstat_path(repo.dir())->mode == 0700);
  CHECK(core::lstat_path(repo.generations_dir())->mode == 0700);
}

TEST_CASE("a backup folder that already exists open to others is made 0700 before anything is written into it") {
  test::TempDir tmp;
  SECTION("an empty folder an operator made with the default umask") {
    core::make_dir(tmp.path() / "kdr", 0755);
    ::chmod((tmp.path() / "kdr").c_str(), 0755);
    auto repo = core::Repository::open_or_create(tmp.path() / "kdr");
    CHECK(core::lstat_path(repo.dir())->mode == 0700);
  }
  SECTION("a kdr backup folder loosened since (chmod 0777)") {
    auto repo = core::Repository::open_or_create(tmp.path() / "kdr");
    fake_generation(repo, "2026-01-01T000000Z", 1);
    ::chmod(repo.dir().c_str(), 0777);
    repo = core::Repository::open_or_create(tmp.path() / "kdr");
    CHECK(core::lstat_path(repo.dir())->mode == 0700);
    CHECK(repo.generations().size() == 1);
  }
}

TEST_CASE("a non-empty folder that is not kdr's is never written into") {
  test::TempDir tmp;
  test::write(tmp.path() / "other/precious.txt", "x");
  CHECK_THROWS_WITH(core::Repository::open_or_create(tmp.path() / "other"), Catch::Contains("not a kdr backup folder"));
  try {
    core::Repository::open(tmp.path() / "other");
    FAIL("opened");
  } catch (const core::Error& e) {
    CHECK(e.code() == core::ExitCode::no_backup);
  }
}

TEST_CASE("publish, find, latest and removal of generations") {
  test::TempDir tmp;
  auto repo = core::Repository::open_or_create(tmp.path() / "kdr");
  const auto id1 = repo.new_generation_id(1795392000);
  CHECK(id1 == "2026-11-23T000000Z");
  fake_generation(repo, id1, 1795392000);
  const auto id2 = repo.new_generation_id(1795392000);
  CHECK(id2 == "2026-11-23T000000Z.1");
  fake_generation(repo, id2, 1795392000);
  CHECK(repo.latest_id() == id2);
  CHECK(repo.find("latest").id == id2);
  CHECK(repo.find("2026-11-23T000000Z").id == id1);
  CHECK_THROWS_WITH(repo.find("2026-11"), Catch::Contains("matches 2 generations"));
  CHECK_THROWS_WITH(repo.find("1999"), Catch::Contains("no generation"));

  // an interrupted run's staging folder is not a generation, and is cleaned up
  core::make_dir(repo.staging_path("2026-11-23T000500Z"), 0700);
  CHECK(repo.generations().size() == 2);
  CHECK(repo.remove_leftovers() == std::vector<std::string>{".tmp-2026-11-23T000500Z"});

  repo.remove_generation(id2);
  CHECK(repo.latest_id() == id1);  // never dangling
  REQUIRE(repo.generations().size() == 1);
  CHECK(repo.generations()[0].meta->id == id1);
}

TEST_CASE("the exclusive lock is exclusive") {
  test::TempDir tmp;
  auto repo = core::Repository::open_or_create(tmp.path() / "kdr");
  auto held = repo.lock(core::LockMode::exclusive);
  try {
    auto second = repo.lock(core::LockMode::exclusive);
    FAIL("second lock taken");
  } catch (const core::Error& e) {
    CHECK(e.code() == core::ExitCode::locked);
    CHECK_THAT(std::string(e.what()), Catch::Contains("another kdr run holds the lock"));
    // the holder is named from /proc/locks: this process, holding it exclusively
    CHECK_THAT(std::string(e.what()), Catch::Contains(fmt::format("pid {} (", ::getpid())));
    CHECK_THAT(std::string(e.what()), Catch::Contains("exclusive)"));
  }
}

TEST_CASE("lock holders: shared holders are named, an unlocked file has none") {
  test::TempDir tmp;
  auto repo = core::Repository::open_or_create(tmp.path() / "kdr");
  CHECK(core::lock_holders(tmp.path() / "kdr" / ".lock").empty());
  auto held = repo.lock(core::LockMode::shared);
  CHECK_THAT(core::lock_holders(tmp.path() / "kdr" / ".lock"), Catch::Contains("shared)"));
}
