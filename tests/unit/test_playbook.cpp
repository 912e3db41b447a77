#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <sstream>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/sha256.hpp"
#include "core/manifest.hpp"
#include "restore/journal.hpp"
#include "restore/materialize.hpp"
#include "restore/playbook.hpp"
#include "temp_dir.hpp"

using namespace kdr;
using namespace kdr::restore;

namespace {
std::string playbook_error(const std::string& yaml) {
  try {
    parse_playbook(yaml, "pb.yaml");
  } catch (const core::UsageError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("a playbook is read with its parameters and steps") {
  auto p = parse_playbook(R"(name: demo
description: d
when: [a, b]
parameters:
  - {name: source, default: snapshot, choices: [snapshot, raw]}
steps:
  - type: preflight
  - type: move-aside
    path: ${etcd_data_dir}
  - type: etcd-snapshot-restore
    source: ${source}
  - type: run
    name: say hello
    argv: [echo, hello]
)",
                          "pb.yaml");
  CHECK(p.name == "demo");
  CHECK(p.when.size() == 2);
  REQUIRE(p.parameters.size() == 1);
  CHECK(p.parameters[0].default_value == "snapshot");
  REQUIRE(p.steps.size() == 4);
  CHECK(p.steps[1].type == StepType::move_aside);
  CHECK(p.steps[1].fields.at("path").value == "${etcd_data_dir}");
  CHECK(p.steps[1].fields.at("path").where == "pb.yaml:9:11");
  CHECK(p.steps[3].title == "say hello");
  CHECK(p.steps[3].fields.at("argv").value == nlohmann::json::array({"echo", "hello"}));
  CHECK(changes_node(StepType::move_aside));
  CHECK_FALSE(changes_node(StepType::preflight));
}

TEST_CASE("a malformed playbook names the file, line, column and key") {
  CHECK(playbook_error("steps: [{type: preflight}]") == "pb.yaml:1:1: key 'name': a playbook needs a 'name'");
  CHECK(playbook_error("name: x\nsteps:\n  - type: teleport\n") ==
        "pb.yaml:3:11: key 'steps[0].type': unknown step type 'teleport' (known: preflight, stop-static-pods, "
        "wait-stopped, move-aside, copy-back, node-identity, etcd-replay, etcd-survivor, etcd-snapshot-restore, etcd-put-keys, "
        "etcd-member-remove, etcd-member-add, etcd-member-join, etcd-member-promote, etcd-member-invite, other-nodes-pods, "
        "start-static-pods, wait-healthy, check-nodes, restart-kubelets, etcd-forget-node, kubeadm, run, manual)");
  CHECK(playbook_error("name: x\nsteps:\n  - type: move-aside\n") == "pb.yaml:3:5: key 'steps[0]': a move-aside step needs 'path'");
  CHECK(playbook_error("name: x\nsteps:\n  - type: run\n    argv: [a]\n    shell: yes\n") ==
        "pb.yaml:5:5: key 'steps[0].shell': unknown key (known here: argv, if, name, timeout, type, writes)");
  CHECK(playbook_error("name: x\nsteps:\n  - type: move-aside\n    path: ${nope}/x\n") ==
        "pb.yaml:4:11: unknown variable ${nope} (known: accept_gap, accept_loss, accept_undecryptable, allow_setuid, "
        "etcd_data_dir, etcd_point, generation, generation_dir, key_file, kubeadm_config, kubeadm_etcd_dir_check, "
        "renames_node, restore_dir, restore_id, root, same_node, saved_kubeadm_config, static_pod_path, unauthenticated)");
  CHECK(playbook_error("name: x\nsteps: [{type: preflight}]\nparameters:\n  - {name: p, default: c, choices: [a, b]}\n") ==
        "pb.yaml:4:5: key 'parameters[0]': the default 'c' is not one of the choices");
  CHECK(playbook_error("name: x\nsteps: [{type: preflight}\n").find("pb.yaml:3:1: not valid YAML") == 0);
  CHECK(playbook_error("name: x\nsteps: []\n") == "pb.yaml:2:8: key 'steps': expected a non-empty list of steps");
  // the name becomes part of a folder name: nothing that could climb out of it
  CHECK(playbook_error("name: ../../etc/x\nsteps: [{type: preflight}]\n") ==
        "pb.yaml:1:7: key 'name': '../../etc/x': a playbook's name is lowercase letters, digits and '-', starting with "
        "a letter, at most 64 characters (it names the restore's folder)");
  CHECK(playbook_error("name: Restore\nsteps: [{type: preflight}]\n").find("a playbook's name is lowercase") != std::string::npos);
}

TEST_CASE("variables are substituted, unknown ones are errors") {
  const std::map<std::string, std::string> vars = {{"a", "1"}, {"bb", "two"}};
  CHECK(substitute("x${a}y${bb}z", vars, "w") == "x1ytwoz");
  CHECK(substitute("no variables", vars, "w") == "no variables");
  CHECK_THROWS_WITH(substitute("${c}", vars, "pb.yaml:1:1"), "pb.yaml:1:1: unknown variable ${c}");
  CHECK(variables_in("${a}/${b}") == std::vector<std::string>{"a", "b"});
}

TEST_CASE("the shipped playbooks load") {
  const auto dir = core::bfs::path(KDR_SOURCE_DIR) / "playbooks";
  auto list = list_playbooks({dir});
  CHECK(list.problems.empty());
  std::vector<std::string> names;
  for (const auto& p : list.playbooks) names.push_back(p.name);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"rebuild-node", "replace-etcd-member", "restore-etcd-cluster",
                                         "restore-etcd-keys", "restore-etcd-snapshot", "restore-files"});
  CHECK_THROWS_AS(find_playbook("no-such", {dir}), core::UsageError);
}

