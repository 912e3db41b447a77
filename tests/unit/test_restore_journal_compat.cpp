// Restores journaled by an earlier kdr resume and roll back with this one. The fixtures
// (tests/fixtures/restore-journals/<case>/plan.json and journal.jsonl, the sandbox's folder
// written as @DIR@, this source tree as @SRC@) were written by kdr 0.x at commit 423def5, each restore stopped midway
// (after as many journal records as journal.jsonl holds), on the fake node of
// restore_fixture.hpp. The test stops the same restore at the same record with this kdr,
// checks that it wrote the same plan.json and journal.jsonl (the format has not changed:
// times aside), puts the old files in their place, and resumes (the node ends as an
// uninterrupted restore leaves it) or rolls back (the node is as it was before).
// KDR_UPDATE_FIXTURES=1 writes the fixtures from this kdr instead (only after a deliberate
// format change, with a reader for the old one).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <sstream>

#include "restore/journal.hpp"
#include "crash_after.hpp"
#include "restore_fixture.hpp"
#include "written_journal.hpp"

using namespace kdr;
using nlohmann::json;
using test::Crash;
using test::CrashAfter;
using test::RestoreFixture;

namespace {

struct CompatCase {
  std::string name;  // the fixture's folder
  std::string playbook;
  std::vector<std::string> set;
  void (*damage)(RestoreFixture&, const std::string& generation);
  std::size_t records_left = 0;  // stopped this many records before the end (0: halfway)
};

const std::vector<CompatCase>& compat_cases() {
  static const std::vector<CompatCase> all = {
      {"restore-etcd-snapshot", "restore-etcd-snapshot", {},
       [](RestoreFixture& f, const std::string&) { test::write(f.node("/var/lib/etcd/member/snap/db"), "torn"); }},
      // a point of the change journal, replayed off the node (the plan's etcd part holds the replay)
      {"restore-etcd-snapshot-to-revision", "restore-etcd-snapshot", {"to=10", "accept_loss=true"},
       [](RestoreFixture& f, const std::string& generation) {
         test::WrittenJournal journal(f, generation);
         journal.write("/registry/configmaps/default/app", "app v2");  // 10
         journal.write("/registry/namespaces/default", std::nullopt);  // 11: the damage
         journal.close();
       }},
      {"restore-etcd-keys", "restore-etcd-keys", {"namespace=payments"},
       [](RestoreFixture& f, const std::string&) {
         for (const auto* k : {"/registry/namespaces/payments", "/registry/configmaps/payments/rates",
                               "/registry/secrets/payments/api-key"})
           f.live->write(k, std::nullopt);
       },
       3},  // after the first keys were written
      {"rebuild-node", "rebuild-node", {},
       [](RestoreFixture& f, const std::string&) {
         core::remove_tree(f.node("/etc/kubernetes"));
         core::remove_tree(f.node("/var/lib/etcd"));
       }},
  };
  return all;
}

core::bfs::path fixture_dir(const CompatCase& c) {
  return core::bfs::path(KDR_SOURCE_DIR) / "tests/fixtures/restore-journals" / c.name;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to);

// The fixtures name the sandbox as @DIR@ and this source tree (where the playbooks are) as @SRC@,
// so that they read the same in any checkout.
std::string to_fixture(const std::string& text, const std::string& sandbox) {
  return replace_all(replace_all(text, sandbox, "@DIR@"), KDR_SOURCE_DIR, "@SRC@");
}
std::string from_fixture(const std::string& text, const std::string& sandbox) {
  return replace_all(replace_all(text, "@DIR@", sandbox), "@SRC@", KDR_SOURCE_DIR);
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

std::vector<json> lines_of(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

// What a restore's loss says in words, and the objects it names, are for the operator and
// never read back: kdr 0.x named fewer of them.
void drop_loss_words(json& loss) {
  if (!loss.is_object()) return;
  for (const auto* k : {"text", "objects_changed", "changed_per_resource", "objects_from_journal"}) loss.erase(k);
}

// A journal's records without what differs from run to run (when, and how long a step took)
// and the loss's words.
std::vector<json> comparable(std::vector<json> records) {
  for (auto& r : records) {
    r.erase("seconds");
    r.erase("time");
    if (r.contains("loss")) drop_loss_words(r["loss"]);
  }
  return records;
}

// A plan as this kdr makes it, next to one kdr 0.x made: the parameters a playbook gained
// since (a variable and a step key the old plan lacks) are left out while they hold their
// default, which is what a step reading the old plan gets; the notes and the loss's words
// (messages to the operator, never read back) are left out of both.
std::pair<json, json> comparable_plans(json now, json old) {
  now.erase("notes");
  old.erase("notes");
  for (auto* plan : {&now, &old})
    if ((*plan).contains("etcd") && (*plan)["etcd"].contains("loss")) drop_loss_words((*plan)["etcd"]["loss"]);
  const auto added_default = [](const json& v) { return v == "" || v == "false"; };
  const auto drop_added = [&](json& mine, const json& theirs) {
    if (!mine.is_object() || !theirs.is_object()) return;
    for (auto it = mine.begin(); it != mine.end();)
      if (!theirs.contains(it.key()) && added_default(it.value())) it = mine.erase(it);
      else ++it;
  };
  drop_added(now["vars"], old["vars"]);
  if (now["steps"].is_array() && old["steps"].is_array() && now["steps"].size() == old["steps"].size())
    for (std::size_t i = 0; i < now["steps"].size(); ++i) drop_added(now["steps"][i]["args"], old["steps"][i]["args"]);
  return {now, old};
}

// The node after the case's damage and a restore stopped after `records` journal records;
// the id of that restore.
std::string stopped_restore(RestoreFixture& f, const CompatCase& c, std::size_t records) {
  c.damage(f, f.backup());
  CrashAfter crash(records);
  REQUIRE_THROWS_AS(f.restore(c.playbook, c.set), Crash);
  return f.restore_ids().at(0);
}

}  // namespace

TEST_CASE("a restore journaled by kdr 0.x (tests/fixtures/restore-journals) resumes and rolls back with this kdr") {
  const bool update = std::getenv("KDR_UPDATE_FIXTURES") != nullptr;
  for (const auto& c : compat_cases()) {
    INFO(c.name);
    const auto dir = fixture_dir(c);
    // The node an uninterrupted restore leaves, and the one before it.
    std::map<std::string, std::string> before, finished;
    std::size_t records = 0;
    {
      RestoreFixture f;
      c.damage(f, f.backup());
      before = f.tree();
      CrashAfter count(0);
      REQUIRE(f.restore(c.playbook, c.set) == core::ExitCode::ok);
      records = count.seen();
      finished = f.tree();
    }
    if (update) {
      RestoreFixture f;
      const auto id = stopped_restore(f, c, c.records_left ? records - c.records_left : records / 2);
      const auto restore_dir = f.node("/var/lib/kdr/restores/" + id);
      core::bfs::create_directories(dir);
      for (const auto* name : {"plan.json", "journal.jsonl"})
        test::write(dir / name, to_fixture(core::read_file(restore_dir / name), f.dir.path().string()));
      continue;
    }
    REQUIRE(core::lstat_path(dir / "journal.jsonl"));
    const auto old_journal = core::read_file(dir / "journal.jsonl");
    const auto old_plan = core::read_file(dir / "plan.json");
    const auto stopped_after = lines_of(old_journal).size();
    REQUIRE(stopped_after > 1);
    REQUIRE(stopped_after < records);

    for (const bool roll_back : {false, true}) {
      INFO((roll_back ? "rolled back" : "resumed"));
      RestoreFixture f;
      const auto id = stopped_restore(f, c, stopped_after);
      const auto restore_dir = f.node("/var/lib/kdr/restores/" + id);
      const auto here = f.dir.path().string();
      // This kdr journals what kdr 0.x journaled, line for line (a record written now may
      // hold several lines, etcd keys written in one transaction: the lines up to where the
      // old journal stops are compared).
      const auto [now, old] = comparable_plans(json::parse(core::read_file(restore_dir / "plan.json")),
                                               json::parse(from_fixture(old_plan, here)));
      CHECK(now == old);
      auto written = lines_of(core::read_file(restore_dir / "journal.jsonl"));
      REQUIRE(written.size() >= stopped_after);
      written.resize(stopped_after);
      CHECK(comparable(written) == comparable(lines_of(from_fixture(old_journal, here))));
      // ...and carries on from what kdr 0.x wrote.
      test::write(restore_dir / "plan.json", from_fixture(old_plan, here));
      test::write(restore_dir / "journal.jsonl", from_fixture(old_journal, here));
      if (roll_back) {
        CHECK(f.rollback(id) == core::ExitCode::ok);
        CHECK(test::tree_diff(f.tree(), before) == "");
      } else {
        CHECK(f.resume(id) == core::ExitCode::ok);
        CHECK(test::tree_diff(f.tree(), finished) == "");
      }
    }
  }
}
