// forge-segment [--reseal KEYFILE] FILE FROM TO: what whoever can write the backup disk does to
// a change journal segment. Every event whose value is FROM gets the value TO; each record is
// framed again with its CRC-32 recomputed, and the seals are left as they are (they cannot be
// recomputed without the node's key). With --reseal, every seal is made again with the key in
// KEYFILE: a journal written wrong by the node itself (a follower with a bug, memory that
// flipped a bit), which only a replay checked against the journal's digests can catch.
// Prints how many events it changed; exits 1 when none, 2 on error.
// For tests/scenarios/forged_journal.sh and restore_test.sh only.
#include <cstdio>
#include <exception>
#include <optional>
#include <string>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/node_key.hpp"
#include "journal/record.hpp"

int main(int argc, char** argv) {
  int arg = 1;
  std::optional<kdr::core::NodeKey> key;
  try {
    if (argc == 6 && std::string(argv[1]) == "--reseal") {
      key = kdr::core::load_node_key(argv[2]);
      if (!key) throw kdr::core::Error(std::string("no key in ") + argv[2]);
      arg = 3;
    }
    if (argc - arg != 3) {
      std::fprintf(stderr, "usage: forge-segment [--reseal KEYFILE] FILE FROM TO\n");
      return 2;
    }
    namespace journal = kdr::journal;
    const std::string file = argv[arg], from = argv[arg + 1], to = argv[arg + 2];
    const auto bytes = kdr::core::read_file(file);
    const auto magic = journal::segment_magic.size();
    std::string out = bytes.substr(0, magic);
    int changed = 0;
    for (std::size_t pos = magic; pos < bytes.size();) {
      auto d = journal::decode(std::string_view(bytes).substr(pos));
      if (d.status != journal::DecodeStatus::ok) {
        out += bytes.substr(pos);  // a torn end stays as it is
        break;
      }
      if (auto* e = std::get_if<journal::Event>(&d.record); e != nullptr && e->value == from) {
        e->value = to;
        ++changed;
      }
      if (auto* s = std::get_if<journal::Seal>(&d.record); s != nullptr && key) {
        kdr::core::RunningMac mac(*key);
        mac.update(out);
        s->key_id = key->id();
        s->mac = mac.peek();
      }
      journal::encode_into(d.record, out);
      pos += d.size;
    }
    kdr::core::write_file_atomic(file, out, 0600);
    std::printf("%d\n", changed);
    return changed > 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "forge-segment: %s\n", e.what());
    return 2;
  }
}