// A manifest entry owned by kdr's own user (so that materialize can give it back as it was).
core::ManifestEntry manifest_entry(std::string path, core::FileType type, std::uint32_t mode) {
  core::ManifestEntry e;
  e.path = std::move(path);
  e.type = type;
  e.mode = mode;
  e.uid = ::geteuid();
  e.gid = ::getegid();
  return e;
}

TEST_CASE("materialize refuses manifest entries that would escape the restored tree") {
  const KeepSpecialBits keep_none = [](const core::ManifestEntry&) { return false; };
  kdr::test::TempDir t;
  const auto gen = t.path() / "gen";
  core::make_dirs(gen / "files/etc/kubernetes", 0700);
  core::Manifest m;
  const auto entry = manifest_entry;
  auto dir = entry("/etc/kubernetes", core::FileType::directory, 0755);
  auto link = entry("/etc/kubernetes/out", core::FileType::symlink, 0777);
  link.target = "/tmp";
  auto through = entry("/etc/kubernetes/out/evil", core::FileType::file, 0600);
  through.sha256 = std::string(64, '0');
  m.entries = {dir, link, through};
  auto entries = entries_under(m, "/etc/kubernetes", {});
  REQUIRE(entries.size() == 3);
  CHECK_THROWS_WITH(materialize(entries, "/etc/kubernetes", gen, t.path() / "dest", keep_none),
                    Catch::Contains("is not a folder of the restored tree"));
  CHECK_FALSE(core::lstat_path("/tmp/evil"));

  auto dotdot = entry("/etc/kubernetes/../passwd", core::FileType::file, 0600);
  m.entries = {dir, dotdot};
  entries = entries_under(m, "/etc/kubernetes", {});
  CHECK_THROWS_WITH(materialize(entries, "/etc/kubernetes", gen, t.path() / "dest2", keep_none),
                    Catch::Contains("unsafe manifest entry"));
}

