#include <catch2/catch.hpp>

#include "backup/backup.hpp"
#include "etcd/rewind.hpp"

using namespace kdr;

namespace {
backup::SourcePlan plan_of(std::vector<std::pair<std::string, bool>> sources) {
  backup::SourcePlan plan;
  for (auto& [path, required] : sources) plan.sources.push_back({path, {"config"}, required, true});
  return plan;
}
core::SourceStats stats(std::string path, std::uint64_t files, std::uint64_t bytes) {
  core::SourceStats s;
  s.path = std::move(path);
  s.present = true;
  s.files = files;
  s.bytes = bytes;
  return s;
}
}  // namespace

TEST_CASE("an empty required source is never published") {
  auto plan = plan_of({{"/var/lib/etcd", true}, {"/usr/local/share/ca-certificates", false}});
  auto problems = backup::check_guards({stats("/var/lib/etcd", 0, 0), stats("/usr/local/share/ca-certificates", 0, 0)},
                                       plan, nullptr, 0.5);
  REQUIRE(problems.size() == 1);
  CHECK_THAT(problems[0], Catch::Contains("/var/lib/etcd is empty"));
}

TEST_CASE("a source that shrank below the ratio of the previous generation is refused") {
  auto plan = plan_of({{"/var/lib/etcd", true}, {"/etc/kubernetes", true}});
  core::GenerationMeta prev;
  prev.id = "g1";
  prev.sources = {stats("/var/lib/etcd", 10, 500'000'000), stats("/etc/kubernetes", 40, 90'000)};
  SECTION("bytes") {
    auto p = backup::check_guards({stats("/var/lib/etcd", 10, 100'000'000), stats("/etc/kubernetes", 40, 90'000)}, plan,
                                  &prev, 0.5);
    REQUIRE(p.size() == 1);
    CHECK_THAT(p[0], Catch::Contains("/var/lib/etcd shrank") && Catch::Contains("--allow-shrink") && Catch::Contains("g1"));
  }
  SECTION("file count") {
    auto p = backup::check_guards({stats("/var/lib/etcd", 10, 500'000'000), stats("/etc/kubernetes", 3, 89'000)}, plan,
                                  &prev, 0.5);
    REQUIRE(p.size() == 1);
    CHECK_THAT(p[0], Catch::Contains("/etc/kubernetes shrank"));
  }
  SECTION("normal growth and small shrinking pass") {
    CHECK(backup::check_guards({stats("/var/lib/etcd", 12, 400'000'000), stats("/etc/kubernetes", 39, 80'000)}, plan,
                               &prev, 0.5)
              .empty());
  }
  SECTION("ratio 0 (--allow-shrink) lets a real shrink through") {
    CHECK(backup::check_guards({stats("/var/lib/etcd", 1, 10), stats("/etc/kubernetes", 1, 10)}, plan, &prev, 0.0)
              .empty());
  }
}

TEST_CASE("etcd that went back or collapsed is told apart from etcd that went on") {
  using kdr::etcd::EtcdPoint;
  const EtcdPoint journal{"aa", 55, 120, "the change journal"};
  SECTION("the same cluster at a lower revision: its data dir was lost") {
    const auto what = kdr::etcd::etcd_went_back(journal, {"aa", 3, 2, "etcd"}, 0.5);
    REQUIRE(what);
    CHECK(*what == "etcd's revision went back from 55 (the change journal) to 3");
  }
  SECTION("another cluster id with most keys gone: no proof of a restore") {
    const auto what = kdr::etcd::etcd_went_back(journal, {"bb", 3, 2, "etcd"}, 0.5);
    REQUIRE(what);
    CHECK_THAT(*what, Catch::Contains("collapsed from 120 keys (the change journal, revision 55) to 2 at revision 3 "
                                      "of another cluster (bb, was aa)"));
  }
  SECTION("a restore under a new cluster id with the keys back, or etcd going on, is fine") {
    CHECK_FALSE(kdr::etcd::etcd_went_back(journal, {"bb", 11, 119, "etcd"}, 0.5));
    CHECK_FALSE(kdr::etcd::etcd_went_back(journal, {"aa", 56, 100, "etcd"}, 0.5));
    CHECK_FALSE(kdr::etcd::etcd_went_back(journal, {"aa", 55, std::nullopt, "etcd"}, 0.5));
  }
  SECTION("a few keys are too few to call a collapse; ratio 0 accepts any") {
    CHECK_FALSE(kdr::etcd::etcd_went_back({"aa", 10, 6, "g"}, {"aa", 12, 0, "etcd"}, 0.5));
    CHECK_FALSE(kdr::etcd::etcd_went_back(journal, {"aa", 60, 1, "etcd"}, 0.0));
  }
}

#include "backup/backup_disk.hpp"

TEST_CASE("the backup disk: an unmounted mount point is refused, the node's own file system too, but for a sandbox") {
  using kdr::backup::DiskFacts;
  using kdr::backup::FileSystem;
  DiskFacts f;
  f.backup = FileSystem{"/backup/kdr", "/", 0x801};
  f.etcd = FileSystem{"/var/lib/etcd", "/", 0x801};
  f.kubernetes = FileSystem{"/etc/kubernetes", "/", 0x801};
  f.mount_point = "/backup";
  f.mount_point_mounted = false;
  kdr::core::BackupDiskConfig config;
  auto v = kdr::backup::judge_backup_disk(f, config, false);
  REQUIRE(v.refusal);
  CHECK_THAT(*v.refusal, Catch::Contains("/backup is not a mount point"));
  f.mount_point_mounted = true;  // mounted, but the same device as the node's data: a bind mount of the root disk
  v = kdr::backup::judge_backup_disk(f, config, false);
  REQUIRE(v.refusal);
  CHECK_THAT(*v.refusal, Catch::Contains("same file system as /var/lib/etcd (the file system mounted at /, device 8:1)"));
  CHECK(kdr::backup::judge_backup_disk(f, config, true).warnings.size() == 1);
  CHECK_FALSE(kdr::backup::judge_backup_disk(f, config, true).refusal);
  config.allow_same_filesystem = true;
  CHECK_FALSE(kdr::backup::judge_backup_disk(f, config, false).refusal);
  f.backup->device = 0x811;  // another disk
  config.allow_same_filesystem = false;
  v = kdr::backup::judge_backup_disk(f, config, false);
  CHECK_FALSE(v.refusal);
  CHECK(v.warnings.empty());
}
