#include <catch2/catch.hpp>

#include "core/config.hpp"
#include "core/error.hpp"

using namespace kdr::core;

namespace {
std::string config_error(const std::string& yaml) {
  try {
    parse_config(yaml, "/etc/kdr/kdr.yaml");
  } catch (const UsageError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("the built-in defaults describe a standard kubeadm node") {
  auto c = default_config();
  CHECK(c.backup_dir == "/backup/kdr");
  CHECK(c.static_pod_path == "/etc/kubernetes/manifests");
  // etcd's data dir is not a configured source: it comes from the node (etcd/layout)
  REQUIRE(c.sources.size() == 5);
  CHECK(c.sources[0].path == "/etc/kubernetes");
  CHECK(c.sources[0].required);
  for (std::size_t i = 1; i < c.sources.size(); ++i) CHECK_FALSE(c.sources[i].required);
  CHECK(c.etcd_data_dir == "/var/lib/etcd");
  CHECK(c.etcd.cert.empty());  // found on the node
  CHECK(c.retention.keep_last == 12);
  CHECK(c.retention.hourly == 24);
  CHECK(c.retention.daily == 7);
  CHECK(c.retention.weekly == 4);
  CHECK(c.discover_host_paths);
}

TEST_CASE("a config file only changes the keys it names") {
  auto c = parse_config("retention:\n  keep_last: 3\nbackup_dir: /mnt/second/kdr/\n", "f.yaml");
  CHECK(c.retention.keep_last == 3);
  CHECK(c.retention.hourly == 24);
  CHECK(c.backup_dir == "/mnt/second/kdr");
  CHECK(c.sources.size() == 5);
  CHECK(c.origin == "f.yaml");
}

TEST_CASE("a sources list replaces the default one, and a source is optional unless it says required") {
  auto c = parse_config("sources:\n  - path: /srv/a\n    required: true\n  - path: /srv/b\n  - path: /srv/c\n"
                        "    required: false\n",
                        "f.yaml");
  REQUIRE(c.sources.size() == 3);
  CHECK(c.sources[0].required);
  CHECK_FALSE(c.sources[1].required);
  CHECK_FALSE(c.sources[2].required);
}

TEST_CASE("optional features are turned off with an empty string") {
  auto c = parse_config("kubeconfig: \"\"\nmetrics: {textfile_dir: \"\"}\n", "f.yaml");
  CHECK(c.kubeconfig.empty());
  CHECK(c.metrics_dir.empty());
  CHECK(default_config().kubeconfig == "/etc/kubernetes/admin.conf");
}

TEST_CASE("an empty config file means the defaults") {
  CHECK(parse_config("", "f.yaml").sources.size() == default_config().sources.size());
}

TEST_CASE("a key given twice is refused with both lines, at any depth: the later one never wins silently") {
  CHECK_THAT(config_error("backup_dir: /backup/kdr\nretention:\n  hourly: 3\nbackup_dir: /tmp/typo\n"),
             Catch::Contains("/etc/kdr/kdr.yaml:4:1") && Catch::Contains("'backup_dir'") &&
                 Catch::Contains("given twice (first on line 1)"));
  CHECK_THAT(config_error("retention:\n  hourly: 3\n  daily: 2\n  hourly: 0\n"),
             Catch::Contains(":4:3") && Catch::Contains("retention.hourly") && Catch::Contains("first on line 2"));
}

TEST_CASE("config errors name the file, the line and the key") {
  CHECK_THAT(config_error("retention:\n  hourly: many\n"),
             Catch::Contains("/etc/kdr/kdr.yaml:2:11") && Catch::Contains("retention.hourly") &&
                 Catch::Contains("'many'"));
  CHECK_THAT(config_error("retention:\n  keep_lsat: 3\n"),
             Catch::Contains(":2:3") && Catch::Contains("retention.keep_lsat") && Catch::Contains("unknown key"));
  CHECK_THAT(config_error("sources:\n  - path: relative/dir\n"),
             Catch::Contains(":2:11") && Catch::Contains("sources[0].path") && Catch::Contains("not absolute"));
  CHECK_THAT(config_error("sources:\n  - required: true\n"), Catch::Contains("sources[0]") && Catch::Contains("'path'"));
  CHECK_THAT(config_error("guard:\n  min_ratio: 1.5\n"), Catch::Contains("guard.min_ratio"));
  CHECK_THAT(config_error("retention:\n  daily: -1\n"), Catch::Contains("retention.daily") && Catch::Contains("negative"));
  CHECK_THAT(config_error("backup_dir: [\n"), Catch::Contains("/etc/kdr/kdr.yaml:") && Catch::Contains("not valid YAML"));
  CHECK_THAT(config_error("- just\n- a list\n"), Catch::Contains("expected a mapping"));
  CHECK_THAT(config_error("sources:\n  - path: /a/../b\n"), Catch::Contains("'..'"));
}
