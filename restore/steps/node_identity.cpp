// Step type `node-identity` (rebuild-node with address= or node_name=): after the
// generation's /etc/kubernetes came back, and before kubeadm init, makes way for the new
// node (restore/node_identity.hpp): the certificates (and their keys) whose subject or SANs
// name the old address or name, and the kubeconfigs whose server is the old address or whose
// user is the old node, are renamed aside (<path>.kdr-<restore id>, kept), so that kubeadm
// makes them again, signed by the restored CAs, for the new node; and the saved kubeadm
// configuration is written, rewritten for the new node, into the restore's folder, where
// kubeadm init reads it. The CAs, the service-account key pair and everything else stay as
// the backup had them. Undone by renaming the files back (what kubeadm made at their paths
// since is removed first).

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/text.hpp"
#include "restore/node_identity.hpp"
#include "restore/preflight.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"

namespace kdr::restore {

namespace {

struct IdentityArgs : StepArgs {
  std::string from;  // the saved kubeadm configuration (a file of the generation)
  std::string to;    // where the rewritten one goes (the restore's folder)
};

bool is_ca(const std::string& file_name) { return file_name == "ca.crt" || file_name == "front-proxy-ca.crt"; }

// The node paths under /etc/kubernetes (below `base`, the tree as it lies on the node or in
// the generation) that name `who`: certificates of pki/ and pki/etcd/, and kubeconfigs.
std::vector<std::string> naming_files(const core::bfs::path& base, const NodeIdentity& who) {
  std::vector<std::string> out;
  for (const std::string dir : {"pki", "pki/etcd"}) {
    const auto folder = base / dir;
    if (!core::lstat_path(folder)) continue;
    for (const auto& name : core::list_dir(folder)) {
      if (name.size() < 4 || name.substr(name.size() - 4) != ".crt" || is_ca(name)) continue;
      const auto file = folder / name;
      const auto st = core::lstat_path(file);
      if (!st || st->type != core::FileType::file) continue;
      if (certificate_names_node(core::read_file(file), who)) out.push_back("/etc/kubernetes/" + dir + "/" + name);
    }
  }
  for (const auto& name : core::list_dir(base)) {
    if (name.size() < 5 || name.substr(name.size() - 5) != ".conf") continue;
    const auto file = base / name;
    const auto st = core::lstat_path(file);
    if (st && st->type == core::FileType::file && kubeconfig_names_node(core::read_file(file), who))
      out.push_back("/etc/kubernetes/" + name);
  }
  return out;
}

// A certificate goes with its key.
std::vector<std::string> with_keys(const std::vector<std::string>& files) {
  std::vector<std::string> out;
  for (const auto& f : files) {
    out.push_back(f);
    if (f.size() > 4 && f.substr(f.size() - 4) == ".crt") out.push_back(f.substr(0, f.size() - 4) + ".key");
  }
  return out;
}

class NodeIdentityStep final : public TypedStep<IdentityArgs> {
 public:
  StepType type() const override { return StepType::node_identity; }
  std::string_view name() const override { return "node-identity"; }
  bool changes_node() const override { return true; }
  std::vector<StepKey> keys() const override { return {{"from", true}, {"to", true}}; }

  // What is at a renamed file's path now was made by kubeadm after this step (inside the
  // /etc/kubernetes this restore put back): removed, then the backup's renamed back.
  void undo(Runner& r, const Action& a) const override {
    if (a.op == ActionOp::move && core::present(a.from) && core::present(a.to)) {
      core::remove_tree(a.from);
      r.ctx.out.info("      removed {} (made by kubeadm for the new node)", a.from);
    }
    r.undo_file_action(a);
  }

 protected:
  IdentityArgs read_args(const StepValues& v) const override {
    IdentityArgs a;
    a.from = v.text("from");
    a.to = v.text("to");
    if (a.from.empty()) v.fail("from", "the saved kubeadm configuration to rewrite");
    if (a.to.empty()) v.fail("to", "where the rewritten kubeadm configuration goes");
    return a;
  }

  std::vector<std::string> plan_text(const Runner& r, const IdentityArgs& a) const override {
    const auto c = r.renaming();
    return {fmt::format("the node {} ({}) comes back as {} ({})", c.from.name, c.from.address, c.to.name, c.to.address),
            "rename aside (kept; never deleted by kdr) the certificates whose subject or SANs name the old address or "
            "name, with their keys, and the kubeconfigs whose server is the old address or whose user is the old node: "
            "kubeadm makes them again, signed by the restored CAs; every CA, sa.key/sa.pub and the rest stay as the "
            "backup had them",
            fmt::format("write {} rewritten for the new node (its addresses, names, and an InitConfiguration with "
                        "advertiseAddress {} and nodeRegistration.name {}) to {}",
                        a.from, c.to.address, c.to.name, a.to)};
  }

  void preflight(Runner& r, const IdentityArgs& a, Preflight& pf) const override {
    const auto c = r.renaming();
    if (const auto p = address_problem(c.to.address))
      pf.fails.push_back(fmt::format("address '{}': {}", c.to.address, *p));
    else if (!r.ctx.host->local_address(c.to.address))
      pf.fails.push_back(fmt::format("address {} is not on this machine (no interface has it): kube-apiserver and etcd "
                                     "could not listen there; give one of this machine's addresses (ip -brief address)",
                                     c.to.address));
    if (const auto p = node_name_problem(c.to.name)) pf.fails.push_back(fmt::format("node_name '{}': {}", c.to.name, *p));
    if (c.from.name.empty() || c.from.address.empty())
      pf.fails.push_back("the backup's node name and address cannot be read from its manifests or its record: kdr "
                         "cannot tell what names the old node");
    try {
      (void)rewrite_kubeadm_config(core::read_file(a.from), c, a.from);
    } catch (const core::Error& e) {
      pf.fails.push_back(e.what());
    }
    const auto files = naming_files(r.gen.dir / "files/etc/kubernetes", c.from);
    pf.ok(fmt::format("the node {} ({}) comes back as {} ({}); made again by kubeadm: {}", c.from.name, c.from.address,
                      c.to.name, c.to.address, core::list_text(files)));
  }

  void perform(Runner& r, const IdentityArgs& a) const override {
    const auto c = r.renaming();
    // Read from the generation's copy, which the copy-back step put on the node: the same list
    // on a resumed run, whatever an interrupted one already renamed.
    for (const auto& node_path : with_keys(naming_files(r.gen.dir / "files/etc/kubernetes", c.from))) {
      Action act;
      act.from = r.host(node_path).string();
      act.to = r.aside_path(node_path);
      const bool live = core::lstat_path(act.from).has_value(), aside = core::lstat_path(act.to).has_value();
      if (!live) continue;  // a key that is not there, or moved on an earlier run
      if (aside)
        throw core::Error(fmt::format("{} was renamed aside to {} already, and {} exists again; look at both, remove the "
                                      "new one, then resume",
                                      node_path, act.to, node_path));
      r.move(act);
      r.ctx.out.info("      {} -> {} (kept: it names {})", node_path, act.to,
                     c.from.name + " / " + c.from.address);
    }
    core::write_file_atomic(a.to, rewrite_kubeadm_config(core::read_file(a.from), c, a.from));
    r.ctx.out.info("      wrote {} (the saved kubeadm configuration, for {})", a.to, c.to.name);
  }
};

}  // namespace

const StepDef& node_identity_step_def() {
  static const NodeIdentityStep def;
  return def;
}

}  // namespace kdr::restore
