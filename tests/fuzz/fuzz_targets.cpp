// libFuzzer entry points, one per parser of operator- or disk-supplied text. Built once per
// target with KDR_FUZZ_TARGET set (tests/fuzz/CMakeLists.txt).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <variant>

#include "etcd/bbolt.hpp"
#include "etcd/member_data.hpp"
#include "core/config.hpp"
#include "core/generation.hpp"
#include "core/manifest.hpp"
#include "core/static_pods.hpp"
#include "core/yaml_writer.hpp"
#include "journal/record.hpp"
#include "k8s/decode.hpp"
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
#elif KDR_FUZZ_TARGET == 7
  // A change journal segment's records, as the reader decodes them one after the other: a
  // record that does not decode is a status, never an exception.
  journal::KeyspaceDigest digest;
  std::size_t pos = text.rfind(journal::segment_magic, 0) == 0 || text.rfind(journal::segment_magic_unsealed, 0) == 0
                        ? journal::segment_magic.size()
                        : 0;
  while (pos < text.size()) {
    const auto d = journal::decode(text.substr(pos));
    if (d.status != journal::DecodeStatus::ok) break;
    if (d.size == 0 || d.size > text.size() - pos) std::abort();
    if (const auto* e = std::get_if<journal::Event>(&d.record)) (void)journal::apply_to_digest(*e, digest);
    pos += d.size;
  }
#elif KDR_FUZZ_TARGET == 8
  (void)core::read_bolt_bytes(std::string(text), origin);
#elif KDR_FUZZ_TARGET == 9
  // A stored value as kube-apiserver wrote it (or anyone who could write etcd): decrypted with
  // fixed keys, its envelope opened, decoded, printed as YAML. Never an exception: a value that
  // cannot be read says why in `problem`.
  const auto& config = fuzz::k8s_encryption();
  k8s::DecodeOptions options;
  options.encryption = &config;
  const auto o = k8s::decode_stored("/registry/secrets/payments/db", text, 7, 3, options);
  (void)core::to_yaml(nlohmann::json::parse(o.object.dump()));
#elif KDR_FUZZ_TARGET == 10
  // The encryption envelope and every provider's decryption.
  (void)k8s::read_encrypted_envelope(text);
  (void)k8s::decrypt_value(text, "/registry/secrets/payments/db", &fuzz::k8s_encryption());
#elif KDR_FUZZ_TARGET == 11
  // An etcd key read as an object's place, and a resource name as a user types it.
  (void)k8s::parse_object_key(text, "/registry");
  (void)k8s::find_resource(text);
  (void)k8s::resource_suggestions(text.substr(0, 64));
#elif KDR_FUZZ_TARGET == 12
  // A stopped etcd member's WAL, read offline: never an exception, every record bounds-checked.
  etcd::MemberData d;
  etcd::read_wal({std::string(text)}, {origin}, d);
#else
#error "KDR_FUZZ_TARGET must name a parser"
#endif
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kdr::fuzz::expect_clear_rejection(data, size, parse_one);
  return 0;
}
