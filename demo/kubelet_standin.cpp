// A stand-in for the kubelet, for kdr's tests and its demo: the real kubelet cannot run on
// these machines. It does what the kubelet does with static pods, on a sandbox root:
//
//   - polls ROOT/<manifests> (default /etc/kubernetes/manifests) every --interval-ms,
//     ignoring hidden files as the kubelet does, and runs every other file as a pod;
//   - before starting a pod, creates its DirectoryOrCreate / FileOrCreate hostPath volumes;
//   - runs the pod's first container: for `etcd` the real etcd binary with the manifest's
//     command line, absolute paths mapped through the pod's hostPath volumes under ROOT
//     (what the mounts do for a container); any other pod becomes a placeholder process
//     whose argv is the container's command, mapped the same way, that sleeps until stopped.
//     kube-apiserver's placeholder first checks its serving certificate (--tls-cert-file)
//     against --advertise-address and exits 1 when it does not name it: every client that
//     reaches the API server at that address (kubelets, controllers, kubectl) would refuse the
//     certificate ("x509: certificate is valid for ..., not ..."), so the pod is as good as down;
//   - restarts a pod whose process exited (restartPolicy: Always), after a back-off;
//   - stops a pod (SIGTERM, then SIGKILL after a grace period) when its manifest leaves,
//     and restarts it when the manifest's content changes.
//
// Built and installed with kdr (libexec/kdr/) for `kdr demo`; the tests use it too.
// Usage: kubelet-standin --root ROOT --state DIR [--manifests PATH] [--interval-ms N]
// Pods' output goes to DIR/logs/<file>.log, its own to stderr. SIGTERM stops every pod.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/sha256.hpp"
#include "core/static_pods.hpp"
#include "core/x509_names.hpp"

