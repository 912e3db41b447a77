#include "core/generation_auth.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/sha256.hpp"

namespace kdr::core {

std::string_view to_string(AuthStatus status) {
  switch (status) {
    case AuthStatus::authentic: return "authentic";
    case AuthStatus::no_key: return "no-key";
    case AuthStatus::unsigned_: return "unsigned";
    case AuthStatus::other_key: return "other-key";
    case AuthStatus::forged: return "forged";
  }
  return "?";
}

std::string generation_auth_message(const std::string& id, const std::string& meta_sha256,
                                    const std::string& manifest_sha256, const std::string& sums_sha256) {
  return fmt::format("kdr generation v1\n{}\n{}\n{}\n{}\n", id, meta_sha256, manifest_sha256, sums_sha256);
}

void write_generation_auth(const bfs::path& dir, const std::string& id, const NodeKey& key) {
  const auto message = generation_auth_message(id, sha256_hex(read_backup_file(dir / "meta.json")),
                                               sha256_hex(read_backup_file(dir / "manifest.jsonl")),
                                               sha256_hex(read_backup_file(dir / "SHA256SUMS")));
  const nlohmann::json j{{"kdr_auth", 1}, {"key_id", key.id()}, {"hmac", key.mac_hex(message)}};
  write_file_atomic(dir / generation_auth_file, j.dump() + "\n", 0600);
}

GenerationAuth authenticate_generation(const bfs::path& dir, const std::string& id, const std::string& meta_sha256,
                                       const std::string& manifest_sha256, const NodeKey* key) {
  GenerationAuth out;
  const auto file = dir / generation_auth_file;
  if (!lstat_path(file)) {
    out.status = AuthStatus::unsigned_;
    out.text = "has no AUTH: nothing vouches that this node wrote it (made by a kdr that did not authenticate generations yet, or AUTH was removed)";
    return out;
  }
  std::string mac;
  try {
    const auto j = nlohmann::json::parse(read_backup_file(file, 4096));
    if (!j.is_object() || j.value("kdr_auth", 0) != 1 || !j.contains("key_id") || !j["key_id"].is_string() ||
        !j.contains("hmac") || !j["hmac"].is_string())
      throw Error("not kdr's AUTH format 1");
    out.key_id = j["key_id"].get<std::string>();
    mac = j["hmac"].get<std::string>();
  } catch (const std::exception& e) {
    out.status = AuthStatus::forged;
    out.text = fmt::format("AUTH cannot be read ({}): refused", e.what());
    return out;
  }
  if (!key) {
    out.status = AuthStatus::no_key;
    out.text = fmt::format("made with key {}, and this machine has no key to check it with", out.key_id);
    return out;
  }
  if (out.key_id != key->id()) {
    out.status = AuthStatus::other_key;
    out.text = fmt::format("made with key {}, not this node's key {}: another node's generation, a key this node no longer has, or a "
        "forgery",
                           out.key_id, key->id());
    return out;
  }
  std::string sums_sha256;
  try {
    sums_sha256 = sha256_hex(read_backup_file(dir / "SHA256SUMS"));
  } catch (const Error& e) {
    out.status = AuthStatus::forged;
    out.text = fmt::format("SHA256SUMS cannot be read ({}): refused", e.what());
    return out;
  }
  if (!key->check_hex(generation_auth_message(id, meta_sha256, manifest_sha256, sums_sha256), mac)) {
    out.status = AuthStatus::forged;
    out.text = fmt::format(
        "its meta.json, manifest.jsonl or SHA256SUMS is not what this node's key {} vouched for: changed after the "
        "backup, or forged; refused",
        key->id());
    return out;
  }
  out.status = AuthStatus::authentic;
  out.text = fmt::format("authenticated with this node's key {}", key->id());
  return out;
}

GenerationAuth authenticate_listed_generation(const bfs::path& dir, const std::string& id,
                                              const std::string& meta_sha256, const NodeKey* key) {
  std::string manifest_sha256;
  try {
    manifest_sha256 = sha256_hex(read_backup_file(dir / "manifest.jsonl"));
  } catch (const Error&) {
    // no manifest: the MAC cannot match
  }
  return authenticate_generation(dir, id, meta_sha256, manifest_sha256, key);
}

}  // namespace kdr::core
