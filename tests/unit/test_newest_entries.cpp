// Each key's newest entry in a walk (etcd/newest_entries.hpp): the same whether the table holds
// every key, is set aside in a file again and again, or is merged from two runs of the walk.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <csignal>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "etcd/newest_entries.hpp"
#include "temp_dir.hpp"

using namespace kdr;

namespace {

struct Step {
  std::string key;
  bool deleted;
  int payload;
};

// 20,000 puts and deletions over 3,000 keys, some keys never deleted, some deleted last.
std::vector<Step> history() {
  std::mt19937 rng(7);
  std::vector<Step> out;
  for (int i = 0; i < 20000; ++i)
    out.push_back({fmt::format("/registry/pods/ns-{}/pod-{}", rng() % 9, rng() % 3000), rng() % 10 == 0, i});
  return out;
}

using Live = std::map<std::uint64_t, int>;  // order -> payload of each key's newest live entry

Live expected(const std::vector<Step>& steps, std::uint64_t second_run_from) {
  std::map<std::string, std::pair<std::uint64_t, const Step*>> newest;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const auto order = i < second_run_from ? i + 1 : (std::uint64_t{1} << 56 | (i + 1));
    newest[steps[i].key] = {order, &steps[i]};
  }
  Live out;
  for (const auto& [key, e] : newest)
    if (!e.second->deleted) out[e.first] = e.second->payload;
  return out;
}

// The walk of `steps`, in one run or split in two at `split` and merged.
Live walk(const std::vector<Step>& steps, const std::vector<core::bfs::path>& places, std::size_t table_bytes,
          std::size_t split, std::uint64_t* set_aside) {
  etcd::NewestEntries<int> first(places, table_bytes), second(places, table_bytes);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (i < split) first.add(steps[i].key, i + 1, steps[i].deleted, steps[i].payload);
    else second.add(steps[i].key, std::uint64_t{1} << 56 | (i + 1), steps[i].deleted, steps[i].payload);
  }
  const auto own = first.set_aside_count() + second.set_aside_count();
  first.merge(std::move(second));
  *set_aside = std::max(own, first.set_aside_count());
  Live out;
  first.for_each_live([&out](std::uint64_t order, int payload) {
    CHECK(out.count(order) == 0);
    out[order] = payload;
  });
  return out;
}

}  // namespace

TEST_CASE("newest entries: each key's newest is the same held in memory, set aside in a file, or merged from two runs") {
  const auto steps = history();
  test::TempDir dir;
  const std::vector<core::bfs::path> places = {dir.path()};
  constexpr std::size_t small_table = 48 * 1024;  // about 700 keys, of 3,000
  std::uint64_t set_aside = 0;

  const auto one_run = expected(steps, steps.size());
  REQUIRE(one_run.size() > 2000);
  CHECK(walk(steps, places, etcd::default_key_table_bytes, steps.size(), &set_aside) == one_run);
  CHECK(set_aside == 0);
  CHECK(walk(steps, places, small_table, steps.size(), &set_aside) == one_run);
  CHECK(set_aside > steps.size() / 4);

  // two runs: the second's entries are newer than the first's, whatever their number
  const auto two_runs = expected(steps, 12000);
  CHECK(walk(steps, places, etcd::default_key_table_bytes, 12000, &set_aside) == two_runs);
  CHECK(set_aside == 0);
  CHECK(walk(steps, places, small_table, 12000, &set_aside) == two_runs);
  CHECK(set_aside > 0);

  // the file is never named in its folder
  CHECK(core::bfs::is_empty(dir.path()));

  // a folder that does not take a file is passed over for the next
  CHECK(walk(steps, {dir.path() / "missing", dir.path()}, small_table, 12000, &set_aside) == two_runs);
  CHECK(set_aside > 0);
  // with no place at all, the keys stay in memory
  CHECK(walk(steps, {dir.path() / "missing"}, small_table, 12000, &set_aside) == two_runs);
  CHECK(set_aside == 0);
}

TEST_CASE("newest entries: a disk that fills up while entries are set aside keeps the rest in memory, and loses none") {
  const auto steps = history();
  test::TempDir dir;
  std::uint64_t set_aside = 0;
  const auto want = expected(steps, 12000);
  // the process may write no file past 64 KiB: the file takes two of its parts' chunks, then
  // its writes fail (EFBIG, as ENOSPC on a full disk)
  rlimit was{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &was) == 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = was;
  small.rlim_cur = 64 * 1024;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  Live got;
  try {
    got = walk(steps, {dir.path()}, 48 * 1024, 12000, &set_aside);
  } catch (...) {
    setrlimit(RLIMIT_FSIZE, &was);
    std::signal(SIGXFSZ, old_handler);
    throw;
  }
  setrlimit(RLIMIT_FSIZE, &was);
  std::signal(SIGXFSZ, old_handler);
  CHECK(got == want);
  CHECK(set_aside > 0);
}

TEST_CASE("entry marks: a bit for each entry of a walk, by its number") {
  etcd::EntryMarks marks(130);
  for (const std::uint64_t n : {1U, 63U, 64U, 65U, 130U}) marks.mark(n);
  CHECK(marks.count() == 5);
  for (std::uint64_t n = 0; n <= 200; ++n) CHECK(marks.marked(n) == (n == 1 || n == 63 || n == 64 || n == 65 || n == 130));
}

TEST_CASE("entry marks: whether a run of entries holds a marked one, as a filtered walk asks of each leaf") {
  etcd::EntryMarks marks(300);
  for (const std::uint64_t n : {5U, 130U}) marks.mark(n);
  // every run of every length up to 200 from every start up to 260, against one entry at a time
  for (std::uint64_t from = 0; from <= 260; ++from)
    for (std::uint64_t to = from; to <= from + 200; ++to) {
      bool want = false;
      for (std::uint64_t n = from; n < to; ++n) want = want || marks.marked(n);
      INFO(from << ".." << to);
      REQUIRE(marks.any(from, to) == want);
    }
  CHECK(marks.any(1, 6));
  CHECK_FALSE(marks.any(6, 130));
  CHECK(marks.any(64, 192));
  CHECK_FALSE(marks.any(131, 100000));  // past the last bit
}