TEST_CASE("materialize restores setuid and setgid bits only where it is told to keep them") {
  kdr::test::TempDir t;
  const auto gen = t.path() / "gen";
  core::make_dirs(gen / "files/etc/kubernetes", 0700);
  core::write_file_atomic(gen / "files/etc/kubernetes/tool", "#!/bin/sh\n", 0600);
  core::write_file_atomic(gen / "files/etc/kubernetes/kept", "#!/bin/sh\n", 0600);
  core::Manifest m;
  const auto entry = manifest_entry;
  auto dir = entry("/etc/kubernetes", core::FileType::directory, 02755);
  auto tool = entry("/etc/kubernetes/tool", core::FileType::file, 04755);
  tool.sha256 = core::sha256_hex("#!/bin/sh\n");
  tool.size = 10;
  auto kept = tool;
  kept.path = "/etc/kubernetes/kept";
  m.entries = {dir, kept, tool};
  const auto entries = entries_under(m, "/etc/kubernetes", {});
  const auto stats = materialize(entries, "/etc/kubernetes", gen, t.path() / "dest",
                                 [](const core::ManifestEntry& e) { return e.path == "/etc/kubernetes/kept"; });
  CHECK(core::lstat_path(t.path() / "dest/tool")->mode == 0755);
  CHECK(core::lstat_path(t.path() / "dest/kept")->mode == 04755);
  CHECK(core::lstat_path(t.path() / "dest")->mode == 0755);
  CHECK(stats.special_dropped == std::vector<std::string>{"/etc/kubernetes/tool", "/etc/kubernetes"});
}

TEST_CASE("discarding a restore removes the live values it replaced from its journal, keeping their hashes") {
  kdr::test::TempDir t;
  auto j = Journal::create(t.path() / "r1", {{"id", "r1"}});
  const std::string secret = "c2VjcmV0LXRva2Vu";  // base64 of "secret-token"
  j.record(JournalEvent::action, {{"op", "etcd-put"},
                                 {"etcd", {{"key", "L3JlZ2lzdHJ5"}, {"replaced", {{"value", secret}, {"mod_revision", 7}}}}}});
  j.record(JournalEvent::action, {{"op", "etcd-put"}, {"etcd", {{"key", "L3g="}, {"replaced", nullptr}}}});
  CHECK(core::lstat_path(t.path() / "r1/journal.jsonl")->mode == 0600);
  CHECK(core::read_file(t.path() / "r1/journal.jsonl").find(secret) != std::string::npos);
  CHECK(j.scrub_replaced_values() == 1);
  const auto text = core::read_file(t.path() / "r1/journal.jsonl");
  CHECK(text.find(secret) == std::string::npos);
  CHECK(text.find(core::sha256_hex("secret-token")) != std::string::npos);
  CHECK(core::lstat_path(t.path() / "r1/journal.jsonl")->mode == 0600);
  CHECK(j.scrub_replaced_values() == 0);
}

TEST_CASE("a journal's summary comes from its events, and a torn last line is ignored") {
  kdr::test::TempDir t;
  auto j = Journal::create(t.path() / "r1", {{"id", "r1"}});
  j.record(JournalEvent::begin, {{"step", 0}});
  j.record(JournalEvent::done, {{"step", 0}});
  const Action a{ActionOp::move, "/a", "/b", 1, "", false, nullptr, nullptr, UndoOrder::normal};
  j.record(JournalEvent::begin, {{"step", 1}});
  j.action(a);
  {
    std::ofstream f((t.path() / "r1/journal.jsonl").string(), std::ios::app);
    f << R"({"event":"done","st)";
  }
  auto s = Journal::open(t.path() / "r1").summary();
  CHECK(s.state == RestoreState::interrupted);
  CHECK(s.step_done(0));
  CHECK_FALSE(s.step_done(1));
  REQUIRE(s.actions.size() == 1);
  CHECK(s.actions[0].to == "/b");
}

TEST_CASE("a journal record kdr did not write is an error naming file and line, never guessed") {
  const std::string text = "{\"event\":\"begin\",\"step\":0}\n{\"event\":\"done\",\"step\":\"zero\"}\n";
  try {
    (void)kdr::restore::summarize_journal(text, "journal.jsonl");
    FAIL("accepted a step that is not a number");
  } catch (const kdr::core::Error& e) {
    CHECK_THAT(std::string(e.what()), Catch::StartsWith("journal.jsonl:2: not a journal record kdr wrote"));
  }
  CHECK_THROWS_AS(kdr::restore::summarize_journal("{\"event\":\"failed\",\"step\":1e300}\n", "j"), kdr::core::Error);
}