namespace {

volatile sig_atomic_t stop_requested = 0;
void on_signal(int) { stop_requested = 1; }

std::string root_dir, state_dir, manifests = "/etc/kubernetes/manifests";

void log(const std::string& text) {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%H:%M:%S", std::localtime(&t));
  fmt::print(stderr, "kubelet-standin {}: {}\n", buf, text);
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Pod {
  pid_t pid = -1;
  std::string hash;
  std::string name;
  double restart_at = 0;  // when an exited pod may start again
  int restarts = 0;
};

std::string base_name(const std::string& p) {
  auto s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

// A container path as the host sees it through the pod's hostPath mounts, under the root.
std::string map_path(const kdr::core::StaticPod& pod, const kdr::core::Container& c, const std::string& p) {
  auto host = pod.host_path_of(c, p);
  return root_dir + (host ? *host : p);
}

std::vector<std::string> mapped_command(const kdr::core::StaticPod& pod, const kdr::core::Container& c) {
  std::vector<std::string> argv;
  for (std::size_t i = 0; i < c.command.size(); ++i) {
    const auto& a = c.command[i];
    if (i == 0) {
      argv.push_back(base_name(a));
      continue;
    }
    const auto eq = a.find('=');
    if (a.rfind("--", 0) == 0 && eq != std::string::npos && eq + 1 < a.size() && a[eq + 1] == '/')
      argv.push_back(a.substr(0, eq + 1) + map_path(pod, c, a.substr(eq + 1)));
    else if (!a.empty() && a[0] == '/')
      argv.push_back(map_path(pod, c, a));
    else
      argv.push_back(a);
  }
  return argv;
}

void create_host_paths(const kdr::core::StaticPod& pod) {
  for (const auto& v : pod.host_paths) {
    const auto p = root_dir + v.path;
    if (v.type == "DirectoryOrCreate" && !kdr::core::lstat_path(p)) {
      kdr::core::make_dirs(p, 0755);
      log(fmt::format("{}: created hostPath folder {}", pod.name, v.path));
    } else if (v.type == "FileOrCreate" && !kdr::core::lstat_path(p)) {
      kdr::core::make_dirs(kdr::core::bfs::path(p).parent_path(), 0755);
      int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd >= 0) ::close(fd);
      log(fmt::format("{}: created hostPath file {}", pod.name, v.path));
    }
  }
}

pid_t start_pod(const std::string& file, const kdr::core::StaticPod& pod) {
  if (pod.containers.empty() || pod.containers.front().command.empty()) {
    log(fmt::format("{}: no container command; not started", file));
    return -1;
  }
  create_host_paths(pod);
  const auto& c = pod.containers.front();
  auto argv = mapped_command(pod, c);
  const bool real = argv.front() == "etcd";
  const auto log_file = state_dir + "/logs/" + file + ".log";
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    log(fmt::format("fork: {}", std::strerror(errno)));
    return -1;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // the stand-in's pods never outlive it
    if (::getppid() != parent) ::_exit(1);
    ::setpgid(0, 0);
    int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    if (real) {
      ::execvp("etcd", cargv.data());
    } else {
      ::setenv("KDR_STANDIN_PLACEHOLDER", "1", 1);
      ::execv("/proc/self/exe", cargv.data());
    }
    ::_exit(127);
  }
  log(fmt::format("started {} from {} (pid {}{})", pod.name, file, pid, real ? ", real etcd" : ", placeholder"));
  return pid;
}

void stop_pod(const std::string& file, Pod& p) {
  if (p.pid <= 0) return;
  ::kill(p.pid, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    int status = 0;
    if (::waitpid(p.pid, &status, WNOHANG) == p.pid) {
      log(fmt::format("stopped {} ({})", p.name, file));
      p.pid = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::kill(p.pid, SIGKILL);
  ::waitpid(p.pid, nullptr, 0);
  log(fmt::format("killed {} ({}) after the grace period", p.name, file));
  p.pid = -1;
}

// kube-apiserver's placeholder: its serving certificate must name its advertise address.
bool serving_certificate_fits(int argc, char** argv) {
  std::string cert, address;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--tls-cert-file=", 0) == 0) cert = a.substr(16);
    if (a.rfind("--advertise-address=", 0) == 0) address = a.substr(20);
  }
  if (cert.empty() || address.empty()) return true;
  std::string pem;
  try {
    pem = kdr::core::read_file(cert);
  } catch (const kdr::core::Error& e) {
    fmt::print(stderr, "kube-apiserver (stand-in): {}\n", e.what());
    return false;
  }
  const auto names = kdr::core::certificate_names(pem);
  if (names && names->names(address)) return true;
  std::string valid;
  if (names)
    for (const auto& n : names->ips) valid += (valid.empty() ? "" : ", ") + n;
  fmt::print(stderr,
             "kube-apiserver (stand-in): x509: certificate {} is valid for {}, not {}: clients of the API server at "
             "its advertise address refuse it\n",
             cert, valid.empty() ? "no IP address" : valid, address);
  return false;
}

int placeholder(int argc, char** argv) {
  const std::string self = argc > 0 ? argv[0] : "";
  if (self == "kube-apiserver" && !serving_certificate_fits(argc, argv)) return 1;
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  while (!stop_requested) ::pause();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (std::getenv("KDR_STANDIN_PLACEHOLDER")) return placeholder(argc, argv);
  int interval_ms = 300;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--root") root_dir = v;
    else if (k == "--state") state_dir = v;
    else if (k == "--manifests") manifests = v;
    else if (k == "--interval-ms") interval_ms = std::stoi(v);
    else {
      fmt::print(stderr, "kubelet-standin: unknown option {}\n", k);
      return 2;
    }
  }
  if (root_dir.empty() || root_dir == "/" || state_dir.empty()) {
    fmt::print(stderr, "usage: kubelet-standin --root SANDBOX --state DIR [--manifests PATH] [--interval-ms N]\n"
                       "(a stand-in never runs on the machine's own root)\n");
    return 2;
  }
  kdr::core::make_dirs(state_dir + "/logs", 0755);
  // The kubelet creates its root dir (--root-dir, /var/lib/kubelet) when it starts.
  kdr::core::make_dirs(root_dir + "/var/lib/kubelet", 0700);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  log(fmt::format("watching {}{}", root_dir, manifests));

  std::map<std::string, Pod> pods;
  const auto dir = root_dir + manifests;
  while (!stop_requested) {
    std::map<std::string, std::string> present;  // file -> content
    auto st = kdr::core::lstat_path(dir);
    if (st && st->type == kdr::core::FileType::directory) {
      try {
        for (const auto& name : kdr::core::list_dir(dir)) {
          if (name.empty() || name[0] == '.') continue;
          auto fst = kdr::core::lstat_path(dir + "/" + name);
          if (!fst || fst->type != kdr::core::FileType::file) continue;
          present[name] = kdr::core::read_file(dir + "/" + name);
        }
      } catch (const kdr::core::Error&) {
        // the folder changed under us; look again next time
      }
    }
    // Manifests that left or changed: stop their pods.
    for (auto it = pods.begin(); it != pods.end();) {
      auto p = present.find(it->first);
      if (p == present.end() || kdr::core::sha256_hex(p->second) != it->second.hash) {
        stop_pod(it->first, it->second);
        it = pods.erase(it);
      } else {
        ++it;
      }
    }
    // Exited pods: note it, restart after a back-off.
    for (auto& [file, p] : pods) {
      int status = 0;
      if (p.pid > 0 && ::waitpid(p.pid, &status, WNOHANG) == p.pid) {
        log(fmt::format("{} exited ({}); restarting in 1 s", p.name,
                        WIFEXITED(status) ? fmt::format("code {}", WEXITSTATUS(status))
                                          : fmt::format("signal {}", WTERMSIG(status))));
        p.pid = -1;
        p.restart_at = now_s() + 1.0;
      }
    }
    // New manifests, and exited pods whose back-off is over.
    for (const auto& [file, content] : present) {
      auto& p = pods[file];
      if (p.pid > 0 || now_s() < p.restart_at) continue;
      try {
        auto pod = kdr::core::parse_static_pod(content, dir + "/" + file);
        if (p.hash.empty()) p.hash = kdr::core::sha256_hex(content);
        p.name = pod.name;
        p.pid = start_pod(file, pod);
        if (p.pid < 0) p.restart_at = now_s() + 5;
      } catch (const kdr::core::Error& e) {
        if (p.hash.empty()) log(fmt::format("{}: not a pod manifest: {}", file, e.what()));
        p.hash = kdr::core::sha256_hex(content);
        p.restart_at = now_s() + 1e9;  // until the file changes
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
  for (auto& [file, p] : pods) stop_pod(file, p);
  log("stopped");
  return 0;
}
