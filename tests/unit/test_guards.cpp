#include <catch2/catch.hpp>

#include "backup/backup.hpp"

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