TEST_CASE("a step with if: is planned only when its parameter has that value") {
  auto p = parse_playbook(R"(name: demo
parameters:
  - {name: etcd, default: keep, choices: [keep, raw]}
steps:
  - type: move-aside
    if: etcd=raw
    path: ${etcd_data_dir}
  - type: move-aside
    if: accept_loss!=true
    path: /etc/kubernetes
)",
                          "pb.yaml");
  REQUIRE(p.steps[0].condition);
  CHECK(p.steps[0].condition->text() == "etcd=raw");
  CHECK(p.steps[0].condition->where == "pb.yaml:6:9");
  CHECK_FALSE(p.steps[0].condition->holds({{"etcd", "keep"}}));
  CHECK(p.steps[0].condition->holds({{"etcd", "raw"}}));
  REQUIRE(p.steps[1].condition);  // a built-in parameter may be tested too
  CHECK(p.steps[1].condition->holds({{"accept_loss", "false"}}));
  CHECK_FALSE(p.steps[1].condition->holds({{"accept_loss", "true"}}));

  const std::string head = "name: x\nparameters:\n  - {name: etcd, default: keep, choices: [keep, raw]}\nsteps:\n";
  CHECK(playbook_error(head + "  - {type: preflight, if: color=red}\n") ==
        "pb.yaml:5:27: key 'steps[0].if': 'color' is not a parameter of this playbook");
  CHECK(playbook_error(head + "  - {type: preflight, if: etcd=snapshot}\n") ==
        "pb.yaml:5:27: key 'steps[0].if': 'snapshot' is not one of etcd's choices (keep, raw)");
  CHECK(playbook_error(head + "  - {type: preflight, if: etcd}\n") ==
        "pb.yaml:5:27: key 'steps[0].if': expected PARAMETER=VALUE or PARAMETER!=VALUE, not 'etcd'");
}

TEST_CASE("built-in parameters are every playbook's and cannot be declared again") {
  std::vector<std::string> names;
  for (const auto& b : builtin_parameters()) names.push_back(b.name);
  CHECK(names == std::vector<std::string>{"accept_loss", "accept_undecryptable", "accept_gap", "same_node", "key_file",
                                          "unauthenticated", "allow_setuid"});
  CHECK(playbook_error("name: x\nparameters:\n  - {name: accept_loss, default: \"true\"}\nsteps: [{type: preflight}]\n") ==
        "pb.yaml: parameter 'accept_loss' is built in (every playbook has it); pick another name");
}

// docs/playbooks.md's step reference is written by hand: every step type the loader knows is
// in it, marked * exactly when it changes the node, with every key it takes, and nothing else.
TEST_CASE("docs/playbooks.md's step table lists every step type, its * and its keys") {
  const auto doc = core::read_file(boost::filesystem::path(KDR_SOURCE_DIR) / "docs" / "playbooks.md");
  const auto start = doc.find("### Step types");
  REQUIRE(start != std::string::npos);
  std::map<std::string, std::pair<bool, std::string>> rows;  // type -> (starred, keys column)
  std::istringstream in(doc.substr(start));
  std::string line;
  bool in_table = false;
  while (std::getline(in, line)) {
    if (line.rfind("| `", 0) != 0) {
      if (in_table) break;
      continue;
    }
    in_table = true;
    const auto end_type = line.find('`', 3);
    REQUIRE(end_type != std::string::npos);
    const auto type = line.substr(3, end_type - 3);
    const auto col1_end = line.find('|', 1);
    const auto col2_end = line.find('|', col1_end + 1);
    const bool starred = line.substr(end_type, col1_end - end_type).find('*') != std::string::npos;
    rows[type] = {starred, line.substr(col1_end + 1, col2_end - col1_end - 1)};
  }
  const auto types = restore::all_step_types();
  CHECK(rows.size() == types.size());
  for (const auto t : types) {
    const std::string name(restore::to_string(t));
    INFO("step type " << name);
    const auto it = rows.find(name);
    REQUIRE(it != rows.end());
    CHECK(it->second.first == restore::changes_node(t));
    for (const auto& key : restore::step_keys(t)) {
      INFO("key " << key);
      CHECK(it->second.second.find("`" + key + "`") != std::string::npos);
    }
  }
}
