// Step type `etcd-forget-node` (rebuild-node under a new identity, once etcd serves again):
// takes out of the live etcd what the old node left that nothing else removes. Where the name
// changed: its Node (/registry/minions/<old name>) and its kubelet's Lease
// (/registry/leases/kube-node-lease/<old name>); the pods bound to it are then deleted by the
// pod garbage collector and scheduled again. Where the address changed: kube-apiserver's
// endpoint lease of the old address (/registry/masterleases/<old address>), which keeps it
// in the default/kubernetes Endpoints until it expires. Each key is journaled with its value
// before it is deleted, and deleted only if it did not change since it was read; a rollback
// puts back the ones still absent.
#include <fmt/format.h>

#include "etcd/tool.hpp"
#include "core/base64.hpp"
#include "core/error.hpp"
#include "etcd/client.hpp"
#include "restore/runner.hpp"
#include "restore/step.hpp"
#include "restore/steps/etcd_member.hpp"

namespace kdr::restore {

namespace {

// The keys of the old node, with what each is.
std::vector<std::pair<std::string, std::string>> old_node_keys(const Runner& r) {
  std::vector<std::pair<std::string, std::string>> out;
  const auto old_name = r.var(Var::old_node_name), old_address = r.var(Var::old_node_address);
  if (!old_name.empty() && old_name != r.var(Var::node_name)) {
    out.emplace_back("/registry/minions/" + old_name, fmt::format("the old Node {}", old_name));
    out.emplace_back("/registry/leases/kube-node-lease/" + old_name, fmt::format("its kubelet's Lease"));
  }
  if (!old_address.empty() && old_address != r.var(Var::address))
    out.emplace_back("/registry/masterleases/" + old_address,
                     fmt::format("kube-apiserver's endpoint lease of {} (the address in default/kubernetes)", old_address));
  return out;
}

// The etcd to put a key back into: the one the key was deleted from; when it no longer serves (an
// HA member this rollback already took out of the cluster), another member the generation
// recorded that serves: the keyspace is the cluster's.
std::unique_ptr<etcd::EtcdApi> cluster_client(const Runner& r, const Action& a) {
  auto endpoint = etcd::node_etcd_endpoint(r.ctx);
  if (!a.to.empty()) endpoint.url = a.to;
  try {
    auto client = r.ctx.etcd->connect(endpoint, std::chrono::seconds(5));
    client->count("/kdr/probe");  // a range: it serves
    return client;
  } catch (const core::Error& e) {
    if (r.gen.meta.etcd.members.size() < 2) throw;
    r.ctx.out.info("      {} does not answer ({}): through another member", endpoint.url, e.what());
    return serving_member(r, r.gen.meta.etcd.members, "", 60);
  }
}

class EtcdForgetNode final : public TypedStep<NoArgs> {
 public:
  StepType type() const override { return StepType::etcd_forget_node; }
  std::string_view name() const override { return "etcd-forget-node"; }
  bool changes_node() const override { return true; }
  std::vector<StepKey> keys() const override { return {}; }

  std::string action_text(const Action& a) const override {
    if (a.op != ActionOp::etcd_delete) return StepDef::action_text(a);
    return fmt::format("deleted etcd key {} from {}", core::base64_decode(a.etcd.value("key", "")), a.to);
  }

  void undo(Runner& r, const Action& a) const override {
    if (a.op != ActionOp::etcd_delete) return r.undo_file_action(a);
    const auto live = cluster_client(r, a);
    const auto key = core::base64_decode(a.etcd.value("key", ""));
    if (live->get(key)) {
      r.ctx.out.warn("      {} exists again in the live etcd: left as it is", key);
      return;
    }
    if (live->put_if(key, core::base64_decode(a.etcd.value("value", "")), 0))
      r.ctx.out.info("      put back {} (deleted by this restore)", key);
    else
      r.ctx.out.warn("      {} was written in the live etcd during the rollback: left as it is", key);
  }

 protected:
  NoArgs read_args(const StepValues&) const override { return {}; }

  std::vector<std::string> plan_text(const Runner& r, const NoArgs&) const override {
    const auto keys = old_node_keys(r);
    if (keys.empty()) return {"the node keeps its name and address: nothing of the old node to remove"};
    std::vector<std::string> out{"remove from the live etcd, each journaled with its value (a rollback puts it back):"};
    for (const auto& [key, what] : keys) out.push_back(fmt::format("  {}: {}", key, what));
    return out;
  }

  void perform(Runner& r, const NoArgs&) const override {
    const auto endpoint = etcd::node_etcd_endpoint(r.ctx);
    const auto live = r.ctx.etcd->connect(endpoint);
    for (const auto& entry : old_node_keys(r)) {
      const auto& key = entry.first;
      const auto& what = entry.second;
      const auto kv = live->get(key);
      if (!kv) {
        r.ctx.out.info("      {}: not in etcd ({})", key, what);
        continue;
      }
      Action act;
      act.op = ActionOp::etcd_delete;
      act.from = "the old node";
      act.to = endpoint.url;
      // Put back while this node's etcd still runs, before the rollback takes its manifest out
      // (or, in an HA cluster, its member).
      act.undo_order = UndoOrder::first;
      act.etcd = {{"key", core::base64_encode(key)},
                  {"value", core::base64_encode(kv->value)},
                  {"mod_revision", kv->mod_revision}};
      bool deleted = false;
      r.act(act, [&] { deleted = live->delete_if(key, kv->mod_revision); });
      if (deleted) r.ctx.out.info("      deleted {} ({})", key, what);
      else r.ctx.out.warn("      {} changed in the live etcd meanwhile: left as it is", key);
    }
  }
};

}  // namespace

const StepDef& etcd_forget_node_step_def() {
  static const EtcdForgetNode def;
  return def;
}

}  // namespace kdr::restore
