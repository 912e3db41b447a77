#include "verify/verify.hpp"

#include <algorithm>
#include <map>

#include "core/clock.hpp"
#include "core/control_plane.hpp"
#include "core/error.hpp"
#include "core/node_key.hpp"
#include "core/repository.hpp"
#include "etcd/layout.hpp"
#include "etcd/tool.hpp"
#include "verify/authentication.hpp"
#include "verify/encryption_check.hpp"

namespace kdr::verify {

namespace {

bool any_error_under(const Findings& f, std::string_view check, const std::string& dir) {
  for (const auto& x : f.all())
    if (x.severity == Severity::error && x.check == check &&
        (x.path == dir || x.path.rfind(dir + "/", 0) == 0))
      return true;
  return false;
}

const core::SourceStats* source(const core::GenerationMeta& m, const std::string& path) {
  for (const auto& s : m.sources)
    if (s.path == path) return &s;
  return nullptr;
}

bool any_of_kind(const Findings& f, std::string_view check, std::initializer_list<std::string_view> kinds) {
  for (const auto& x : f.all())
    if (x.severity == Severity::error && x.check == check &&
        std::find(kinds.begin(), kinds.end(), x.kind) != kinds.end())
      return true;
  return false;
}

// The closing "Next:": the playbook and the command for what was found, in the order of
// docs/runbook.md's table (files first: an etcd without its certificates does not answer).
std::string next_step(const core::Context& ctx, const GenerationView& g, const VerifyReport& r,
                      const std::map<std::string, std::pair<std::size_t, std::size_t>>& by_check) {
  const auto& f = r.findings;
  const auto errors = [&](const char* check) { return by_check.count(check) ? by_check.at(check).first : 0; };
  const auto kdr = core::describe_argv(core::kdr_argv(ctx));
  const auto restore = [&](const std::string& playbook, const std::string& more = "") {
    return fmt::format("{} restore {} -g {}{}", kdr, playbook, g.id, more);
  };
  const bool files_damaged = any_error_under(f, "live", "/etc/kubernetes");
  const bool etcd_broken = any_of_kind(f, "live-etcd", {"down", "db-shrunk"});
  const auto etcd_restore = r.etcd.snapshot_ok || r.etcd.journal_revision ? restore("restore-etcd-snapshot")
                                               : restore("restore-etcd-snapshot", " --set etcd_source=raw") +
                                                     " (this generation has no checked snapshot: an older one with "
                                                     "a snapshot is the safer choice, kdr list)";
  if (errors("integrity") > 0)
    return "do not restore from this generation: check an older one (kdr list; kdr verify <id>), then take a new "
           "backup (kdr backup) and find what damaged this one";
  if (files_damaged && etcd_broken)
    return fmt::format("files under /etc/kubernetes are missing or changed and etcd does not work: first put the "
                       "files back (files only, etcd's data is kept): {}; then verify again, and if etcd still "
                       "fails: {}",
                       restore("restore-files"), etcd_restore);
  if (files_damaged)
    return fmt::format("files under /etc/kubernetes are missing or changed: if that is damage, put them back (files "
                       "only, etcd's data is kept): {}; if the change is intended, take a new backup (kdr backup)",
                       restore("restore-files"));
  if (etcd_broken)
    return fmt::format("etcd does not work ({}): restore it: {}",
                       any_of_kind(f, "live-etcd", {"db-shrunk"}) ? "its database is damaged" : "it does not answer",
                       etcd_restore);
  if (any_of_kind(f, "live-etcd", {"data-dir-lost"}))
    return fmt::format("etcd started afresh on an empty data dir: restore all of etcd (with the change journal, to its "
                       "last revision; the plan counts what is lost): {}",
                       restore("restore-etcd-snapshot", " --set accept_loss=true"));
  if (any_of_kind(f, "live-etcd", {"keys-missing"}))
    return fmt::format("etcd lost most of its keys since the backup: to put back only what was deleted (a namespace, "
                       "some objects) with the cluster running: {}; to roll all of etcd back to this generation (what "
                       "was written since is lost, and counted in the plan): {}",
                       restore("restore-etcd-keys", " --set namespace=NAME"),
                       restore("restore-etcd-snapshot", " --set accept_loss=true"));
  if (errors("etcd") > 0)
    return fmt::format("its files are whole: {} puts /etc/kubernetes back from it (--set etcd=raw: etcd's raw data "
                       "dir too, which may be torn). For etcd at a consistent point in time use a generation with a "
                       "checked snapshot (kdr list), and find why this one has none{}",
                       restore("restore-files"),
                       g.meta.status == core::GenerationStatus::partial ? " (" + core::partial_reason(g.meta) + ")"
                                                                        : std::string());
  if (errors("certificates") > 0)
    return "renew the certificates before relying on a restore (kubeadm certs renew all), then kdr backup";
  if (errors("live") > 0)
    return "the node's files changed since this backup: if the change is intended, run kdr backup; if it is damage, "
           "restore this generation";
  if (f.any_problem()) return "read the warnings above; the generation can be restored";
  return fmt::format("nothing to do: generation {} is whole and can be restored", g.id);
}

void summarize(const core::Context& ctx, const GenerationView& g, VerifyReport& r) {
  const auto& f = r.findings;
  const auto etcd_dir = etcd_data_dir_of(g, ctx.config);
  // What it can restore
  if (r.etcd.snapshot_ok) {
    r.can_restore.push_back(fmt::format("etcd from a consistent snapshot at revision {} with {}", r.etcd.revision,
                                        etcd::snapshot_keys_text(*g.meta.etcd.snapshot)));
  }
  else if (r.etcd.journal_revision && r.findings.count("etcd", "journal-missing") == 0)
    r.can_restore.push_back(fmt::format("etcd at revision {} through the change journal (replayed from generation {}'s "
                                        "snapshot; kdr journal verify checks the journal)",
                                        *r.etcd.journal_revision, r.etcd.journal_base));
  else if (!etcd_dir.empty() && source(g.meta, etcd_dir) != nullptr && !any_error_under(f, "integrity", etcd_dir))
    r.can_restore.push_back(fmt::format("etcd only from the raw copy of {} (no checked snapshot; it may be torn)", etcd_dir));
  if (const auto* k = source(g.meta, "/etc/kubernetes"); k != nullptr && !any_error_under(f, "integrity", "/etc/kubernetes")) {
    // The service-account key where kube-apiserver's flags say, kubeadm's place otherwise.
    const auto pki = core::apiserver_pki(core::scan_static_pods(core::NodeRoot(g.dir / "files"), ctx.config.static_pod_path));
    const auto sa_key = pki.service_account_key.value_or("/etc/kubernetes/pki/sa.key");
    const bool sa = g.manifest && g.manifest->index().count(sa_key) != 0;
    r.can_restore.push_back(fmt::format("/etc/kubernetes complete: {} files (PKI{}, kubeconfigs, static pod manifests)",
                                        k->files, sa ? " with " + sa_key : ", but no service-account key " + sa_key));
  }
  for (const auto& s : g.meta.sources)
    if (s.path != etcd_dir && s.path != "/etc/kubernetes" && s.present && s.files + s.symlinks > 0 &&
        !any_error_under(f, "integrity", s.path))
      r.can_restore.push_back(fmt::format("{} ({} file(s), {} symlink(s))", s.path, s.files, s.symlinks));
  if (!g.meta.node.kubeadm_config.empty())
    r.can_restore.push_back("the cluster's kubeadm configuration, for kubeadm init --config");

  // What is wrong, by check
  std::map<std::string, std::pair<std::size_t, std::size_t>> by_check;  // errors, warnings
  for (const auto& x : f.all()) {
    if (x.severity == Severity::error) ++by_check[x.check].first;
    if (x.severity == Severity::warning) ++by_check[x.check].second;
  }
  static const std::map<std::string, std::string> what = {
      {"integrity", "the generation itself is damaged (it no longer matches its manifest)"},
      {"live", "the node differs from the backup beyond what etcd changes by itself"},
      {"etcd", "the etcd snapshot cannot be trusted or is missing"},
      {"live-etcd", "the node's etcd does not answer, or no longer holds what the backup held"},
      {"certificates", "certificates are expired or about to expire"},
      {"authentication", "nothing proves that this node wrote this generation"}};
  for (const auto& [check, n] : by_check)
    r.problems.push_back(fmt::format("{}: {} error(s), {} warning(s)", what.count(check) ? what.at(check) : check,
                                     n.first, n.second));

  r.next = next_step(ctx, g, r, by_check);
}

// What the backup (and, checked against the node, the node now) found wrong with how etcd is
// laid out: e.g. a --data-dir that no hostPath volume mounts.
void check_etcd_layout(const core::Context& ctx, const GenerationView& g, bool live, Findings& findings) {
  std::vector<std::string> problems;
  if (const auto& layout = g.meta.node.etcd)
    for (const auto& p : layout->raw.value("problems", nlohmann::json::array()))
      if (p.is_string()) problems.push_back(p.get<std::string>());
  if (live) {
    const auto layout =
        etcd::detect_etcd_layout(ctx.config, ctx.root, core::scan_static_pods(ctx.root, ctx.config.static_pod_path));
    for (const auto& p : layout.problems)
      if (std::find(problems.begin(), problems.end(), p) == problems.end()) problems.push_back(p);
  }
  for (const auto& p : problems) findings.add(Severity::warning, "etcd", "layout", "etcd", p);
}

}  // namespace

core::ExitCode VerifyReport::exit_code() const {
  return findings.any_problem() ? core::ExitCode::findings : core::ExitCode::ok;
}

nlohmann::json VerifyReport::to_json() const {
  auto items = nlohmann::json::array();
  for (const auto& x : findings.all()) items.push_back(verify::to_json(x));
  nlohmann::json checks = {
      {"integrity", {{"entries", integrity.entries}, {"files_hashed", integrity.files_hashed}, {"bytes_hashed", integrity.bytes_hashed}}},
      {"etcd", {{"has_snapshot", etcd.has_snapshot}, {"snapshot_ok", etcd.snapshot_ok}, {"revision", etcd.revision}, {"total_keys", etcd.total_keys},
                {"journal_revision", etcd.journal_revision ? nlohmann::json(*etcd.journal_revision) : nlohmann::json(nullptr)}}},
      {"certificates", {{"checked", certificates.checked}}},
      {"authentication", {{"status", core::to_string(authentication.status)}, {"key_id", authentication.key_id},
                          {"detail", authentication.text}}},
  };
  if (journal)
    checks["journal"] = {{"epochs", journal->epochs}, {"gaps", journal->gaps}, {"position", journal->position},
                         {"follower_running", journal->follower_running}};
  if (certificates.earliest)
    checks["certificates"]["earliest"] = {{"where", certificates.earliest->where}, {"path", certificates.earliest->path},
                                          {"subject", certificates.earliest->subject},
                                          {"not_after", core::iso_time(certificates.earliest->not_after)}};
  if (live)
    checks["live"] = {{"identical", live->identical}, {"content_differs", live->content_differs},
                      {"metadata_differs", live->metadata_differs}, {"only_in_backup", live->only_in_backup},
                      {"only_on_node", live->only_on_node}, {"expected_etcd_changes", live->expected_etcd}};
  if (live_etcd) checks["live_etcd"] = live_etcd->to_json();
  if (encryption) checks["encryption"] = encryption->to_json();
  return {{"generation", generation},
          {"generation_status", status},
          {"counts", {{"error", findings.count(Severity::error)}, {"warning", findings.count(Severity::warning)},
                      {"info", findings.count(Severity::info)}}},
          {"findings", items},
          {"checks", checks},
          {"summary", {{"can_restore", can_restore}, {"problems", problems}, {"next", next}}},
          {"duration_s", duration_s},
          {"exit_code", core::to_int(exit_code())}};
}

namespace {

// What `kdr show` and `kdr list` say about the last verify; the findings themselves are
// printed by verify and not kept.
void save_result(const core::Repository& repo, const VerifyReport& r, const VerifyOptions& options) {
  const nlohmann::json j = {{"generation", r.generation},
                            {"time", core::iso_time(core::now_epoch())},
                            {"exit_code", core::to_int(r.exit_code())},
                            {"checks", options.live_only ? "live only" : options.live ? "all" : "all but live"},
                            {"errors", r.findings.count(Severity::error)},
                            {"warnings", r.findings.count(Severity::warning)},
                            {"can_restore", r.can_restore},
                            {"problems", r.problems},
                            {"next", r.next},
                            {"encryption", r.encryption ? nlohmann::json(r.encryption->text()) : nlohmann::json(nullptr)}};
  const auto file = repo.verify_result_path(r.generation);
  core::make_dir(file.parent_path(), 0700);
  core::write_file_atomic(file, j.dump(2) + "\n", 0600);
}

}  // namespace

VerifyReport run_verify(const core::Context& ctx, const VerifyOptions& options) {
  const double t0 = core::monotonic_seconds();
  auto repo = core::Repository::open(ctx.backup_dir);
  // shared: retention cannot remove the generation while it is read (backup --verify keeps
  // the backup's exclusive lock instead: nothing slips in between)
  std::optional<core::RepositoryLock> lock;
  if (!options.caller_holds_lock) lock.emplace(repo.read_lock(ctx.out));
  const auto entry = repo.find(options.generation);
  if (!entry.meta)
    throw core::Error(fmt::format("generation {}: {}", entry.id, entry.problem), core::ExitCode::failed);
  VerifyReport r;
  r.generation = entry.id;
  r.status = std::string(core::to_string(entry.meta->status));
  r.generation_time = entry.meta->time;
  const auto g = load_generation(entry.id, entry.path, *entry.meta, entry.meta_sha256, r.findings);
  const auto key = core::load_node_key(options.key_file.empty() ? core::node_key_file(ctx) : core::bfs::path(options.key_file));
  r.authentication = check_authentication(g, key ? &*key : nullptr, r.findings);
  if (!options.live_only) {
    ctx.out.detail("verify {}: integrity", g.id);
    std::uint64_t to_hash = 0;
    if (g.manifest)
      for (const auto& e : g.manifest->entries) to_hash += e.size;
    core::Progress progress(ctx.out, "verifying", to_hash);
    r.integrity = check_integrity(g, etcd_data_dir_of(g, ctx.config), r.findings, &progress);
  }
  if (options.live || options.live_only) {
    ctx.out.detail("verify {}: against the live node under {}", g.id, ctx.root.root().string());
    r.live = check_live(ctx, g, r.findings);
    ctx.out.detail("verify {}: the live etcd", g.id);
    r.live_etcd = check_etcd_live(ctx, g, r.findings);
  }
  if (!options.live_only) {
    ctx.out.detail("verify {}: etcd snapshot", g.id);
    bool encryption_checked = false;
    r.etcd = check_etcd_snapshot(ctx, g, r.findings, [&](const core::bfs::path& db) {
      ctx.out.detail("verify {}: encrypted values", g.id);
      r.encryption = check_encryption(ctx, g, options.live, &db, r.findings);
      encryption_checked = true;
    });
    if (!encryption_checked) r.encryption = check_encryption(ctx, g, options.live, nullptr, r.findings);
    check_etcd_layout(ctx, g, options.live, r.findings);
    ctx.out.detail("verify {}: certificates", g.id);
    r.certificates = check_certificates(ctx, g, options.live, core::now_epoch(), r.findings);
  }
  ctx.out.detail("verify: the change journal");
  r.journal = check_journal(ctx, options.live || options.live_only, key ? &*key : nullptr, r.findings);
  summarize(ctx, g, r);
  r.duration_s = core::monotonic_seconds() - t0;
  try {
    save_result(repo, r, options);
  } catch (const core::Error& e) {
    // The verdict stands: a backup disk that filled up must still be checkable.
    ctx.out.warn("this verify's result could not be kept for kdr list and kdr show ({}){}", e.what(),
                 core::is_disk_full(e) ? ": the backup disk is full; free space or lower retention" : "");
  }
  return r;
}

void print_report(const core::Context& ctx, const VerifyReport& r) {
  if (ctx.out.json()) {
    ctx.out.raw(r.to_json().dump(2));
    return;
  }
  if (ctx.out.verbosity() == core::Verbosity::quiet) {
    // -q keeps warnings and errors, one line each on stderr: `kdr -q backup --verify 2>&1 |
    // logger` logs every problem, and nothing when there is none.
    for (const auto& x : r.findings.all()) {
      const auto text = fmt::format("verify {}: [{} {}] {}: {}", r.generation, x.check, x.kind, x.path, x.detail);
      if (x.severity == Severity::error) ctx.out.error(text);
      else if (x.severity == Severity::warning) ctx.out.warn("{}", text);
    }
    if (r.findings.count(Severity::error) > 0) ctx.out.error(fmt::format("verify {}: next: {}", r.generation, r.next));
    return;
  }
  ctx.out.info("kdr verify: generation {} ({}, taken {})", r.generation, r.status, core::iso_time(r.generation_time));
  for (auto sev : {Severity::error, Severity::warning}) {
    const auto n = r.findings.count(sev);
    if (n == 0) continue;
    ctx.out.info("");
    ctx.out.info("{} ({}):", sev == Severity::error ? "ERRORS" : "WARNINGS", n);
    for (const auto& x : r.findings.all())
      if (x.severity == sev) ctx.out.info("  [{} {}] {}: {}", x.check, x.kind, x.path, x.detail);
  }
  if (const auto n = r.findings.count(Severity::info); n > 0) {
    ctx.out.info("");
    ctx.out.info("EXPECTED ({}): etcd's own files moved on after the backup (use -v to list them)", n);
    if (ctx.out.verbosity() == core::Verbosity::verbose)
      for (const auto& x : r.findings.all())
        if (x.severity == Severity::info) ctx.out.info("  [{} {}] {}: {}", x.check, x.kind, x.path, x.detail);
  }
  ctx.out.info("");
  ctx.out.info("Checked: {} entries, {} files re-hashed ({:.1f} MiB){}; {} certificates{}.", r.integrity.entries,
               r.integrity.files_hashed, static_cast<double>(r.integrity.bytes_hashed) / 1048576.0,
               r.live ? fmt::format("; against the node: {} identical, {} content differs, {} metadata differs, {} only "
                                    "in backup, {} only on node",
                                    r.live->identical, r.live->content_differs, r.live->metadata_differs,
                                    r.live->only_in_backup, r.live->only_on_node)
                      : std::string("; live comparison skipped"),
               r.certificates.checked,
               r.certificates.earliest ? fmt::format(", the first expires {} ({})", core::iso_time(r.certificates.earliest->not_after),
                                                     r.certificates.earliest->path)
                                       : std::string());
  ctx.out.info("Authentication: {} ({}).", r.authentication.text, core::to_string(r.authentication.status));
  ctx.out.info("");
  ctx.out.info("This generation can restore:");
  for (const auto& c : r.can_restore) ctx.out.info("  - {}", c);
  if (!r.problems.empty()) {
    ctx.out.info("What is wrong:");
    for (const auto& p : r.problems) ctx.out.info("  - {}", p);
  }
  ctx.out.info("Next: {}", r.next);
}

}  // namespace kdr::verify
