// `kdr verify --restore-test [POINT]`: a point of the backup proven restorable, between
// incidents, the way a restore would bring it back, off the node:
//   1. the point made (a generation's snapshot, or the journal replayed over the newest full
//      snapshot before it, checked against the journal's digest: etcd/replay.hpp);
//   2. restored with etcdutl/etcdctl and started as a private etcd (unix sockets in a 0700
//      folder on the backup disk: never the node's etcd, data dir or ports);
//   3. what that etcd serves read back whole: etcd's HashKV against the one the backup
//      recorded from the live member (etcd 3.5: jobs/restore_test.cpp says when it cannot);
//      then etcd stopped and the database file it served read off the disk, proven to be what
//      it served by etcd's own hashes (HashKV, or Hash on 3.4: etcd/backend_hash.hpp); its
//      keyspace digest against the journal's at that revision (else its HashKV against the
//      snapshot file's own), every Kubernetes object decoded (JSON ones checked, not built)
//      and every encrypted value decrypted with the generation's EncryptionConfiguration,
//      counted per resource;
//   4. everything it made removed; the outcome kept as the generation's proof
//      (jobs/restore_proof.hpp) and as metrics (kdr_restore_test.prom).
// A failure is an error finding naming what failed: the key, the object, the encryption key,
// or the digest.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/context.hpp"
#include "core/exit_codes.hpp"
#include "verify/findings.hpp"

namespace kdr::jobs {

struct RestoreTestOptions {
  // latest (the newest generation and the journal to its end), a generation id, a revision,
  // or an RFC 3339 time
  std::string point = "latest";
  bool caller_holds_lock = false;  // a backup's run: under its exclusive lock
};

struct RestoreTestReport {
  std::string point;       // as asked
  std::string point_text;  // what it is: "generation X (etcd revision N, time)", "revision N of the journal ..."
  std::string generation;  // the generation it rests on (its proof is kept under it)
  std::int64_t revision = 0;
  std::int64_t started = 0;  // epoch seconds
  double make_s = 0;         // the point made (copied, or replayed from the journal)
  double restore_s = 0;      // snapshot restore and the private etcd serving it
  double check_s = 0;        // everything read back, decoded and decrypted
  double duration_s = 0;     // all of it, cleanup included
  std::uint64_t keys = 0;
  std::uint64_t objects = 0;        // Kubernetes objects decoded in full
  std::uint64_t secrets = 0;        // Secrets among them
  std::uint64_t encrypted = 0;      // values encrypted at rest, decrypted
  std::uint64_t kms = 0;            // values of a KMS provider (not checked offline)
  std::uint64_t unknown_types = 0;  // protobuf of a type kdr's schema lacks
  std::uint64_t other_keys = 0;     // values that are not Kubernetes objects
  std::map<std::string, std::uint64_t> per_resource;  // "deployments.apps" -> objects
  std::string digest_check;  // what the keyspace was checked against, and the outcome
  std::string hashkv_check;
  std::string served_check;  // the file read against what etcd said of it while it served
  verify::Findings findings;

  bool success() const { return findings.count(verify::Severity::error) == 0; }
  core::ExitCode exit_code() const;
  nlohmann::json to_json() const;
};

// Throws UsageError for a point that is not one (live), Error(no_backup) when there is nothing
// to test; everything that fails during the test is a finding of the report.
RestoreTestReport run_restore_test(const core::Context& ctx, const RestoreTestOptions& options);

void print_restore_test(const core::Context& ctx, const RestoreTestReport& report);

// kdr_restore_test.prom: the outcome, when the last one succeeded, how long it took, what it
// checked.
void write_restore_test_metrics(const core::Context& ctx, const RestoreTestReport& report);

// Whether a backup run should prove the newest point now: verify.restore_test_hours is set and
// no authentic proof is younger than that.
bool restore_test_due(const core::Context& ctx);

}  // namespace kdr::jobs
