// kdr show [GENERATION]: one generation at a glance: what it holds, its etcd snapshot, its
// certificates, its last verify, and which playbooks can restore from it.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "cli/command.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/repository.hpp"
#include "etcd/layout.hpp"
#include "etcd/tool.hpp"
#include "jobs/restore_proof.hpp"
#include "restore/offer.hpp"
#include "verify/certificates.hpp"
#include "verify/integrity.hpp"

namespace kdr::cli {

using nlohmann::json;

namespace {

json read_json(const core::bfs::path& p) {
  try {
    return json::parse(core::read_file(p));
  } catch (const std::exception&) {
    return json();
  }
}

// What `kdr show` gathers about one generation.
struct Shown {
  core::GenerationEntry entry;
  core::GenerationView g;
  verify::CertificateStats certs;
  verify::Findings cert_findings;
  json last_verify;
  std::optional<jobs::RestoreProof> restore_test;
  bool latest = false;
  std::vector<std::string> playbooks;  // "restore-files", "restore-etcd-keys --set namespace=NAME"
};

Shown gather(const core::Context& ctx, const core::Repository& repo, const std::string& which) {
  Shown s;
  s.entry = repo.find(which);
  if (!s.entry.meta) throw core::Error(fmt::format("generation {}: {}", s.entry.id, s.entry.problem));
  verify::Findings findings;
  s.g = verify::load_generation(s.entry.id, s.entry.path, *s.entry.meta, s.entry.meta_sha256, findings);
  s.certs = verify::check_certificates(ctx, s.g, false, core::now_epoch(), s.cert_findings);
  s.last_verify = read_json(repo.verify_result_path(s.entry.id));
  s.restore_test = jobs::read_proof(ctx, s.entry.id);
  const auto latest = repo.latest_id();
  s.latest = latest && *latest == s.entry.id;
  // The playbooks say which of them can restore from it.
  const auto shipped = restore::list_playbooks(restore::playbook_dirs({ctx.root.host("/etc/kdr/playbooks").string()}));
  for (const auto& fit : restore::playbooks_serving(restore::offer_of(ctx.config, s.g), shipped.playbooks,
                                                    core::etcd_data_dir_of(s.g, ctx.config),
                                                    ctx.config.static_pod_path)) {
    auto text = fit.playbook;
    for (const auto& kv : fit.set) text += " --set " + kv;
    s.playbooks.push_back(text);
  }
  return s;
}

void print_json(const core::Context& ctx, const Shown& s) {
  json j = s.entry.meta->to_json();
  j["latest"] = s.latest;
  j["certificates"] = {{"checked", s.certs.checked},
                       {"earliest_expiry", s.certs.earliest ? core::iso_time(s.certs.earliest->not_after) : ""},
                       {"earliest_path", s.certs.earliest ? s.certs.earliest->path : ""},
                       {"problems", s.cert_findings.count(verify::Severity::error) +
                                        s.cert_findings.count(verify::Severity::warning)}};
  j["last_verify"] = s.last_verify;
  j["restore_test"] = s.restore_test ? s.restore_test->to_json() : json(nullptr);
  j["playbooks"] = s.playbooks;
  ctx.out.raw(j.dump(2));
}

void print_content(const core::Context& ctx, const Shown& s) {
  const auto& m = *s.entry.meta;
  ctx.out.info("Generation {}{}", s.entry.id, s.latest ? "  (latest)" : "");
  ctx.out.info("  taken         {} ({}) on {}, in {:.1f} s, kdr {}", m.started, core::time_ago(m.time), m.hostname,
               m.duration_s, m.kdr_version);
  ctx.out.info("  status        {}{}{}", core::to_string(m.status),
               m.status == core::GenerationStatus::partial ? ": " + core::partial_reason(m) : "",
               m.warnings.empty() ? "" : fmt::format(" ({} warning(s))", m.warnings.size()));
  for (const auto& w : m.warnings) ctx.out.info("    warning     {}", w);
  ctx.out.info("  content       {} files, {} folders, {} symlinks, {}; {} new in this generation", m.files, m.dirs,
               m.symlinks, human_bytes(m.bytes_total), human_bytes(m.bytes_copied));
  ctx.out.info("  sources");
  for (const auto& src : m.sources) {
    // The first reason, and how many more (kdr sources explains them all).
    auto reason = src.reason.substr(0, src.reason.find("; "));
    if (const auto more = static_cast<std::size_t>(std::count(src.reason.begin(), src.reason.end(), ';')); more > 0)
      reason += fmt::format(" (+{} more)", more);
    ctx.out.info("    {:<36} {:>6} files {:>10}  {}", src.path, src.present ? std::to_string(src.files) : "-",
                 src.present ? human_bytes(src.bytes) : "absent", reason);
  }
}

void print_etcd(const core::Context& ctx, const Shown& s) {
  const auto& m = *s.entry.meta;
  if (const auto& snap = m.etcd.snapshot)
    ctx.out.info("  etcd          snapshot at revision {}, {}, {} ({}{}), etcd {}", snap->revision,
                 etcd::snapshot_keys_text(*snap), human_bytes(snap->db_size), snap->file,
                 snap->compression == "zstd" ? ", " + human_bytes(snap->size) + " on disk" : "",
                 snap->server_version.empty() ? "?" : snap->server_version);
  else
    ctx.out.info("  etcd          no snapshot: {}", m.etcd.no_snapshot_reason());
  const auto& layout = m.node.etcd;
  if (layout && !layout->summary.empty()) ctx.out.info("  etcd layout   {}", layout->summary);
  const auto kind = etcd::etcd_kind_from_string(layout ? layout->kind : "").value_or(etcd::EtcdKind::static_pod);
  if (!etcd::kdr_drives_etcd(kind))
    ctx.out.info("  etcd restore  not from this node: {} restore restore-etcd-snapshot -g {} prints what to run "
                 "where etcd runs",
                 core::describe_argv(core::kdr_argv(ctx)), s.entry.id);
  if (const auto& member = m.node.etcd_member)
    ctx.out.info("  etcd member   {} at {}, data dir {}", member->name, member->first_peer_url(), member->data_dir_host);
  if (const auto cluster = m.etcd.cluster_text(); !cluster.empty()) ctx.out.info("  etcd cluster  {}", cluster);
  if (const auto problem = m.etcd.snapshot_member_problem(); !problem.empty())
    ctx.out.warn("  etcd cluster  {}", problem);
}

void print_readiness(const core::Context& ctx, const Shown& s) {
  const auto& m = *s.entry.meta;
  ctx.out.info("  kubeadm       {}", !m.node.kubeadm_config.empty()
                                         ? "configuration saved (" + m.node.kubeadm_config + ")"
                                         : "configuration not saved (rebuild-node needs it)");
  if (s.certs.earliest)
    ctx.out.info("  certificates  {}, the first expires {} ({}){}", s.certs.checked,
                 core::iso_time(s.certs.earliest->not_after), s.certs.earliest->path,
                 s.cert_findings.count(verify::Severity::error)     ? "  EXPIRED ones inside"
                 : s.cert_findings.count(verify::Severity::warning) ? "  some expire within 30 days"
                                                                    : "");
  if (s.last_verify.is_object())
    ctx.out.info("  last verify   {}: {} ({} errors, {} warnings; {})", s.last_verify.value("time", ""),
                 s.last_verify.value("exit_code", 1) == 0 ? "clean" : "PROBLEMS", s.last_verify.value("errors", 0),
                 s.last_verify.value("warnings", 0), s.last_verify.value("checks", ""));
  else
    ctx.out.info("  last verify   never (kdr verify {})", s.entry.id);
  if (s.last_verify.is_object() && s.last_verify.contains("encryption") && s.last_verify["encryption"].is_string())
    ctx.out.info("  encryption    {} (last verify)", s.last_verify["encryption"].get<std::string>());
  ctx.out.info("  restore test  {}", s.restore_test ? s.restore_test->text()
                                                    : fmt::format("never (kdr verify --restore-test {})", s.entry.id));
  ctx.out.info("  can restore with");
  if (s.playbooks.empty()) ctx.out.info("    nothing: it holds neither /etc/kubernetes nor etcd data");
  const auto kdr = core::describe_argv(core::kdr_argv(ctx));
  for (const auto& p : s.playbooks) ctx.out.info("    {} restore {} -g {}", kdr, p, s.entry.id);
}

}  // namespace

Command show_command() {
  auto which = std::make_shared<std::string>("latest");
  Command c;
  c.name = "show";
  c.help = "show one generation: sources, sizes, etcd snapshot, certificates, last verify, what it can restore";
  c.add_options = [which](CLI::App& sub) {
    sub.add_option("generation", *which, "generation id, a unique prefix of one, or latest")->capture_default_str();
  };
  c.run = [which](const core::Context& ctx) {
    auto repo = core::Repository::open(ctx.backup_dir);
    const auto lock = repo.read_lock(ctx.out);
    const auto shown = gather(ctx, repo, *which);
    if (ctx.out.json()) {
      print_json(ctx, shown);
      return core::ExitCode::ok;
    }
    print_content(ctx, shown);
    print_etcd(ctx, shown);
    print_readiness(ctx, shown);
    return core::ExitCode::ok;
  };
  return c;
}

}  // namespace kdr::cli
