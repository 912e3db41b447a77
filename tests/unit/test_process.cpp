// The children kdr starts: what etcd's tools and a private etcd create is private whatever the
// umask kdr was started under.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include "core/process.hpp"
#include "temp_dir.hpp"

using namespace kdr;

namespace {

unsigned mode_of(const core::bfs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777U;
}

// Runs the test with umask 000 (as a careless caller's), the old umask back afterwards.
struct OpenUmask {
  OpenUmask() : old(::umask(0)) {}
  ~OpenUmask() { ::umask(old); }
  mode_t old;
};

}  // namespace

TEST_CASE("etcd's tools run under umask 077: a file they create 0666 is 0600, under any umask of kdr's", "[process]") {
  test::TempDir dir;
  const OpenUmask open_umask;
  const auto made = dir.path() / "made-by-the-tool";
  const auto r = core::run_process({"touch", made.string()}, core::etcd_tool_options(std::chrono::seconds(10)));
  REQUIRE(r.ok());
  CHECK(mode_of(made) == 0600);
  // other programs keep the caller's umask (kubeadm writes certificates others may read)
  const auto other = dir.path() / "made-by-another-program";
  REQUIRE(core::run_process({"touch", other.string()}).ok());
  CHECK(mode_of(other) == 0666);
}

TEST_CASE("a program kdr runs beside it logs into a 0600 file and creates private files, under any umask", "[process]") {
  test::TempDir dir;
  const OpenUmask open_umask;
  const auto log = dir.path() / "program.log";
  const auto made = dir.path() / "made-by-the-program";
  core::BackgroundProcess p({"/bin/sh", "-c", "touch " + made.string() + "; echo started"}, log, dir.path());
  for (int i = 0; i < 200 && p.running(); ++i) ::usleep(10000);
  REQUIRE(p.exit_code() == 0);
  CHECK(mode_of(log) == 0600);
  CHECK(mode_of(made) == 0600);
}
