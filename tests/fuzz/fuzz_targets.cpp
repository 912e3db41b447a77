// libFuzzer entry points, one per parser of operator- or disk-supplied text. Built once per
// target with KDR_FUZZ_TARGET set (tests/fuzz/CMakeLists.txt).
#include <cstddef>
#include <cstdint>

#include "core/config.hpp"
#include "core/generation.hpp"
#include "core/manifest.hpp"
#include "core/static_pods.hpp"
#include "restore/journal.hpp"
#include "restore/playbook.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

void parse_one(std::string_view text) {
  using namespace kdr;
  const std::string origin = fuzz::origin;
#if KDR_FUZZ_TARGET == 1
  (void)core::parse_config(text, origin);
#elif KDR_FUZZ_TARGET == 2
  (void)restore::parse_playbook(text, origin);
#elif KDR_FUZZ_TARGET == 3
  (void)core::parse_static_pod(text, origin);
#elif KDR_FUZZ_TARGET == 4
  (void)core::Manifest::parse(text, origin);
#elif KDR_FUZZ_TARGET == 5
  (void)core::GenerationMeta::parse(text, origin);
#elif KDR_FUZZ_TARGET == 6
  (void)restore::summarize_journal(text, origin);
#else
#error "KDR_FUZZ_TARGET must name a parser"
#endif
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kdr::fuzz::expect_clear_rejection(data, size, parse_one);
  return 0;
}
