#include "restore/kubelets.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/parallel.hpp"
#include "core/process.hpp"
#include "objects/query.hpp"

namespace kdr::restore {

namespace {

std::string text_at(const k8s::ojson& o, std::initializer_list<const char*> path) {
  const k8s::ojson* at = &o;
  for (const char* p : path) {
    if (!at->is_object() || !at->contains(p)) return "";
    at = &(*at)[p];
  }
  return at->is_string() ? at->get<std::string>() : "";
}

std::string pod_list_text(const std::vector<PodRef>& pods) {
  std::string out;
  for (const auto& p : pods)
    out += fmt::format("{}{}{}", out.empty() ? "" : ", ", p.id(), p.phase.empty() ? "" : " (" + p.phase + ")");
  return out;
}

}  // namespace

ClusterNode node_from_object(const k8s::ojson& node, int default_port) {
  ClusterNode n;
  n.name = text_at(node, {"metadata", "name"});
  n.kubelet_port = default_port;
  if (node.contains("status") && node["status"].is_object()) {
    const auto& st = node["status"];
    if (st.contains("addresses") && st["addresses"].is_array()) {
      for (const auto& a : st["addresses"]) {
        const auto type = text_at(a, {"type"});
        const auto address = text_at(a, {"address"});
        if (address.empty() || type == "Hostname") continue;
        if (type == "InternalIP") {
          n.address = address;
          break;
        }
        if (n.address.empty()) n.address = address;
      }
    }
    if (st.contains("daemonEndpoints") && st["daemonEndpoints"].is_object()) {
      const auto& de = st["daemonEndpoints"];
      if (de.contains("kubeletEndpoint") && de["kubeletEndpoint"].is_object()) {
        const auto& port = de["kubeletEndpoint"].value("Port", k8s::ojson());
        if (port.is_number_integer() && port.get<int>() > 0 && port.get<int>() < 65536) n.kubelet_port = port.get<int>();
      }
    }
  }
  if (node.contains("metadata") && node["metadata"].contains("labels") && node["metadata"]["labels"].is_object())
    n.control_plane = node["metadata"]["labels"].contains("node-role.kubernetes.io/control-plane");
  return n;
}

PodRef pod_from_object(const k8s::ojson& pod) {
  PodRef p;
  p.namespace_ = text_at(pod, {"metadata", "namespace"});
  p.name = text_at(pod, {"metadata", "name"});
  p.uid = text_at(pod, {"metadata", "uid"});
  p.node = text_at(pod, {"spec", "nodeName"});
  p.phase = text_at(pod, {"status", "phase"});
  const auto source = text_at(pod, {"metadata", "annotations", "kubernetes.io/config.source"});
  const auto mirror = text_at(pod, {"metadata", "annotations", "kubernetes.io/config.mirror"});
  p.static_pod = source == "file" || source == "http" || !mirror.empty();
  return p;
}

std::vector<PodRef> ClusterObjects::bound_to(const std::string& node) const {
  std::vector<PodRef> out;
  for (const auto& p : pods)
    if (p.node == node) out.push_back(p);
  return out;
}

ClusterObjects read_cluster_objects(const core::Context& ctx, Pods pods) {
  ClusterObjects out;
  auto point = objects::open_point(ctx, objects::parse_point("live"));
  const auto read = [&](const std::string& resource, const std::function<void(const k8s::ojson&)>& each) {
    const auto q = objects::make_query(resource, "", "", true, "");
    objects::each_object(*point, q, [&](k8s::StoredObject&& o) {
      if (!o.decoded()) {
        out.problems.push_back(fmt::format("{}: {}", o.key, o.problem));
        return;
      }
      each(o.object);
    });
  };
  read("nodes", [&](const k8s::ojson& o) { out.nodes.push_back(node_from_object(o, ctx.config.kubelet.port)); });
  if (pods == Pods::read) read("pods", [&](const k8s::ojson& o) { out.pods.push_back(pod_from_object(o)); });
  std::sort(out.nodes.begin(), out.nodes.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::sort(out.pods.begin(), out.pods.end(), [](const auto& a, const auto& b) { return a.id() < b.id(); });
  return out;
}

std::vector<PodRef> kubelet_pod_list(const std::string& body) {
  k8s::ojson list;
  try {
    list = k8s::ojson::parse(body);
  } catch (const std::exception& e) {
    throw core::Error(fmt::format("not JSON ({})", e.what()));
  }
  if (!list.is_object()) throw core::Error("not a PodList");
  const auto kind = list.find("kind");
  const auto items = list.find("items");
  if (kind == list.end() || *kind != "PodList" || items == list.end() || !items->is_array())
    throw core::Error("not a PodList");
  std::vector<PodRef> out;
  for (const auto& item : *items) out.push_back(pod_from_object(item));
  return out;
}

std::vector<PodRef> phantom_pods(const std::vector<PodRef>& running, const std::vector<PodRef>& stored) {
  std::set<std::pair<std::string, std::string>> known;
  for (const auto& p : stored) known.insert({p.id(), p.uid});
  std::vector<PodRef> out;
  for (const auto& p : running)
    if (!p.static_pod && !known.count({p.id(), p.uid})) out.push_back(p);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id() < b.id(); });
  return out;
}

