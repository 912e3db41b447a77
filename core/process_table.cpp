#include "core/process_table.hpp"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "core/error.hpp"

namespace kdr::core {

namespace {

// NUL-separated strings, as /proc/PID/cmdline and environ hold them.
std::vector<std::string> split_nul(const std::string& text) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < text.size()) {
    auto end = text.find('\0', at);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

std::vector<std::string> read_cmdline(int pid) {
  try {
    return split_nul(read_file(fmt::format("/proc/{}/cmdline", pid)));
  } catch (const Error&) {
    return {};  // gone meanwhile
  }
}

std::vector<int> all_pids() {
  std::vector<int> pids;
  DIR* d = ::opendir("/proc");
  if (!d) throw_errno("opendir", "/proc", errno);
  while (auto* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (!name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isdigit(c); }))
      pids.push_back(std::stoi(name));
  }
  ::closedir(d);
  return pids;
}

}  // namespace

std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string flag_argument(const std::vector<std::string>& argv, std::string_view flag) {
  const std::string eq = "--" + std::string(flag) + "=", bare = "--" + std::string(flag);
  for (std::size_t i = 1; i < argv.size(); ++i) {
    if (argv[i].rfind(eq, 0) == 0) return argv[i].substr(eq.size());
    if (argv[i] == bare && i + 1 < argv.size()) return argv[i + 1];
  }
  return "";
}

std::vector<ProcessEntry> node_processes(const NodeRoot& root, const std::vector<std::string>& commands) {
  const std::string root_prefix = root.root().string() + "/";
  std::vector<ProcessEntry> out;
  const int self = static_cast<int>(::getpid());
  for (int pid : all_pids()) {
    if (pid == self) continue;
    std::optional<FileStat> st;
    try {
      st = lstat_path(fmt::format("/proc/{}", pid));
    } catch (const Error&) {
    }
    if (!st || (st->uid != 0 && st->uid != ::geteuid())) continue;  // gone, or another user's
    auto argv = read_cmdline(pid);
    if (argv.empty()) continue;
    if (std::find(commands.begin(), commands.end(), base_name(argv.front())) == commands.end()) continue;
    if (!root.is_real_root() && std::none_of(argv.begin() + 1, argv.end(), [&](const std::string& a) {
          return a.find(root_prefix) != std::string::npos;
        }))
      continue;
    out.push_back({pid, st->uid, std::move(argv)});
  }
  return out;
}

std::map<std::string, std::string> process_environment(int pid) {
  std::map<std::string, std::string> env;
  try {
    for (const auto& kv : split_nul(read_file(fmt::format("/proc/{}/environ", pid)))) {
      const auto eq = kv.find('=');
      if (eq != std::string::npos && eq > 0) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
    }
  } catch (const Error&) {
  }
  return env;
}

std::string process_cwd(int pid) { return read_link(fmt::format("/proc/{}/cwd", pid)).value_or(""); }

}  // namespace kdr::core
