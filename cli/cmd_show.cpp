// kdr show [GENERATION]: one generation at a glance: what it holds, its etcd snapshot, its
// certificates, its last verify, and which playbooks can restore from it.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "backup/etcd_snapshot.hpp"
#include "cli/command.hpp"
#include "core/error.hpp"
#include "core/etcd_layout.hpp"
#include "core/repository.hpp"
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
    const auto lock = repo.lock(core::LockMode::shared);
    const auto entry = repo.find(*which);
    if (!entry.meta) throw core::Error(fmt::format("generation {}: {}", entry.id, entry.problem));
    const auto& m = *entry.meta;
    verify::Findings findings;
    const auto g = verify::load_generation(entry.id, entry.path, m, findings);
    verify::Findings cert_findings;
    const auto certs = verify::check_certificates(ctx, g, false, ctx.host->now(), cert_findings);
    const auto snap = m.extra.value("etcd", json::object()).value("snapshot", json());
    const auto node = m.extra.value("node", json::object());
    const bool has_kubeadm = !node.value("kubeadm_config", "").empty();
    const auto last_verify = read_json(repo.verify_result_path(entry.id));
    const auto latest = repo.latest_id();

    const auto layout = node.value("etcd", json::object());
    const auto kind = core::etcd_kind_from_string(layout.value("kind", "")).value_or(core::EtcdKind::static_pod);
    const bool local_etcd = core::kdr_drives_etcd(kind);
    // The playbooks say which of them can restore from it.
    std::vector<std::string> playbooks;
    const auto shipped = restore::list_playbooks(restore::playbook_dirs({ctx.root.host("/etc/kdr/playbooks").string()}));
    for (const auto& fit : restore::playbooks_serving(restore::offer_of(ctx.config, g), shipped.playbooks,
                                                      verify::etcd_data_dir_of(g, ctx.config),
                                                      ctx.config.static_pod_path)) {
      auto text = fit.playbook;
      for (const auto& kv : fit.set) text += " --set " + kv;
      playbooks.push_back(text);
    }

    if (ctx.out.json()) {
      json j = m.to_json();
      j["latest"] = latest && *latest == entry.id;
      j["certificates"] = {{"checked", certs.checked},
                           {"earliest_expiry", certs.earliest ? core::iso_time(certs.earliest->not_after) : ""},
                           {"earliest_path", certs.earliest ? certs.earliest->path : ""},
                           {"problems", cert_findings.count(verify::Severity::error) +
                                            cert_findings.count(verify::Severity::warning)}};
      j["last_verify"] = last_verify;
      j["playbooks"] = playbooks;
      ctx.out.raw(j.dump(2));
      return core::ExitCode::ok;
    }
    ctx.out.info("Generation {}{}", entry.id, latest && *latest == entry.id ? "  (latest)" : "");
    ctx.out.info("  taken         {} ({}) on {}, in {:.1f} s, kdr {}", m.started, core::time_ago(m.time), m.hostname, m.duration_s,
                 m.kdr_version);
    ctx.out.info("  status        {}{}{}", core::to_string(m.status),
                 m.status == core::GenerationStatus::partial ? ": " + core::partial_reason(m) : "",
                 m.warnings.empty() ? "" : fmt::format(" ({} warning(s), kdr show --json lists them)", m.warnings.size()));
    ctx.out.info("  content       {} files, {} folders, {} symlinks, {}; {} new in this generation", m.files, m.dirs,
                 m.symlinks, human_bytes(m.bytes_total), human_bytes(m.bytes_copied));
    ctx.out.info("  sources");
    for (const auto& s : m.sources) {
      // The first reason, and how many more (kdr sources explains them all).
      auto reason = s.reason.substr(0, s.reason.find("; "));
      if (const auto more = static_cast<std::size_t>(std::count(s.reason.begin(), s.reason.end(), ';')); more > 0)
        reason += fmt::format(" (+{} more)", more);
      ctx.out.info("    {:<36} {:>6} files {:>10}  {}", s.path, s.present ? std::to_string(s.files) : "-",
                   s.present ? human_bytes(s.bytes) : "absent", reason);
    }
    if (snap.is_object()) {
      const auto keys = backup::snapshot_keys_text(snap);
      ctx.out.info("  etcd          snapshot at revision {}, {}, {} ({}{}), etcd {}", snap.value("revision", 0), keys,
                   human_bytes(snap.value("db_size", std::uint64_t{0})), snap.value("file", ""),
                   snap.value("compression", "none") == "zstd"
                       ? ", " + human_bytes(snap.value("size", std::uint64_t{0})) + " on disk"
                       : "",
                   snap.value("server_version", "?"));
    } else {
      const auto etcd = m.extra.value("etcd", json::object());
      ctx.out.info("  etcd          no snapshot: {}",
                   etcd.value("snapshot_disabled", false) ? "turned off in the config" : etcd.value("snapshot_error", "unknown"));
    }
    if (layout.contains("summary")) ctx.out.info("  etcd layout   {}", layout.value("summary", ""));
    if (!local_etcd)
      ctx.out.info("  etcd restore  not from this node: {} restore restore-etcd-snapshot -g {} prints what to run "
                   "where etcd runs",
                   core::describe_argv(core::kdr_argv(ctx)), entry.id);
    if (node.contains("etcd_member"))
      ctx.out.info("  etcd member   {} at {}, data dir {}", node["etcd_member"].value("name", ""),
                   node["etcd_member"].value("peer_urls", json::array()).empty()
                       ? ""
                       : node["etcd_member"]["peer_urls"][0].get<std::string>(),
                   node["etcd_member"].value("data_dir_host", ""));
    ctx.out.info("  kubeadm       {}", has_kubeadm ? "configuration saved (" + node.value("kubeadm_config", "") + ")"
                                                   : "configuration not saved (rebuild-node needs it)");
    if (certs.earliest)
      ctx.out.info("  certificates  {}, the first expires {} ({}){}", certs.checked,
                   core::iso_time(certs.earliest->not_after), certs.earliest->path,
                   cert_findings.count(verify::Severity::error) ? "  EXPIRED ones inside"
                   : cert_findings.count(verify::Severity::warning) ? "  some expire within 30 days"
                                                                    : "");
    if (last_verify.is_object())
      ctx.out.info("  last verify   {}: {} ({} errors, {} warnings; {})", last_verify.value("time", ""),
                   last_verify.value("exit_code", 1) == 0 ? "clean" : "PROBLEMS", last_verify.value("errors", 0),
                   last_verify.value("warnings", 0), last_verify.value("checks", ""));
    else
      ctx.out.info("  last verify   never (kdr verify {})", entry.id);
    ctx.out.info("  can restore with");
    if (playbooks.empty()) ctx.out.info("    nothing: it holds neither /etc/kubernetes nor etcd data");
    const auto kdr = core::describe_argv(core::kdr_argv(ctx));
    for (const auto& p : playbooks) ctx.out.info("    {} restore {} -g {}", kdr, p, entry.id);
    return core::ExitCode::ok;
  };
  return c;
}

}  // namespace kdr::cli
