// resign-generation KEYFILE GENERATION_DIR: a generation's AUTH written again with the key in
// KEYFILE over its meta.json, manifest.jsonl and SHA256SUMS as they are now. What a backup
// written wrong by the node itself would carry (a kdr with a bug, memory that flipped a bit):
// authentic, yet not what etcd held. For tests/scenarios/journal_base_recount.sh only.
// Exits 2 on error.
#include <cstdio>
#include <exception>
#include <string>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/generation_auth.hpp"
#include "core/node_key.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: resign-generation KEYFILE GENERATION_DIR\n");
    return 2;
  }
  try {
    const auto key = kdr::core::load_node_key(argv[1]);
    if (!key) throw kdr::core::Error(std::string("no key in ") + argv[1]);
    const kdr::core::bfs::path dir = argv[2];
    kdr::core::write_generation_auth(dir, dir.filename().string(), *key);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "resign-generation: %s\n", e.what());
    return 2;
  }
}
