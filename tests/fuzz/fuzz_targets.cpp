// libFuzzer's entry point over every parser of operator- or disk-supplied text, one target
// per parser, chosen by name: KDR_FUZZ_TARGET in the environment for the libFuzzer binary
// (scripts/fuzz.sh), the first argument for the corpus replay (replay_main.cpp). One binary
// for all of them: one compile and one link instead of one per parser.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
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

using namespace kdr;

void parse_config(std::string_view text) {
  (void)core::parse_config(text, fuzz::origin);
}

void parse_playbook(std::string_view text) {
  (void)restore::parse_playbook(text, fuzz::origin);
}

void parse_static_pod(std::string_view text) {
  (void)core::parse_static_pod(text, fuzz::origin);
}

void parse_manifest(std::string_view text) {
  (void)core::Manifest::parse(text, fuzz::origin);
}

void parse_meta(std::string_view text) {
  (void)core::GenerationMeta::parse(text, fuzz::origin);
}

void parse_journal(std::string_view text) {
  (void)restore::summarize_journal(text, fuzz::origin);
}

void parse_segment(std::string_view text) {
  // A change journal segment's records, as the reader decodes them one after the other: a
  // record that does not decode is a status, never an exception.
  etcd::KeyspaceDigest digest;
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
}

void parse_bbolt(std::string_view text) {
  (void)etcd::read_bolt_bytes(std::string(text), fuzz::origin);
}

void parse_k8s_object(std::string_view text) {
  // A stored value as kube-apiserver wrote it (or anyone who could write etcd): decrypted with
  // fixed keys, its envelope opened, decoded, printed as YAML. Never an exception: a value that
  // cannot be read says why in `problem`.
  const auto& config = fuzz::k8s_encryption();
  k8s::DecodeOptions options;
  options.encryption = &config;
  const auto o = k8s::decode_stored("/registry/secrets/payments/db", text, 7, 3, options);
  (void)core::to_yaml(nlohmann::json::parse(o.object.dump()));
}

void parse_k8s_encryption(std::string_view text) {
  // The encryption envelope and every provider's decryption.
  (void)k8s::read_encrypted_envelope(text);
  (void)k8s::decrypt_value(text, "/registry/secrets/payments/db", &fuzz::k8s_encryption());
}

void parse_k8s_key(std::string_view text) {
  // An etcd key read as an object's place, and a resource name as a user types it.
  (void)k8s::parse_object_key(text, "/registry");
  (void)k8s::find_resource(text);
  (void)k8s::resource_suggestions(text.substr(0, 64));
}

void parse_wal(std::string_view text) {
  // A stopped etcd member's WAL, read offline: never an exception, every record bounds-checked.
  etcd::MemberData d;
  etcd::read_wal({std::string(text)}, {fuzz::origin}, d);
}

struct Target {
  const char* name;
  void (*parse)(std::string_view);
};

constexpr Target targets[] = {
    {"config", parse_config},
    {"playbook", parse_playbook},
    {"static_pod", parse_static_pod},
    {"manifest", parse_manifest},
    {"meta", parse_meta},
    {"journal", parse_journal},
    {"segment", parse_segment},
    {"bbolt", parse_bbolt},
    {"k8s_object", parse_k8s_object},
    {"k8s_encryption", parse_k8s_encryption},
    {"k8s_key", parse_k8s_key},
    {"wal", parse_wal},
};

void (*selected)(std::string_view) = nullptr;

}  // namespace

namespace kdr::fuzz {

bool select_target(const char* name) {
  for (const auto& t : targets)
    if (name != nullptr && std::strcmp(t.name, name) == 0) {
      selected = t.parse;
      return true;
    }
  std::fprintf(stderr, "unknown fuzz target '%s'; one of:", name != nullptr ? name : "");
  for (const auto& t : targets) std::fprintf(stderr, " %s", t.name);
  std::fprintf(stderr, "\n");
  return false;
}

}  // namespace kdr::fuzz

// libFuzzer calls this once before the first input: the target named by KDR_FUZZ_TARGET.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (!kdr::fuzz::select_target(std::getenv("KDR_FUZZ_TARGET"))) std::exit(2);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (selected == nullptr) std::abort();
  kdr::fuzz::expect_clear_rejection(data, size, selected);
  return 0;
}
