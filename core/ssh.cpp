#include "core/ssh.hpp"

#include <fmt/format.h>

namespace kdr::core {

std::string_view to_string(SshProblem problem) {
  switch (problem) {
    case SshProblem::none: return "none";
    case SshProblem::host_key_changed: return "host-key-changed";
    case SshProblem::host_key_unknown: return "host-key-unknown";
    case SshProblem::key_refused: return "key-refused";
    case SshProblem::unreachable: return "unreachable";
    case SshProblem::program_missing: return "program-missing";
    case SshProblem::other: return "ssh-failed";
  }
  return "ssh-failed";
}

std::string shell_quote(const std::string& word) {
  std::string out = "'";
  for (const char c : word) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::vector<std::string> ssh_argv(const NodeConfig& node, const NodeRoot& root,
                                  const std::vector<std::string>& remote_argv) {
  std::vector<std::string> argv = node.ssh_command;
  const auto option = [&](const std::string& o) {
    argv.push_back("-o");
    argv.push_back(o);
  };
  option("BatchMode=yes");
  option("StrictHostKeyChecking=yes");
  option("UpdateHostKeys=no");
  option("ConnectTimeout=10");
  option("ServerAliveInterval=15");
  option("ServerAliveCountMax=4");
  if (!node.identity_file.empty()) {
    option("IdentitiesOnly=yes");
    argv.push_back("-i");
    argv.push_back(root.host(node.identity_file).string());
  }
  if (!node.known_hosts.empty()) {
    option(fmt::format("UserKnownHostsFile={}", root.host(node.known_hosts).string()));
    option("GlobalKnownHostsFile=/dev/null");
  }
  argv.push_back("-T");
  argv.push_back("-p");
  argv.push_back(std::to_string(node.port));
  argv.push_back("--");
  argv.push_back(node.ssh);
  std::string line;
  for (const auto& word : remote_argv) {
    if (!line.empty()) line += ' ';
    line += shell_quote(word);
  }
  argv.push_back(line);
  return argv;
}

std::vector<std::string> remote_kdr(const NodeConfig& node, const std::vector<std::string>& args) {
  auto argv = node.kdr;
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

namespace {
bool has(const std::string& text, std::string_view what) { return text.find(what) != std::string::npos; }
}  // namespace

SshProblem classify_ssh(const ProcessResult& result) {
  if (!result.started || result.timed_out) return SshProblem::other;
  const auto& err = result.err;
  if (result.exit_code == 127 && (has(err, "not found") || has(err, "No such file"))) return SshProblem::program_missing;
  if (result.exit_code != 255) return SshProblem::none;
  if (has(err, "REMOTE HOST IDENTIFICATION HAS CHANGED") || has(err, "Host key for ") ||
      has(err, "host key has changed"))
    return SshProblem::host_key_changed;
  if (has(err, "host key is known for") || has(err, "Host key verification failed")) return SshProblem::host_key_unknown;
  if (has(err, "Permission denied")) return SshProblem::key_refused;
  if (has(err, "connect to host") || has(err, "Could not resolve hostname") || has(err, "Connection refused") ||
      has(err, "Connection timed out") || has(err, "No route to host") || has(err, "Network is unreachable") ||
      has(err, "Connection closed by") || has(err, "Connection reset"))
    return SshProblem::unreachable;
  return SshProblem::other;
}

namespace {

std::string first_line(const std::string& text) {
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    auto line = text.substr(start, end - start);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty() && line.find("@@@") == std::string::npos) return line;
    start = end + 1;
  }
  return {};
}

}  // namespace

std::string explain(SshProblem problem, const NodeConfig& node, const ProcessResult& result) {
  const auto who = fmt::format("node {} ({} port {})", node.name, node.ssh, node.port);
  const auto known = node.known_hosts.empty() ? std::string("ssh's known_hosts") : node.known_hosts;
  switch (problem) {
    case SshProblem::none: return who + ": reached";
    case SshProblem::host_key_changed:
      return fmt::format("{}: its host key is not the one {} holds: kdr will not talk to it. If the node was "
                         "rebuilt, check its new key out of band (ssh-keygen -lf on the node) and replace the "
                         "entry (ssh-keygen -R '[host]:port' -f {}); otherwise something else answers at that address",
                         who, known, known);
    case SshProblem::host_key_unknown:
      return fmt::format("{}: {} holds no host key for it, and kdr never accepts one blindly: add its key, "
                         "checked out of band ('[host]:port' entries for a port other than 22)",
                         who, known);
    case SshProblem::key_refused:
      return fmt::format("{}: it refused kdr's key{} ({}): add the public key to that node's authorized_keys",
                         who, node.identity_file.empty() ? "" : " " + node.identity_file, first_line(result.err));
    case SshProblem::unreachable:
      return fmt::format("{}: cannot connect ({}): is the node up and sshd listening there?", who,
                         first_line(result.err));
    case SshProblem::program_missing:
      return fmt::format("{}: reached, but it has no '{}' ({}): set that node's kdr: argv in the config", who,
                         node.kdr.empty() ? std::string("kdr") : node.kdr.front(), first_line(result.err));
    case SshProblem::other:
      if (!result.started) return fmt::format("{}: {}", who, result.start_error);
      if (result.timed_out) return who + ": ssh did not finish in time (killed)";
      return fmt::format("{}: ssh failed (exit {}): {}", who, result.exit_code, first_line(result.err));
  }
  return who;
}

ProcessResult run_on_node(const Context& ctx, const NodeConfig& node, const std::vector<std::string>& remote_argv,
                          std::chrono::milliseconds timeout) {
  ProcessOptions options;
  options.timeout = timeout;
  auto result = ctx.programs->run(ssh_argv(node, ctx.root, remote_argv), options);
  const auto problem = classify_ssh(result);
  if (problem != SshProblem::none) throw SshError(explain(problem, node, result), problem);
  return result;
}

const NodeConfig* find_node(const Config& config, const std::string& name) {
  for (const auto& n : config.nodes)
    if (n.name == name) return &n;
  return nullptr;
}

}  // namespace kdr::core
