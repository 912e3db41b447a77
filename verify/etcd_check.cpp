#include "verify/etcd_check.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/zstd_file.hpp"
#include "etcd/tool.hpp"

namespace kdr::verify {

namespace {

constexpr const char* etcd_check_name = "etcd";

}  // namespace

EtcdCheck check_etcd_snapshot(const core::Context& ctx, const GenerationView& g, Findings& findings,
                              const std::function<void(const core::bfs::path&)>& with_snapshot) {
  EtcdCheck check;
  const auto& etcd = g.meta.etcd;
  if (!etcd.snapshot && etcd.journal) {
    const auto& j = *etcd.journal;
    check.journal_revision = j.revision;
    check.journal_base = j.base_generation;
    if (!core::lstat_path(ctx.backup_dir / "journal" / fmt::format("epoch-{:06}", j.epoch)))
      findings.add(Severity::error, etcd_check_name, "journal-missing", "etcd/",
                   fmt::format("this generation's etcd is revision {} of the change journal's epoch {}, which is not "
                               "in {} any more",
                               j.revision, j.epoch, (ctx.backup_dir / "journal").string()));
    return check;
  }
  if (!etcd.snapshot) {
    if (etcd.snapshot_disabled)
      findings.add(Severity::warning, etcd_check_name, "no-snapshot", "etcd/",
                   "snapshots are disabled (etcd.snapshot: false): only the raw data dir copy, which may be torn");
    else
      findings.add(Severity::error, etcd_check_name, "no-snapshot", "etcd/",
                   fmt::format("this generation has no consistent etcd snapshot: {}",
                               etcd.snapshot_error.empty() ? std::string("not recorded") : etcd.snapshot_error));
    return check;
  }
  check.has_snapshot = true;
  if (const auto problem = etcd.snapshot_member_problem(); !problem.empty())
    findings.add(Severity::warning, etcd_check_name, "member", "etcd/", problem);
  const auto& snap = *etcd.snapshot;
  const std::string file = snap.file;
  auto path = g.dir / file;
  if (!core::lstat_path(path)) {
    findings.add(Severity::error, etcd_check_name, "missing", file, "the snapshot file is missing");
    return check;
  }
  try {
    std::optional<core::ScratchDir> scratch;
    if (snap.compression == "zstd") {
      scratch.emplace("verify");
      const auto plain = scratch->path() / "snapshot.db";
      core::zstd_decompress_file(path, plain);
      path = plain;
    }
    const auto trailer = etcd::check_snapshot_trailer(path);
    if (!trailer.ok) {
      findings.add(Severity::error, etcd_check_name, "trailer", file, trailer.problem);
      return check;
    }
    if (trailer.file_sha256 != snap.db_sha256) {
      findings.add(Severity::error, etcd_check_name, "content", file, "the snapshot differs from the one recorded at backup time");
      return check;
    }
    etcd::SnapshotFacts facts;
    try {
      facts = etcd::read_snapshot_facts(path);
    } catch (const core::Error& e) {
      findings.add(Severity::error, etcd_check_name, "structure", file, e.what());
      return check;
    }
    check.revision = facts.revision;
    check.total_keys = facts.total_keys;
    const auto want_rev = snap.revision;
    const auto want_keys = snap.total_keys;
    if (check.revision != want_rev || check.total_keys != want_keys) {
      findings.add(Severity::error, etcd_check_name, "structure", file,
                   fmt::format("the database reads revision {} with {} key revisions; the backup recorded revision {} "
                               "with {}",
                               check.revision, check.total_keys, want_rev, want_keys));
      return check;
    }
    check.snapshot_ok = true;
    if (with_snapshot) with_snapshot(path);
  } catch (const core::Error& e) {
    findings.add(Severity::error, etcd_check_name, "unreadable", file, e.what());
  }
  return check;
}

}  // namespace kdr::verify
