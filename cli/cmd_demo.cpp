// kdr demo [--keep]: the drill on a sandbox node (demo/drill.sh), run with this kdr.
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "cli/command.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"

namespace kdr::cli {

namespace {

struct DemoFiles {
  std::string script, sandbox_lib, kubelet;
};

// Next to an installed kdr: share/kdr/demo and libexec/kdr. Run from its build folder: the
// source tree's demo/ and the stand-in built beside it.
DemoFiles demo_files() {
  std::string self = core::read_link("/proc/self/exe").value_or("");
  DemoFiles f;
  if (self == KDR_BUILT_BINARY) {
    f.script = std::string(KDR_SOURCE_DIR) + "/demo/drill.sh";
    f.sandbox_lib = std::string(KDR_SOURCE_DIR) + "/tests/lib/sandbox.sh";
    f.kubelet = KDR_BUILT_KUBELET;
  } else {
    f.script = std::string(KDR_DEMO_DIR) + "/drill.sh";
    f.sandbox_lib = std::string(KDR_DEMO_DIR) + "/sandbox.sh";
    f.kubelet = KDR_INSTALLED_KUBELET;
  }
  if (const char* k = std::getenv("KDR_KUBELET"); k && *k) f.kubelet = k;
  return f;
}

}  // namespace

Command demo_command() {
  auto keep = std::make_shared<bool>(false);
  Command c;
  c.name = "demo";
  c.help = "run the drill on a sandbox node: backup, verify, disaster, restore (a few minutes; nothing outside $TMPDIR, /tmp by default)";
  c.add_options = [keep](CLI::App& sub) {
    sub.add_flag("--keep", *keep, "leave the sandbox folder for inspection");
  };
  c.run = [keep](const core::Context& ctx) -> core::ExitCode {
    if (!ctx.root.is_real_root()) throw core::UsageError("kdr demo makes its own sandbox; it takes no --root");
    const auto f = demo_files();
    for (const auto& p : {f.script, f.sandbox_lib, f.kubelet})
      if (!core::lstat_path(p)) throw core::Error(fmt::format("kdr demo: {} is missing (is kdr fully installed?)", p));
    const auto self = core::read_link("/proc/self/exe").value_or("kdr");
    ::setenv("KDR_BIN", self.c_str(), 1);
    ::setenv("KDR_KUBELET", f.kubelet.c_str(), 1);
    ::setenv("KDR_SANDBOX_LIB", f.sandbox_lib.c_str(), 1);
    std::vector<const char*> argv = {"bash", f.script.c_str()};
    if (*keep) argv.push_back("--keep");
    argv.push_back(nullptr);
    std::fflush(stdout);
    ::execvp("bash", const_cast<char* const*>(argv.data()));
    throw core::Error(fmt::format("kdr demo: cannot run bash: {}", std::strerror(errno)));
  };
  return c;
}

}  // namespace kdr::cli
