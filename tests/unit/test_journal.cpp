#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "etcd/watch.hpp"
#include "journal/inspect.hpp"
#include "journal/record.hpp"
#include "journal/retention.hpp"
#include "journal/segment.hpp"
#include "journal/store.hpp"
#include "etcd/replay.hpp"
#include "temp_dir.hpp"

using namespace kdr;
using journal::Event;
using journal::EventKind;
using etcd::KeyspaceDigest;

namespace {

Event put(std::int64_t rev, std::string key, std::string value, std::int64_t version,
          std::optional<std::string> previous = std::nullopt, bool last = true) {
  Event e;
  e.revision = e.mod_revision = rev;
  e.time_ms = 1000 * rev;
  e.kind = EventKind::put;
  e.version = version;
  e.create_revision = version == 1 ? rev : 1;
  e.key = std::move(key);
  e.value = std::move(value);
  if (previous) e.previous = etcd::pair_hash(e.key, *previous);
  e.last_in_revision = last;
  return e;
}

Event del(std::int64_t rev, std::string key, const std::string& previous) {
  Event e;
  e.revision = e.mod_revision = rev;
  e.kind = EventKind::del;
  e.key = std::move(key);
  e.previous = etcd::pair_hash(e.key, previous);
  e.last_in_revision = true;
  return e;
}

KeyspaceDigest digest_of(const std::vector<std::pair<std::string, std::string>>& pairs) {
  KeyspaceDigest d;
  for (const auto& [k, v] : pairs) d.add(etcd::pair_hash(k, v));
  return d;
}

void append_file(const boost::filesystem::path& file, const std::string& bytes) {
  core::Fd fd(::open(file.c_str(), O_WRONLY | O_APPEND));
  REQUIRE(fd);
  REQUIRE(::write(fd.get(), bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
}

}  // namespace

TEST_CASE("the keyspace digest does not depend on order and follows puts and deletes") {
  const auto ab = digest_of({{"a", "1"}, {"b", "2"}});
  CHECK(ab == digest_of({{"b", "2"}, {"a", "1"}}));
  CHECK_FALSE(ab == digest_of({{"a", "2"}, {"b", "1"}}));  // values swapped between keys
  CHECK_FALSE(digest_of({{"ab", ""}}) == digest_of({{"a", "b"}}));  // the key's length is hashed

  auto d = digest_of({{"a", "1"}});
  REQUIRE(journal::apply_to_digest(put(2, "b", "2", 1), d));
  REQUIRE(journal::apply_to_digest(put(3, "a", "3", 2, "1"), d));
  REQUIRE(journal::apply_to_digest(del(4, "b", "2"), d));
  CHECK(d == digest_of({{"a", "3"}}));
  CHECK(d.keys == 1);
  CHECK(KeyspaceDigest::from_hex(d.hex(), d.keys) == d);
  // A change to an existing key without what it held cannot be followed.
  CHECK_FALSE(journal::apply_to_digest(put(5, "a", "4", 3), d));
  CHECK_THROWS_AS(KeyspaceDigest::from_hex("xyz", 0), core::Error);
}

TEST_CASE("journal records round-trip, and damage is told from a short read") {
  const Event e = put(7, std::string("k\0ey", 4), std::string("\xff\x00v", 3), 2, "old", true);
  const auto bytes = journal::encode(e);
  auto d = journal::decode(bytes);
  REQUIRE(d.status == journal::DecodeStatus::ok);
  CHECK(d.size == bytes.size());
  CHECK(std::get<Event>(d.record) == e);

  CHECK(journal::decode(std::string_view(bytes).substr(0, bytes.size() - 1)).status == journal::DecodeStatus::truncated);
  auto flipped = bytes;
  flipped[bytes.size() - 3] ^= 0x01;
  CHECK(journal::decode(flipped).status == journal::DecodeStatus::bad_checksum);
  CHECK(journal::decode(std::string(16, '\0')).status == journal::DecodeStatus::bad_payload);  // length 0
}

TEST_CASE("segment names sort by revision and say which one is open") {
  CHECK(journal::segment_file_name(12, std::nullopt) == "00000000000000000012-open.seg");
  CHECK(journal::segment_file_name(12, 40) == "00000000000000000012-00000000000000000040.seg");
  const auto n = journal::parse_segment_name("00000000000000000012-00000000000000000040.seg");
  REQUIRE(n);
  CHECK(n->first == 12);
  CHECK(*n->last == 40);
  CHECK(journal::parse_segment_name("00000000000000000012-open.seg")->open());
  CHECK_FALSE(journal::parse_segment_name("12-40.seg"));
  CHECK_FALSE(journal::parse_segment_name("00000000000000000012-open.seg.damaged"));
}

TEST_CASE("a segment is read back whole, and a torn end is dropped to the last whole revision") {
  test::TempDir tmp;
  journal::SegmentStart start;
  start.epoch = 1;
  start.first_revision = 11;
  start.cluster_id = "abc";
  start.before = digest_of({{"a", "1"}});
  const auto key = core::NodeKey::generate();
  auto writer = journal::SegmentWriter::create(tmp.path(), start, key);
  std::string batch;
  journal::encode_into(put(11, "b", "2", 1), batch);
  journal::encode_into(put(12, "a", "2", 2, "1", false), batch);  // one revision, two keys
  journal::encode_into(put(12, "c", "3", 1), batch);
  writer.append(batch);
  auto at12 = digest_of({{"a", "2"}, {"b", "2"}, {"c", "3"}});
  writer.append(journal::encode(journal::Checkpoint{12, 0, at12}));
  writer.sync();

  auto scan = journal::scan_segment(writer.file(), &key);
  CHECK(scan.problems.empty());
  CHECK(scan.tail == journal::TailState::clean);
  CHECK(scan.auth == core::AuthStatus::authentic);
  CHECK(scan.first_revision == 11);
  CHECK(scan.last_revision == 12);
  CHECK(scan.events == 3);
  REQUIRE(scan.digest);
  CHECK(*scan.digest == at12);
  const auto clean_end = scan.good_end;

  // Half a revision, then half a record: both dropped on reopen, nothing before them.
  append_file(writer.file(), journal::encode(put(13, "d", "4", 1, std::nullopt, false)));
  append_file(writer.file(), journal::encode(put(13, "e", "5", 1)).substr(0, 9));
  scan = journal::scan_segment(writer.file(), &key);
  CHECK(scan.tail == journal::TailState::torn);
  CHECK(scan.last_revision == 12);
  CHECK(scan.good_end == clean_end);
  auto reopened = journal::SegmentWriter::reopen(scan, key);
  CHECK(reopened.size() == clean_end);
  reopened.append(journal::encode(put(13, "d", "4", 1)));
  const auto closed = reopened.close(journal::Checkpoint{13, 0, [&] {
                                          auto d = at12;
                                          d.add(etcd::pair_hash("d", "4"));
                                          return d;
                                        }()});
  CHECK(closed.filename() == "00000000000000000011-00000000000000000013.seg");
  scan = journal::scan_segment(closed, &key);
  CHECK(scan.problems.empty());
  CHECK(scan.tail == journal::TailState::clean);
  CHECK(scan.auth == core::AuthStatus::authentic);
  CHECK(scan.last_revision == 13);
}

TEST_CASE("a segment's checks: a missing revision, a wrong checkpoint digest, damage in the middle") {
  test::TempDir tmp;
  journal::SegmentStart start;
  start.epoch = 1;
  start.first_revision = 11;
  auto writer = journal::SegmentWriter::create(tmp.path(), start, core::NodeKey::generate());
  writer.append(journal::encode(put(11, "a", "1", 1)));
  writer.append(journal::encode(put(13, "b", "1", 1)));  // 12 never came
  writer.append(journal::encode(journal::Checkpoint{13, 0, digest_of({{"a", "1"}})}));
  writer.sync();
  auto scan = journal::scan_segment(writer.file());
  REQUIRE(scan.problems.size() == 2);
  CHECK_THAT(scan.problems[0], Catch::Contains("revision 13 follows revision 11"));
  CHECK_THAT(scan.problems[1], Catch::Contains("the checkpoint says"));

  // A flipped byte inside an early record, with whole records after it: damage, not a torn end.
  const auto file = writer.file();
  core::Fd fd(::open(file.c_str(), O_RDWR));
  char byte = 0;
  const off_t at = static_cast<off_t>(journal::segment_magic.size() + 40);
  REQUIRE(::pread(fd.get(), &byte, 1, at) == 1);
  byte ^= 0x10;
  REQUIRE(::pwrite(fd.get(), &byte, 1, at) == 1);
  scan = journal::scan_segment(file);
  CHECK(scan.tail == journal::TailState::damaged);
}

namespace {

// The segment's bytes with every event's value `from` replaced by `to` (same length) and its
// CRC recomputed: what whoever can write the backup disk can do without the key.
std::string forge_value(const std::string& bytes, const std::string& from, const std::string& to) {
  std::string out(bytes.substr(0, journal::segment_magic.size()));
  for (std::size_t pos = out.size(); pos < bytes.size();) {
    auto d = journal::decode(std::string_view(bytes).substr(pos));
    REQUIRE(d.status == journal::DecodeStatus::ok);
    if (auto* e = std::get_if<journal::Event>(&d.record); e && e->value == from) e->value = to;
    journal::encode_into(d.record, out);
    pos += d.size;
  }
  return out;
}

std::vector<std::string> values_read(const core::bfs::path& file, const core::NodeKey* key) {
  journal::SegmentReader reader(file, key);
  std::vector<std::string> out;
  while (auto r = reader.next())
    if (auto* e = std::get_if<journal::Event>(&*r)) out.push_back(e->value);
  return out;
}

}  // namespace

TEST_CASE("a segment is sealed with the node's key: a forged event, an appended one, another key's, an old one") {
  test::TempDir tmp;
  const auto key = core::NodeKey::generate();
  journal::SegmentStart start;
  start.epoch = 1;
  start.first_revision = 11;
  auto writer = journal::SegmentWriter::create(tmp.path(), start, key);
  writer.append(journal::encode(put(11, "a", "good", 1)));
  writer.sync();
  writer.append(journal::encode(put(12, "b", "also", 1)));
  writer.sync();
  const auto file = writer.file();
  const auto bytes = core::read_file(file);
  CHECK(bytes.rfind("KDRJSEG2", 0) == 0);
  CHECK(values_read(file, &key) == std::vector<std::string>{"good", "also"});

  SECTION("an event rewritten with its CRC recomputed is refused with the key, and read as not known without it") {
    core::write_file_atomic(file, forge_value(bytes, "also", "evil"));
    const auto scan = journal::scan_segment(file, &key);
    CHECK(scan.auth == core::AuthStatus::forged);
    CHECK(scan.tail == journal::TailState::damaged);
    CHECK_THAT(scan.auth_text, Catch::Contains("does not match"));
    CHECK(values_read(file, &key) == std::vector<std::string>{"good"});  // nothing past the forged seal
    const auto blind = journal::scan_segment(file, nullptr);
    CHECK(blind.auth == core::AuthStatus::no_key);
    CHECK(blind.problems.empty());
  }
  SECTION("records appended after the last seal are not returned with the key: a torn end") {
    append_file(file, journal::encode(put(13, "c", "added", 1)));
    CHECK(values_read(file, &key) == std::vector<std::string>{"good", "also"});
    const auto scan = journal::scan_segment(file, &key);
    CHECK(scan.tail == journal::TailState::torn);
    CHECK_THAT(scan.tail_problem, Catch::Contains("after the last seal"));
    CHECK(scan.last_revision == 12);
    CHECK(scan.good_end == bytes.size());
    CHECK(values_read(file, nullptr) == std::vector<std::string>{"good", "also", "added"});
  }
  SECTION("another key's seals cannot be checked here: read, and said") {
    const auto other = core::NodeKey::generate();
    const auto scan = journal::scan_segment(file, &other);
    CHECK(scan.auth == core::AuthStatus::other_key);
    CHECK_THAT(scan.auth_text, Catch::Contains(key.id()));
    CHECK(values_read(file, &other).size() == 2);
    CHECK_THROWS_WITH(journal::SegmentWriter::reopen(scan, other), Catch::Contains("not continued"));
  }
  SECTION("a segment from before seals is read as unsigned, and closed as it is") {
    std::string old(journal::segment_magic_unsealed);
    journal::encode_into(start, old);
    journal::encode_into(put(11, "a", "old", 1), old);
    core::write_file_atomic(file, old);
    const auto scan = journal::scan_segment(file, &key);
    CHECK(scan.auth == core::AuthStatus::unsigned_);
    CHECK(scan.last_revision == 11);
    const auto closed = journal::close_as_is(scan);
    CHECK(closed.filename() == "00000000000000000011-00000000000000000011.seg");
  }
  SECTION("a reopened segment goes on sealing from the bytes that are there") {
    auto reopened = journal::SegmentWriter::reopen(journal::scan_segment(file, &key), key);
    reopened.append(journal::encode(put(13, "c", "more", 1)));
    reopened.sync();
    CHECK(values_read(file, &key) == std::vector<std::string>{"good", "also", "more"});
    CHECK(journal::scan_segment(file, &key).auth == core::AuthStatus::authentic);
  }
}

TEST_CASE("the gateway's watch lines: events with previous values, a compaction, an error") {
  const auto r = etcd::parse_watch_line(
      R"({"result":{"header":{"cluster_id":"324952591200643719","revision":"5"},"events":[)"
      R"({"kv":{"key":"YQ==","create_revision":"2","mod_revision":"3","version":"2","value":"Mg=="},)"
      R"("prev_kv":{"key":"YQ==","create_revision":"2","mod_revision":"2","version":"1","value":"MQ=="}},)"
      R"({"type":"DELETE","kv":{"key":"Yg==","mod_revision":"4"},"prev_kv":{"key":"Yg==","value":"Mw=="}}]}})");
  CHECK(r.revision == 5);
  CHECK(r.cluster_id == "48276a8f75b6a87");
  REQUIRE(r.events.size() == 2);
  CHECK(r.events[0].kv.value == "2");
  REQUIRE(r.events[0].prev);
  CHECK(r.events[0].prev->value == "1");
  CHECK(r.events[1].is_delete);
  CHECK(r.events[1].kv.mod_revision == 4);

  const auto c = etcd::parse_watch_line(R"({"result":{"header":{},"canceled":true,"compact_revision":"4"}})");
  CHECK(c.canceled);
  CHECK(c.compact_revision == 4);
  CHECK_THROWS_WITH(etcd::parse_watch_line(R"({"error":{"message":"permission denied"}})"),
                    Catch::Contains("permission denied"));
}

TEST_CASE("epochs are numbered in order and the breaks between them are the journal's gaps") {
  test::TempDir tmp;
  const journal::JournalStore store(tmp.path());
  journal::EpochInfo a;
  a.cluster_id = "c1";
  a.base_revision = 10;
  a.reason = "the journal starts";
  CHECK(store.begin_epoch(a).number == 1);
  journal::EpochInfo b = a;
  b.base_revision = 50;
  b.previous_last = 30;
  b.reason = "etcd compacted its history";
  const auto second = store.begin_epoch(b);
  CHECK(second.number == 2);
  CHECK(second.dir.filename() == "epoch-000002");
  const auto epochs = store.epochs();
  REQUIRE(epochs.size() == 2);
  CHECK(epochs[1].base_revision == 50);
  const auto gaps = store.gaps();
  REQUIRE(gaps.size() == 1);
  CHECK(*gaps[0].after == 30);
  CHECK(gaps[0].until == 50);
}

TEST_CASE("a point to restore to: latest, a revision, or an RFC 3339 time") {
  CHECK(etcd::parse_replay_target("latest").kind == etcd::ReplayTarget::Kind::latest);
  const auto rev = etcd::parse_replay_target("4711");
  CHECK(rev.kind == etcd::ReplayTarget::Kind::revision);
  CHECK(rev.revision == 4711);
  const auto t = etcd::parse_replay_target("2026-11-28T08:17:08Z");
  CHECK(t.kind == etcd::ReplayTarget::Kind::time);
  CHECK(t.time_ms == 1795853828000);
  CHECK(*core::parse_rfc3339_ms("2026-11-28T08:17:08.25Z") == 1795853828250);
  CHECK(*core::parse_rfc3339_ms("2026-11-28T09:17:08+01:00") == 1795853828000);
  CHECK_FALSE(core::parse_rfc3339_ms("2026-11-28 08:17:08"));
  CHECK_FALSE(core::parse_rfc3339_ms("2026-13-28T08:17:08Z"));
  CHECK_FALSE(core::parse_rfc3339_ms("2026-11-28T08:17:08"));  // no zone: ambiguous
  CHECK_THROWS_WITH(etcd::parse_replay_target("yesterday"), Catch::Contains("to=yesterday"));
  CHECK_THROWS_AS(etcd::parse_replay_target("-5"), core::UsageError);
}

namespace {

// An epoch of `cluster` from revision `base` with closed segments of `per_segment` puts each,
// and an open one with `open_puts` more: key k<revision> = v.
const core::NodeKey& test_key() {
  static const auto key = core::NodeKey::generate();
  return key;
}

journal::EpochInfo make_epoch(const journal::JournalStore& store, const std::string& cluster, std::int64_t base,
                              int closed, int per_segment, int open_puts) {
  journal::EpochInfo info;
  info.cluster_id = cluster;
  info.base_revision = base;
  auto epoch = store.begin_epoch(info);
  KeyspaceDigest d;
  std::int64_t rev = base;
  for (int s = 0; s <= closed; ++s) {
    if (s == closed && open_puts == 0) break;
    journal::SegmentStart start;
    start.epoch = epoch.number;
    start.first_revision = rev + 1;
    start.cluster_id = cluster;
    start.before = d;
    auto w = journal::SegmentWriter::create(epoch.dir, start, test_key());
    const int n = s == closed ? open_puts : per_segment;
    for (int i = 0; i < n; ++i) {
      ++rev;
      const auto e = put(rev, fmt::format("k{}", rev), "v", 1);
      REQUIRE(journal::apply_to_digest(e, d));
      w.append(journal::encode(e));
    }
    if (s < closed) w.close(journal::Checkpoint{rev, 0, d});
    else w.sync();
  }
  return epoch;
}

}  // namespace

TEST_CASE("journal retention keeps history from the oldest kept full snapshot on, and nothing older") {
  test::TempDir tmp;
  const journal::JournalStore store(tmp.path());
  make_epoch(store, "c1", 10, 2, 10, 0);          // epoch 1: 11-20, 21-30, closed
  const auto e2 = make_epoch(store, "c2", 5, 2, 5, 3);  // epoch 2: 6-10, 11-15, open 16-18

  // No full snapshot of c1 kept: epoch 1 goes whole; epoch 2 keeps everything after its base 5.
  auto plan = journal::plan_journal_prune(store, {{"c2", 5}});
  REQUIRE(plan.remove.size() == 1);
  CHECK(plan.remove[0].path.filename() == "epoch-000001");
  // A base at 12: the segment 6-10 ends before it; 11-15 (which holds 12) and the open one stay.
  plan = journal::plan_journal_prune(store, {{"c1", 25}, {"c2", 12}, {"c2", 40}});
  REQUIRE(plan.remove.size() == 2);
  CHECK(plan.remove[0].path.filename() == "00000000000000000011-00000000000000000020.seg");  // before 25
  CHECK(plan.remove[1].path.filename() == "00000000000000000006-00000000000000000010.seg");
  journal::apply_journal_prune(store, plan);
  CHECK(store.chain_start(e2).revision == 10);
  CHECK(store.chain_start(store.epochs()[0]).revision == 20);
  // What is left still checks out whole: continuity and digests from the new start.
  const auto check = journal::verify_journal(store, &test_key());
  CHECK(check.problems.empty());
  CHECK(check.events == 10 + 5 + 3);
  CHECK(check.sealed == check.segments);
  CHECK(check.unauthenticated.empty());
  // The newest epoch is never removed, even with nothing kept.
  plan = journal::plan_journal_prune(store, {});
  REQUIRE(plan.remove.size() == 1);
  CHECK(plan.remove[0].path.filename() == "epoch-000001");
}