std::vector<NodeCheck> check_nodes(const core::Context& ctx, const ClusterObjects& objects) {
  std::vector<NodeCheck> checks(objects.nodes.size());
  const auto& cfg = ctx.config.kubelet;
  // Asking kubelets waits on the network, not the CPU: up to 32 at a time, so that a cluster with
  // many nodes gone (each silent until its connect timeout) is checked in a few timeouts.
  core::parallel_for(objects.nodes.size(), [&](std::size_t i) {
    auto& c = checks[i];
    c.node = objects.nodes[i];
    c.bound = objects.bound_to(c.node.name);
    if (c.node.address.empty()) {
      c.kubelet = NodeCheck::Kubelet::unreadable;
      c.problem = "its Node object names no address";
      return;
    }
    core::KubeletRequest req;
    req.address = c.node.address;
    req.port = c.node.kubelet_port;
    req.cert = ctx.root.host(cfg.client_cert).string();
    req.key = ctx.root.host(cfg.client_key).string();
    if (!cfg.ca.empty()) req.ca = ctx.root.host(cfg.ca).string();
    req.timeout = std::chrono::seconds(cfg.timeout_s);
    const auto reply = ctx.kubelets->pods(req);
    if (reply.status == core::KubeletReply::Status::silent) {
      c.kubelet = NodeCheck::Kubelet::silent;
      c.problem = reply.problem;
      return;
    }
    c.kubelet = NodeCheck::Kubelet::unreadable;
    if (reply.status == core::KubeletReply::Status::failed) {
      c.problem = reply.problem;
      return;
    }
    if (reply.http != 200) {
      c.problem = fmt::format("{}: HTTP {}", req.url(), reply.http);
      return;
    }
    try {
      c.phantoms = phantom_pods(kubelet_pod_list(reply.body), objects.pods);
      c.kubelet = NodeCheck::Kubelet::answers;
    } catch (const core::Error& e) {
      c.problem = fmt::format("{}: {}", req.url(), e.what());
    }
  }, 32);
  return checks;
}

std::vector<ReportLine> node_check_lines(const std::vector<NodeCheck>& checks) {
  std::vector<ReportLine> out;
  if (checks.empty()) out.push_back({true, "the restored etcd holds no Node object: no node can be checked"});
  for (const auto& c : checks) {
    const auto where = fmt::format("{} ({}:{})", c.node.name, c.node.address.empty() ? "?" : c.node.address,
                                   c.node.kubelet_port);
    switch (c.kubelet) {
      case NodeCheck::Kubelet::answers:
        if (c.phantoms.empty())
          out.push_back({false, fmt::format("{}: its kubelet answers; it runs no pod the restored etcd lacks", where)});
        else
          out.push_back({true, fmt::format("{}: its kubelet runs {} pod{} the restored etcd lacks (phantoms, until "
                                           "its kubelet restarts): {}",
                                           where, c.phantoms.size(), c.phantoms.size() == 1 ? "" : "s",
                                           pod_list_text(c.phantoms))});
        break;
      case NodeCheck::Kubelet::silent:
        out.push_back({true, fmt::format("{}: no kubelet answers ({}); the restored etcd binds {} pod{} to it{}{}; "
                                         "once the machine is gone for good: kubectl delete node {}",
                                         where, c.problem, c.bound.size(), c.bound.size() == 1 ? "" : "s",
                                         c.bound.empty() ? "" : ": ", pod_list_text(c.bound), c.node.name)});
        break;
      case NodeCheck::Kubelet::unreadable:
        out.push_back({true, fmt::format("{}: its pods cannot be checked: {}", where, c.problem)});
        break;
    }
  }
  return out;
}

nlohmann::json node_checks_json(const std::vector<NodeCheck>& checks) {
  auto pods = [](const std::vector<PodRef>& list) {
    auto a = nlohmann::json::array();
    for (const auto& p : list)
      a.push_back({{"namespace", p.namespace_}, {"name", p.name}, {"uid", p.uid}, {"phase", p.phase}});
    return a;
  };
  auto out = nlohmann::json::array();
  for (const auto& c : checks) {
    out.push_back({{"name", c.node.name},
                   {"address", c.node.address},
                   {"kubelet_port", c.node.kubelet_port},
                   {"control_plane", c.node.control_plane},
                   {"kubelet", c.kubelet == NodeCheck::Kubelet::answers  ? "answers"
                               : c.kubelet == NodeCheck::Kubelet::silent ? "silent"
                                                                         : "unreadable"},
                   {"problem", c.problem},
                   {"bound_pods", pods(c.bound)},
                   {"phantom_pods", pods(c.phantoms)}});
  }
  return out;
}

KubeletRestart restart_local_kubelet(const core::Context& ctx) {
  KubeletRestart r;
  const auto& argv = ctx.config.kubelet.restart;
  r.command = core::describe_argv(argv);
  if (!ctx.root.is_real_root() && ctx.config.kubelet.default_restart()) {
    r.text = fmt::format("not run under --root {} (it would restart this machine's kubelet, not the sandbox's; "
                         "kubelet.restart in {} names the sandbox's command)",
                         ctx.root.root().string(), ctx.config.origin);
    return r;
  }
  r.ran = true;
  core::ProcessOptions options;
  options.timeout = std::chrono::seconds(120);
  const auto res = ctx.programs->run(argv, options);
  r.ok = res.ok();
  if (!res.started) r.text = res.start_error;
  else if (res.timed_out) r.text = "did not finish within 120 s";
  else if (res.exit_code != 0)
    r.text = fmt::format("exited with {}: {}", res.exit_code, res.err.empty() ? res.out : res.err);
  else r.text = "restarted";
  return r;
}

std::string kubelet_restart_by_hand(const ClusterNode& node) {
  return fmt::format("ssh {} systemctl restart kubelet", node.address.empty() ? node.name : node.address);
}

}  // namespace kdr::restore
