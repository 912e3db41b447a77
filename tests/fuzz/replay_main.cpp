// Runs every file of the given folders (or files) once through the named fuzz target: the
// committed corpus replayed by ctest in every build, without clang or libFuzzer.
//   fuzz_replay TARGET FOLDER|FILE...
#include <dirent.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
namespace kdr::fuzz {
bool select_target(const char* name);
}

namespace {

int run_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    return 1;
  }
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TARGET FOLDER|FILE...\n", argv[0]);
    return 2;
  }
  if (!kdr::fuzz::select_target(argv[1])) return 2;
  int failures = 0;
  std::size_t inputs = 0;
  for (int i = 2; i < argc; ++i) {
    struct stat st {};
    if (::stat(argv[i], &st) != 0) {
      std::fprintf(stderr, "no such input: %s\n", argv[i]);
      return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
      failures += run_file(argv[i]);
      ++inputs;
      continue;
    }
    DIR* dir = ::opendir(argv[i]);
    while (dirent* e = dir ? ::readdir(dir) : nullptr) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      failures += run_file(std::string(argv[i]) + "/" + name);
      ++inputs;
    }
    if (dir) ::closedir(dir);
  }
  std::printf("%zu inputs replayed, none crashed\n", inputs);
  return failures == 0 && inputs > 0 ? 0 : 1;
}
