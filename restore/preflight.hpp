// The preflight's shared state and checks: what the preflight step (restore/steps/preflight.cpp)
// runs, and what every step type's own check (StepDef::check) adds to.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/context.hpp"
#include "core/generation_auth.hpp"
#include "core/node_key.hpp"
#include "restore/runner.hpp"

namespace kdr::restore {

// What the preflight found: refusals, warnings, and checks passed (printed as they pass, each
// once: two steps of one type check the same things); and the free space the steps need, per
// host folder.
struct ClusterAccess;

struct Preflight {
  const core::Context& ctx;
  std::vector<std::string> fails, warns;
  std::map<std::string, std::uint64_t> need;
  std::set<std::string> passed;
  bool other_nodes_checked = false;  // the `nodes:` entries were reached (restore/other_nodes.hpp)
  // The cluster as the etcd-member-* steps found it, by "via|cluster_id": asked once per
  // preflight (nullptr: it failed, and said why once).
  std::map<std::string, std::shared_ptr<const ClusterAccess>> cluster_looks = {};
  void ok(const std::string& what) {
    if (passed.insert(what).second) ctx.out.info("      ok    {}", what);
  }
};

// The key that checks what a restore reads: the file `key_file` names (a host path) when it is
// not empty, else the node's own. Empty when there is none; throws Error for an unsafe key
// file, or a `key_file` that names none.
std::optional<core::NodeKey> load_restore_key(const core::Context& ctx, const std::string& key_file);

// What vouches for `what` (a generation, the journal's changes): authentic passes; forged is
// refused; anything not known (no key here, none recorded, another key's) is refused unless
// key_file= gives the key that made it, or unauthenticated=true accepts it, which the journal
// records. True when authentic.
bool judge_authenticity(Runner& r, Preflight& pf, const std::string& what, core::AuthStatus status,
                        const std::string& text);

// The preflight's checks, all read-only: a dry run runs them too. Throws core::Error listing
// every problem when the real run would be refused.
void check_preflight(Runner& r);

}  // namespace kdr::restore
