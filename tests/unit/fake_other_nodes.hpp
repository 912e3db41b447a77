// Other control-plane nodes behind a fake ssh, for the unit tests of restores that span the
// cluster (restore-etcd-cluster with the config's nodes:). The ssh argv kdr builds is taken
// apart as OpenSSH and the remote shell would (one word per argument); each node's kdr answers
// as the real one documents (--version, --json restores, --json etcd state, kubelet restart, pods stop|start, restore
// replace-etcd-member, --resume, --rollback). tests/scenarios/ha_restore_cluster_ssh.sh runs
// the same against real sshds and real etcd members.
#pragma once

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/json_util.hpp"
#include "restore/journal.hpp"
#include "restore_fixture.hpp"

namespace kdr::test {

// The words a POSIX shell makes of `line` (single quotes only, as shell_quote writes them).
inline std::vector<std::string> shell_words(const std::string& line) {
  std::vector<std::string> out;
  std::string word;
  bool in_word = false, quoted = false, escaped = false;
  for (const char c : line) {
    if (escaped) {
      word += c;
      escaped = false;
    } else if (quoted) {
      if (c == '\'')
        quoted = false;
      else
        word += c;
    } else if (c == '\'') {
      quoted = in_word = true;
    } else if (c == '\\') {
      escaped = in_word = true;
    } else if (c == ' ') {
      if (in_word) out.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) out.push_back(word);
  return out;
}

struct SshCall {
  std::string destination;
  std::vector<std::string> words;  // the remote argv, as the remote shell splits it
};

inline SshCall parse_ssh(const std::vector<std::string>& argv) {
  const auto dash = std::find(argv.begin(), argv.end(), "--");
  if (dash == argv.end() || argv.end() - dash != 3)
    throw std::runtime_error("not an ssh argv kdr builds: no '-- DESTINATION COMMAND' at its end");
  return {*(dash + 1), shell_words(*(dash + 2))};
}

inline std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

inline constexpr const char* nodes_config =
    "nodes:\n"
    "  - name: cp2\n    ssh: root@10.0.0.11\n    identity_file: /etc/kdr/ssh/id\n"
    "    known_hosts: /etc/kdr/ssh/known_hosts\n    kdr: [kdr, --config, /etc/kdr/cp2.yaml]\n"
    "  - name: cp3\n    ssh: root@10.0.0.12\n    port: 2222\n    identity_file: /etc/kdr/ssh/id\n"
    "    known_hosts: /etc/kdr/ssh/known_hosts\n";

// Other nodes as a fake ssh sees them: kdr answers --version, pods, restores and joins; a join
// adds the member to the cluster this node serves. Every call is kept as "<node>: <argv>", and
// what each node holds (state()) as the crash matrix compares it.
struct FakeOtherNodes {
  RestoreFixture& f;
  std::vector<std::string> log;
  std::map<std::string, nlohmann::json> restores;  // per destination, as `kdr --json restores` prints them
  std::map<std::string, std::string> failing;      // destination -> ssh's stderr (exit 255)
  std::map<std::string, bool> apiserver_held;      // per node name
  std::map<std::string, nlohmann::json> etcd_state;  // per node name, as `kdr --json etcd state` prints it
  std::map<std::string, int> kubelet_restarts;        // per node name (`kdr kubelet restart`)
  int joins = 0;

  explicit FakeOtherNodes(RestoreFixture& fixture) : f(fixture) {
    f.programs->programs["ssh"] = [this](const std::vector<std::string>& argv, const core::ProcessOptions&) {
      return answer_call(parse_ssh(argv));
    };
  }

  core::ProcessResult answer_call(const SshCall& call) {
    const auto node = call.destination == "root@10.0.0.11" ? std::string("cp2") : std::string("cp3");
    if (auto it = failing.find(call.destination); it != failing.end()) return answer(255, "", it->second);
    auto words = call.words;
    if (node == "cp2") {  // its kdr argv: [kdr, --config, /etc/kdr/cp2.yaml]
      if (words.size() < 3 || words[1] != "--config") return answer(2, "", "cp2: kdr called without its --config\n");
      words.erase(words.begin() + 1, words.begin() + 3);
    }
    log.push_back(node + ": " + joined(words));
    auto& list = restores.try_emplace(call.destination, nlohmann::json::array()).first->second;
    if (words == std::vector<std::string>{"kdr", "--version"}) return answer(0, "kdr 1.0\n");
    if (words.size() > 2 && words[1] == "pods") {
      apiserver_held[node] = words[2] == "stop";
      return answer(0, "kube-apiserver: moved\n");
    }
    if (words == std::vector<std::string>{"kdr", "--json", "restores"}) return answer(0, list.dump());
    if (words == std::vector<std::string>{"kdr", "kubelet", "restart"}) {
      ++kubelet_restarts[node];
      return answer(0, "kubelet restarted (systemctl restart kubelet)\n");
    }
    if (words == std::vector<std::string>{"kdr", "--json", "etcd", "state"}) {
      if (auto it = etcd_state.find(node); it != etcd_state.end()) return answer(0, it->second.dump());
      return answer(0, nlohmann::json{{"name", node}, {"where", "this node"}, {"source", "none"}, {"cluster_id", ""},
                                       {"revision", 0}, {"raft_term", 0}, {"raft_index", 0},
                                       {"problem", "etcd does not answer and its data dir /var/lib/etcd holds no member/"}}
                               .dump());
    }
    if (words.size() > 2 && words[1] == "restore" && words[2] == "replace-etcd-member") {
      const auto cluster = words.back().substr(std::string("cluster_id=").size());
      join(node);
      list.push_back({{"id", node + "-join"},
                      {"playbook", "replace-etcd-member"},
                      {"state", "done"},
                      {"vars", {{"cluster_id", cluster}}}});
      return answer(0, "restore " + node + "-join: done\n");
    }
    if (words.size() > 3 && words[1] == "restore" && words[2] == "--rollback") {
      for (auto& r : list)
        if (r["id"] == words[3]) r["state"] = restore::to_string(restore::RestoreState::rolled_back);
      return answer(0, "rolled back\n");
    }
    if (words.size() > 3 && words[1] == "restore" && words[2] == "--resume") {
      for (auto& r : list)
        if (r["id"] == words[3]) r["state"] = restore::to_string(restore::RestoreState::done);
      join(node);
      return answer(0, "resumed\n");
    }
    return answer(2, "", "unexpected: " + joined(words) + "\n");
  }

  // The node's etcd joins the cluster this node serves (in place of its old member).
  void join(const std::string& node) {
    auto ks = f.etcd->at(RestoreFixture::node_etcd_url);
    std::erase_if(ks->members, [&](const etcd::EtcdClusterMember& old) { return old.name == node; });
    etcd::EtcdClusterMember m;
    m.id = 100 + static_cast<std::uint64_t>(++joins);
    m.name = node;
    m.peer_urls = {node == "cp2" ? "https://10.0.0.11:2380" : "https://10.0.0.12:2380"};
    ks->members.push_back(m);
  }

  // What each node holds that a restore changed: a kube-apiserver held, and the joins journaled
  // there that are not rolled back.
  std::map<std::string, std::string> state() const {
    std::map<std::string, std::string> out;
    for (const auto& [node, held] : apiserver_held)
      if (held) out[node + " kube-apiserver"] = "held";
    for (const auto& [destination, list] : restores)
      for (const auto& r : list)
        if (core::json_text_or(r, "state") != restore::to_string(restore::RestoreState::rolled_back))
          out[destination + " " + core::json_text_or(r, "id")] = core::json_text_or(r, "state");
    return out;
  }
};

}  // namespace kdr::test
