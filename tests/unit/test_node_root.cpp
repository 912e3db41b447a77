#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "core/node_root.hpp"

using namespace kdr::core;

TEST_CASE("node paths map under --root, and are themselves on the real root") {
  NodeRoot sandbox("/tmp/sandbox");
  CHECK(sandbox.host("/var/lib/etcd").string() == "/tmp/sandbox/var/lib/etcd");
  CHECK(sandbox.host("/").string() == "/tmp/sandbox");
  NodeRoot real;
  CHECK(real.is_real_root());
  CHECK(real.host("/etc/kubernetes").string() == "/etc/kubernetes");
}

TEST_CASE("node paths are absolute and never climb out") {
  CHECK(normalize_node_path("/etc/kubernetes/", "t") == "/etc/kubernetes");
  CHECK(normalize_node_path("/", "t") == "/");
  CHECK_THROWS_AS(normalize_node_path("etc/kubernetes", "t"), UsageError);
  CHECK_THROWS_AS(normalize_node_path("/etc/../root", "t"), UsageError);
  CHECK_THROWS_AS(normalize_node_path("/etc/./kubernetes", "t"), UsageError);
  CHECK_THROWS_AS(normalize_node_path("/etc//kubernetes", "t"), UsageError);
  CHECK_THROWS_AS(normalize_node_path("", "t"), UsageError);
}

TEST_CASE("path_is_within compares whole path parts") {
  CHECK(path_is_within("/backup/kdr", "/backup"));
  CHECK(path_is_within("/backup", "/backup"));
  CHECK(path_is_within("/backup/kdr", "/backup/"));
  CHECK_FALSE(path_is_within("/backup2/kdr", "/backup"));
  CHECK_FALSE(path_is_within("/back", "/backup"));
  CHECK(path_is_within("/var/lib/etcd/backup", "/var/lib/etcd"));
}

TEST_CASE("node_path_within compares whole path parts") {
  CHECK(node_path_within("/etc/kubernetes/pki", "/etc/kubernetes"));
  CHECK(node_path_within("/etc/kubernetes", "/etc/kubernetes/"));
  CHECK(node_path_within("/anything", "/"));
  CHECK_FALSE(node_path_within("/etc/kubernetes-old", "/etc/kubernetes"));
  CHECK_FALSE(node_path_within("/etc", "/etc/kubernetes"));
}
