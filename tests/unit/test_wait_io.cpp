// The helpers every long wait and every read/write loop go through.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/wait.hpp"
#include "temp_dir.hpp"

using namespace kdr;

TEST_CASE("wait_until: done as soon as nothing is pending, with what was waited for") {
  int polls = 0;
  const auto w = core::wait_until({.timeout_s = 5, .every = std::chrono::milliseconds(1)},
                                  [&]() -> std::optional<std::string> {
                                    if (++polls < 3) return std::string("pod etcd still running");
                                    return std::nullopt;
                                  });
  CHECK(w.done);
  CHECK(polls == 3);
  CHECK(w.still.empty());
}

TEST_CASE("wait_until: gives up at the deadline with the last thing still pending, and notes progress") {
  int notes = 0;
  int polls = 0;
  const auto w = core::wait_until(
      {.timeout_s = 0.2, .every = std::chrono::milliseconds(10), .note_every_s = 0.05},
      [&]() -> std::optional<std::string> { return "revision " + std::to_string(++polls); },
      [&](double seconds, const std::string& still) {
        ++notes;
        CHECK(seconds >= 0.05);
        CHECK(still.rfind("revision ", 0) == 0);
      });
  CHECK_FALSE(w.done);
  CHECK(w.seconds > 0.2);
  CHECK(w.still == "revision " + std::to_string(polls));
  CHECK(notes >= 2);
}

TEST_CASE("write_all to a full disk is a SystemError that is_disk_full recognises, naming the file") {
  core::Fd fd(::open("/dev/full", O_WRONLY | O_CLOEXEC));
  REQUIRE(fd);
  const std::string data(4096, 'x');
  try {
    core::write_all(fd.get(), data.data(), data.size(), "/dev/full");
    FAIL("no error");
  } catch (const core::Error& e) {
    CHECK(core::is_disk_full(e));
    CHECK(std::string(e.what()) == "write /dev/full: No space left on device");
  }
  CHECK_FALSE(core::is_disk_full(core::Error("No space left on device (only the words)")));
}

TEST_CASE("read_some and pread_some read what is there, then 0 at the end, and errors name the file") {
  test::TempDir dir;
  const auto file = dir.path() / "f";
  core::write_file_atomic(file, "hello world");
  core::Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  char buf[64];
  CHECK(core::read_some(fd.get(), buf, sizeof buf, file.string()) == 11);
  CHECK(core::read_some(fd.get(), buf, sizeof buf, file.string()) == 0);
  CHECK(core::pread_some(fd.get(), buf, 5, 6, file.string()) == 5);
  CHECK(std::string(buf, 5) == "world");
  core::Fd wronly(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
  CHECK_THROWS_WITH(core::read_some(wronly.get(), buf, sizeof buf, file.string(), "read back"),
                    "read back " + file.string() + ": Bad file descriptor");
}
