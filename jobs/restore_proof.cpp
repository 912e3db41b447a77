#include "jobs/restore_proof.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/generation.hpp"
#include "core/json_util.hpp"
#include "core/node_key.hpp"
#include "core/repository.hpp"

namespace kdr::jobs {

using nlohmann::json;

namespace {

// What the MAC covers: the record without its "auth", dumped the one way nlohmann does.
std::string signed_text(json record) {
  record.erase("auth");
  return "kdr-restore-proof-v1\n" + record.dump();
}

RestoreProof from_json(const json& j) {
  RestoreProof p;
  p.generation = core::json_text_or(j, "generation");
  p.point = core::json_text_or(j, "point");
  p.revision = j.value("revision", std::int64_t{0});
  p.time = j.value("time_epoch", std::int64_t{0});
  p.success = j.value("success", false);
  p.duration_s = j.value("duration_s", 0.0);
  p.keys = j.value("keys", std::uint64_t{0});
  p.objects = j.value("objects", std::uint64_t{0});
  p.secrets = j.value("secrets", std::uint64_t{0});
  p.failure = core::json_text_or(j, "failure");
  return p;
}

}  // namespace

json RestoreProof::to_json() const {
  json j = {{"generation", generation}, {"point", point},         {"revision", revision},
            {"time", core::iso_time(time)}, {"time_epoch", time}, {"success", success},
            {"duration_s", duration_s},     {"keys", keys},       {"objects", objects},
            {"secrets", secrets}};
  if (!failure.empty()) j["failure"] = failure;
  return j;
}

std::string RestoreProof::text() const {
  if (auth != core::AuthStatus::authentic) return fmt::format("not counted: {}", auth_text);
  if (!success) return fmt::format("FAILED {}: {}", core::iso_time(time), failure);
  return fmt::format("proven {} (revision {}, {} objects, {} Secrets, {:.1f} s)", core::iso_time(time), revision,
                     objects, secrets, duration_s);
}

void save_proof(const core::Context& ctx, const RestoreProof& proof) {
  const auto key = core::node_key_if_any(ctx);
  if (!key) {
    ctx.out.warn("no node key ({}): the restore test's proof is not kept", core::node_key_file(ctx).string());
    return;
  }
  auto record = proof.to_json();
  record["auth"] = {{"key_id", key->id()}, {"hmac", key->mac_hex(signed_text(record))}};
  const auto repo = core::Repository::open(ctx.backup_dir);
  const auto file = repo.restore_proof_path(proof.generation);
  core::make_dir(file.parent_path(), 0700);
  core::write_file_atomic(file, record.dump(2) + "\n", 0600);
}

std::optional<RestoreProof> read_proof(const core::Context& ctx, const std::string& id) {
  const auto key = core::node_key_if_any(ctx);
  return read_proof(core::Repository::open(ctx.backup_dir), id, key ? &*key : nullptr);
}

std::optional<RestoreProof> read_proof(const core::Repository& repo, const std::string& id, const core::NodeKey* key) {
  const auto file = repo.restore_proof_path(id);
  if (!core::lstat_path(file)) return std::nullopt;
  RestoreProof p;
  json j;
  try {
    j = json::parse(core::read_backup_file(file));
    p = from_json(j);
  } catch (const std::exception& e) {
    p.generation = id;
    p.auth = core::AuthStatus::forged;
    p.auth_text = fmt::format("{} does not read as a proof ({})", file.string(), e.what());
    return p;
  }
  const auto auth = j.value("auth", json::object());
  const auto key_id = core::json_text_or(auth, "key_id"), mac = core::json_text_or(auth, "hmac");
  if (!key) {
    p.auth = core::AuthStatus::no_key;
    p.auth_text = "this machine has no node key to check the proof with";
  } else if (mac.empty()) {
    p.auth = core::AuthStatus::unsigned_;
    p.auth_text = fmt::format("{} is not signed", file.string());
  } else if (key_id != key->id()) {
    p.auth = core::AuthStatus::other_key;
    p.auth_text = fmt::format("{} is signed with key {}, not this node's {}", file.string(), key_id, key->id());
  } else if (!key->check_hex(signed_text(j), mac) || p.generation != id) {
    p.auth = core::AuthStatus::forged;
    p.auth_text = fmt::format("{} does not match its signature: forged", file.string());
  }
  return p;
}

ProofHistory proof_history(const core::Context& ctx) {
  ProofHistory h;
  const auto repo = core::Repository::open(ctx.backup_dir);
  const auto key = core::node_key_if_any(ctx);
  for (const auto& g : repo.generations()) {
    const auto p = read_proof(repo, g.id, key ? &*key : nullptr);
    if (!p || p->auth != core::AuthStatus::authentic) continue;
    if (!h.last || p->time > h.last->time) h.last = p;
    if (p->success && (!h.last_success || p->time > h.last_success->time)) h.last_success = p;
  }
  return h;
}

}  // namespace kdr::jobs
