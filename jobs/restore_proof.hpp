// The last restore test of each generation, kept beside it in the backup folder
// (restore-tests/<id>.json, 0600) and signed under the node's key: a proof written by whoever
// can write the backup disk, not by this node's kdr, is said to be forged and never counts
// (it would otherwise silence the schedule that tests the backups).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/context.hpp"
#include "core/generation_auth.hpp"
#include "core/node_key.hpp"
#include "core/repository.hpp"

namespace kdr::jobs {

struct RestoreProof {
  std::string generation;
  std::string point;  // what was restored
  std::int64_t revision = 0;
  std::int64_t time = 0;  // when the test ran (epoch seconds)
  bool success = false;
  double duration_s = 0;
  std::uint64_t keys = 0, objects = 0, secrets = 0;
  std::string failure;  // the first error, when it failed
  core::AuthStatus auth = core::AuthStatus::authentic;  // as read back
  std::string auth_text;

  // "proven 2026-12-05T01:02:03Z (revision 4711, 1,234 objects, 12 Secrets, 3.1 s)",
  // "FAILED 2026-12-05T...: <failure>", "forged: ..."
  std::string text() const;
  nlohmann::json to_json() const;
};

// Signs and writes `proof`; nothing when there is no node key (said on ctx.out).
void save_proof(const core::Context& ctx, const RestoreProof& proof);

// The proof of generation `id`, its signature checked (auth); empty when it has none.
std::optional<RestoreProof> read_proof(const core::Context& ctx, const std::string& id);
// ... with the key already loaded (none: every proof is no_key), for a list of them.
std::optional<RestoreProof> read_proof(const core::Repository& repo, const std::string& id, const core::NodeKey* key);

// The newest authentic proof of any generation, and the newest that succeeded.
struct ProofHistory {
  std::optional<RestoreProof> last, last_success;
};
ProofHistory proof_history(const core::Context& ctx);

}  // namespace kdr::jobs
