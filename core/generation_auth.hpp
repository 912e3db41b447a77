// A generation's authentication (docs/backup-format.md): generations/<id>/AUTH holds
//   {"kdr_auth": 1, "key_id": "<16 hex>", "hmac": "<64 hex>"}
// the HMAC-SHA256, under the node's key (core/node_key.hpp), of
//   "kdr generation v1\n" <id> "\n" sha256(meta.json) "\n" sha256(manifest.jsonl) "\n" sha256(SHA256SUMS) "\n"
// meta.json names the generation's own files with their hashes, manifest.jsonl every copied
// file with its hash, mode and owner: a generation that authenticates is, file by file, the
// one this node wrote, once its content checks pass.
#pragma once

#include <string>

#include "core/fs.hpp"
#include "core/node_key.hpp"

namespace kdr::core {

inline constexpr const char* generation_auth_file = "AUTH";

enum class AuthStatus {
  authentic,  // the MAC is this node's key's, over exactly these files
  no_key,     // this machine has no key to check it with (a replacement machine): not known
  unsigned_,  // no AUTH (written before kdr authenticated generations, or removed): not known
  other_key,  // made with another key (another node's, or a key this node no longer has)
  forged      // this node's key, but the files are not the ones it vouched for
};
std::string_view to_string(AuthStatus status);

struct GenerationAuth {
  AuthStatus status = AuthStatus::unsigned_;
  std::string key_id;  // the key the generation names, if any
  std::string text;    // one line for the operator: what was found
  bool authentic() const { return status == AuthStatus::authentic; }
  // forged: refused whatever the operator says. no_key, unsigned_ and other_key are not known
  // either way: a restore asks for the key that made it or an explicit unauthenticated=true.
  bool refused() const { return status == AuthStatus::forged; }
};

// The message the MAC covers.
std::string generation_auth_message(const std::string& id, const std::string& meta_sha256,
                                    const std::string& manifest_sha256, const std::string& sums_sha256);

// Writes AUTH into a generation being built, over its meta.json, manifest.jsonl and SHA256SUMS
// as they are on disk now.
void write_generation_auth(const bfs::path& dir, const std::string& id, const NodeKey& key);

// Checks a generation. meta_sha256 and manifest_sha256 are the hashes of the texts the caller
// parsed (so that what was checked is what is used); SHA256SUMS and AUTH are read here.
// `key` null: this machine has no key.
GenerationAuth authenticate_generation(const bfs::path& dir, const std::string& id, const std::string& meta_sha256,
                                       const std::string& manifest_sha256, const NodeKey* key);
// The same for a generation whose meta.json text alone was parsed (a Repository listing):
// its manifest.jsonl is read and hashed here (one that cannot be read cannot pass).
GenerationAuth authenticate_listed_generation(const bfs::path& dir, const std::string& id,
                                              const std::string& meta_sha256, const NodeKey* key);

}  // namespace kdr::core
