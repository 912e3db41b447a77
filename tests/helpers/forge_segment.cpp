// forge-segment FILE FROM TO: what whoever can write the backup disk does to a change journal
// segment. Every event whose value is FROM gets the value TO; each record is framed again
// with its CRC-32 recomputed, and the seals are left as they are (they cannot be recomputed
// without the node's key). Prints how many events it changed; exits 1 when none, 2 on error.
// For tests/scenarios/forged_journal.sh only.
#include <cstdio>
#include <exception>
#include <string>

#include "core/fs.hpp"
#include "journal/record.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: forge-segment FILE FROM TO\n");
    return 2;
  }
  try {
    namespace journal = kdr::journal;
    const std::string file = argv[1], from = argv[2], to = argv[3];
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
