// The helpers every long wait and every read/write loop go through.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/wait.hpp"
#include "core/write_behind.hpp"
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

TEST_CASE("write-behind: every buffer reaches the sink once, in order, whatever their sizes") {
  std::string produced, sunk;
  std::size_t calls = 0;
  {
    core::WriteBehind behind([&](const char* data, std::size_t size) {
      sunk.append(data, size);
      ++calls;
    }, 3, 64);
    for (std::size_t i = 0; i < 500; ++i) {
      auto& buf = behind.buffer();
      REQUIRE(buf.size() == 64);
      const std::size_t n = 1 + (i * 37) % 64;
      for (std::size_t b = 0; b < n; ++b) buf[b] = static_cast<char>('a' + (i + b) % 26);
      produced.append(buf.data(), n);
      behind.submit(n);
    }
    behind.finish();
  }
  CHECK(calls == 500);
  CHECK(sunk == produced);
}

TEST_CASE("write-behind: a sink that fails stops the pipeline, and the producer gets its error") {
  std::size_t calls = 0;
  core::WriteBehind behind([&](const char*, std::size_t) {
    if (++calls == 3) throw core::Error("write /backup/copy.db: No space left on device");
  }, 2, 16);
  bool thrown = false;
  try {
    for (std::size_t i = 0; i < 1000; ++i) {
      behind.buffer();
      behind.submit(16);
    }
    behind.finish();
  } catch (const core::Error& e) {
    thrown = true;
    CHECK(std::string(e.what()) == "write /backup/copy.db: No space left on device");
  }
  CHECK(thrown);
  CHECK(calls == 3);  // nothing after the failure reached the sink
}

TEST_CASE("write-behind: left without finish (the producer failed), it stops and drops what was pending") {
  std::size_t calls = 0;
  {
    core::WriteBehind behind([&](const char*, std::size_t) { ++calls; }, 4, 16);
    behind.buffer();
    behind.submit(16);
  }
  CHECK(calls <= 1);
}
