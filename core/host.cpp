#include "core/host.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "core/error.hpp"

namespace kdr::core {

unsigned Host::euid() const { return ::geteuid(); }

std::string Host::hostname() const {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

bool identity_address(const std::string& address) {
  in6_addr a{};
  if (::inet_pton(AF_INET6, address.c_str(), &a) != 1) return true;  // IPv4, or a name
  return !IN6_IS_ADDR_LINKLOCAL(&a);
}

std::vector<std::string> Host::addresses() const {
  std::vector<std::string> out;
  struct ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (auto* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || (i->ifa_flags & IFF_LOOPBACK) != 0) continue;
    char buf[INET6_ADDRSTRLEN] = {};
    const auto family = i->ifa_addr->sa_family;
    const void* addr = nullptr;
    if (family == AF_INET) addr = &reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr;
    else if (family == AF_INET6) addr = &reinterpret_cast<const sockaddr_in6*>(i->ifa_addr)->sin6_addr;
    if (addr != nullptr && ::inet_ntop(family, addr, buf, sizeof buf) != nullptr && identity_address(buf))
      out.emplace_back(buf);
  }
  ::freeifaddrs(list);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool Host::local_address(const std::string& address) const {
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    len = sizeof *v6;
  } else {
    return false;
  }
  const int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0;  // port 0: no port is taken
  ::close(fd);
  return ok;
}

std::uint64_t Host::free_bytes(const bfs::path& dir) const { return core::free_bytes(dir); }

bool Host::process_alive(int pid) const { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

Answer Host::ask(const std::string& question) const {
  std::fprintf(stderr, "%s [y/N/a=yes to all] ", question.c_str());
  std::fflush(stderr);
  std::string line;
  if (!std::getline(std::cin, line)) {
    std::fprintf(stderr, "\n");
    return Answer::no;
  }
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
  if (line == "y" || line == "Y" || line == "yes") return Answer::yes;
  if (line == "a" || line == "all") return Answer::all;
  return Answer::no;
}

ProcessResult Programs::run(const std::vector<std::string>& argv, const ProcessOptions& options) const {
  return run_process(argv, options);
}

std::unique_ptr<RunningProgram> Programs::start(const std::vector<std::string>& argv, const bfs::path& log_file,
                                                const bfs::path& working_dir) const {
  return std::make_unique<BackgroundProcess>(argv, log_file, working_dir);
}

bfs::path Programs::find(const std::string& name) const { return find_program(name); }

std::shared_ptr<const Host> real_host() {
  static const auto host = std::make_shared<const Host>();
  return host;
}

std::shared_ptr<const Programs> real_programs() {
  static const auto programs = std::make_shared<const Programs>();
  return programs;
}

void Programs::spawn_detached(const std::vector<std::string>& argv_in, const bfs::path& log_file) const {
  Fd log_fd(::open(log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!log_fd) throw_errno("open", log_file.string(), errno);
  auto args = argv_in;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t child = ::fork();
  if (child < 0) throw_errno("fork", args.front(), errno);
  if (child == 0) {
    // A session of its own, and a second fork, so that it outlives the caller (cron's job)
    // and has no terminal.
    ::setsid();
    if (::fork() != 0) ::_exit(0);
    const int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(log_fd.get(), 1);
    ::dup2(log_fd.get(), 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
}

}  // namespace kdr::core
