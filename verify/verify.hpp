// `kdr verify [GENERATION]`: every check, every finding, and a closing summary in an
// operator's words: what the generation can restore, what is wrong, the next command.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/context.hpp"
#include "core/exit_codes.hpp"
#include "core/generation_auth.hpp"
#include "verify/certificates.hpp"
#include "verify/encryption_check.hpp"
#include "verify/etcd_check.hpp"
#include "verify/etcd_live.hpp"
#include "verify/findings.hpp"
#include "verify/integrity.hpp"
#include "verify/journal_check.hpp"
#include "verify/live.hpp"

namespace kdr::verify {

struct VerifyOptions {
  std::string generation = "latest";
  bool live = true;        // compare with the live node too
  bool live_only = false;  // only that comparison (no re-hashing of the generation)
  bool caller_holds_lock = false;  // backup --verify: under the backup's exclusive lock, kept
  std::string key_file;            // a host path: the key to authenticate with instead of the node's
};

struct VerifyReport {
  std::string generation;
  std::string status;  // the generation's own status (complete/partial)
  std::int64_t generation_time = 0;
  Findings findings;
  core::GenerationAuth authentication;
  IntegrityStats integrity;
  std::optional<LiveStats> live;
  std::optional<EtcdLiveFacts> live_etcd;  // what the node's etcd answered (live verify)
  EtcdCheck etcd;
  CertificateStats certificates;
  std::optional<EncryptionFacts> encryption;  // what decrypting the snapshot's values found
  std::optional<JournalFacts> journal;  // when the backup folder has a change journal
  std::vector<std::string> can_restore;  // the summary, in plain words
  std::vector<std::string> problems;
  std::string next;
  double duration_s = 0;
  core::ExitCode exit_code() const;
  nlohmann::json to_json() const;
};

VerifyReport run_verify(const core::Context& ctx, const VerifyOptions& options);

void print_report(const core::Context& ctx, const VerifyReport& report);

}  // namespace kdr::verify
