#include "objects/table.hpp"

#include <ctime>
#include <map>

#include <fmt/format.h>

namespace kdr::objects {

namespace {

using k8s::ojson;

// object["a"]["b"]... or null.
const ojson& at(const ojson& o, std::initializer_list<const char*> path) {
  static const ojson null;
  const ojson* cur = &o;
  for (const char* p : path) {
    if (!cur->is_object() || !cur->contains(p)) return null;
    cur = &cur->at(p);
  }
  return *cur;
}

std::string num(const ojson& v) { return v.is_number() ? std::to_string(v.get<std::int64_t>()) : "0"; }
std::string str(const ojson& v, const char* none = "<none>") {
  return v.is_string() && !v.get<std::string>().empty() ? v.get<std::string>() : none;
}
std::size_t count(const ojson& v) { return v.is_object() || v.is_array() ? v.size() : 0; }

std::string ready_of(const ojson& o) { return num(at(o, {"status", "readyReplicas"})) + "/" + num(at(o, {"spec", "replicas"})); }

std::string deploy_ready(const ojson& o) { return ready_of(o); }
std::string deploy_updated(const ojson& o) { return num(at(o, {"status", "updatedReplicas"})); }
std::string deploy_available(const ojson& o) { return num(at(o, {"status", "availableReplicas"})); }
std::string rs_desired(const ojson& o) { return num(at(o, {"spec", "replicas"})); }
std::string rs_current(const ojson& o) { return num(at(o, {"status", "replicas"})); }
std::string rs_ready(const ojson& o) { return num(at(o, {"status", "readyReplicas"})); }
std::string ds_desired(const ojson& o) { return num(at(o, {"status", "desiredNumberScheduled"})); }
std::string ds_current(const ojson& o) { return num(at(o, {"status", "currentNumberScheduled"})); }
std::string ds_ready(const ojson& o) { return num(at(o, {"status", "numberReady"})); }
std::string ds_updated(const ojson& o) { return num(at(o, {"status", "updatedNumberScheduled"})); }
std::string ds_available(const ojson& o) { return num(at(o, {"status", "numberAvailable"})); }

std::string pod_ready(const ojson& o) {
  const auto& statuses = at(o, {"status", "containerStatuses"});
  std::size_t ready = 0;
  if (statuses.is_array())
    for (const auto& s : statuses)
      if (s.is_object() && s.contains("ready") && s.at("ready") == true) ++ready;
  return fmt::format("{}/{}", ready, count(at(o, {"spec", "containers"})));
}
std::string pod_status(const ojson& o) {
  if (!at(o, {"metadata", "deletionTimestamp"}).is_null()) return "Terminating";
  const auto& reason = at(o, {"status", "reason"});
  if (reason.is_string() && !reason.get<std::string>().empty()) return reason.get<std::string>();
  const auto& statuses = at(o, {"status", "containerStatuses"});
  if (statuses.is_array())
    for (const auto& s : statuses) {
      const auto& waiting = at(s, {"state", "waiting", "reason"});
      if (waiting.is_string()) return waiting.get<std::string>();
      const auto& terminated = at(s, {"state", "terminated", "reason"});
      if (terminated.is_string()) return terminated.get<std::string>();
    }
  return str(at(o, {"status", "phase"}), "Unknown");
}
std::string pod_restarts(const ojson& o) {
  std::int64_t n = 0;
  const auto& statuses = at(o, {"status", "containerStatuses"});
  if (statuses.is_array())
    for (const auto& s : statuses)
      if (s.is_object() && s.contains("restartCount") && s.at("restartCount").is_number())
        n += s.at("restartCount").get<std::int64_t>();
  return std::to_string(n);
}
std::string pod_ip(const ojson& o) { return str(at(o, {"status", "podIP"})); }
std::string pod_node(const ojson& o) { return str(at(o, {"spec", "nodeName"})); }

std::string secret_type(const ojson& o) { return str(at(o, {"type"}), "Opaque"); }
std::string data_count(const ojson& o) { return std::to_string(count(at(o, {"data"})) + count(at(o, {"binaryData"}))); }
std::string secret_data(const ojson& o) { return std::to_string(count(at(o, {"data"}))); }

std::string svc_type(const ojson& o) { return str(at(o, {"spec", "type"}), "ClusterIP"); }
std::string svc_cluster_ip(const ojson& o) { return str(at(o, {"spec", "clusterIP"})); }
std::string svc_ports(const ojson& o) {
  const auto& ports = at(o, {"spec", "ports"});
  std::string out;
  if (ports.is_array())
    for (const auto& p : ports) {
      if (!out.empty()) out += ",";
      const auto& node_port = at(p, {"nodePort"});
      const bool has_node_port = node_port.is_number() && node_port.get<std::int64_t>() != 0;
      out += fmt::format("{}{}{}/{}", num(at(p, {"port"})), has_node_port ? ":" : "", has_node_port ? num(node_port) : "",
                         str(at(p, {"protocol"}), "TCP"));
    }
  return out.empty() ? "<none>" : out;
}

std::string ns_status(const ojson& o) { return str(at(o, {"status", "phase"}), "Active"); }
std::string node_status(const ojson& o) {
  const auto& conditions = at(o, {"status", "conditions"});
  std::string status = "Unknown";
  if (conditions.is_array())
    for (const auto& c : conditions)
      if (at(c, {"type"}) == "Ready") status = at(c, {"status"}) == "True" ? "Ready" : "NotReady";
  if (at(o, {"spec", "unschedulable"}) == true) status += ",SchedulingDisabled";
  return status;
}
std::string node_version(const ojson& o) { return str(at(o, {"status", "nodeInfo", "kubeletVersion"})); }
std::string sa_secrets(const ojson& o) { return std::to_string(count(at(o, {"secrets"}))); }
std::string lease_holder(const ojson& o) { return str(at(o, {"spec", "holderIdentity"}), ""); }
std::string job_completions(const ojson& o) {
  const auto& c = at(o, {"spec", "completions"});
  return num(at(o, {"status", "succeeded"})) + "/" + (c.is_number() ? num(c) : std::string("1"));
}
std::string cj_schedule(const ojson& o) { return str(at(o, {"spec", "schedule"})); }
std::string cj_suspend(const ojson& o) { return at(o, {"spec", "suspend"}) == true ? "True" : "False"; }
std::string cj_active(const ojson& o) { return std::to_string(count(at(o, {"status", "active"}))); }
std::string pvc_status(const ojson& o) { return str(at(o, {"status", "phase"}), "Pending"); }
std::string pvc_volume(const ojson& o) { return str(at(o, {"spec", "volumeName"}), ""); }
std::string pv_capacity(const ojson& o) { return str(at(o, {"spec", "capacity", "storage"}), ""); }
std::string pv_claim(const ojson& o) {
  const auto& ref = at(o, {"spec", "claimRef"});
  return ref.is_object() ? str(at(ref, {"namespace"}), "") + "/" + str(at(ref, {"name"}), "") : "";
}

const std::map<std::string, std::vector<Column>>& table() {
  static const std::map<std::string, std::vector<Column>> t = {
      {"deployments.apps", {{"READY", deploy_ready}, {"UP-TO-DATE", deploy_updated}, {"AVAILABLE", deploy_available}}},
      {"replicasets.apps", {{"DESIRED", rs_desired}, {"CURRENT", rs_current}, {"READY", rs_ready}}},
      {"statefulsets.apps", {{"READY", ready_of}}},
      {"daemonsets.apps",
       {{"DESIRED", ds_desired}, {"CURRENT", ds_current}, {"READY", ds_ready}, {"UP-TO-DATE", ds_updated},
        {"AVAILABLE", ds_available}}},
      {"pods", {{"READY", pod_ready}, {"STATUS", pod_status}, {"RESTARTS", pod_restarts}, {"IP", pod_ip, true},
                {"NODE", pod_node, true}}},
      {"secrets", {{"TYPE", secret_type}, {"DATA", secret_data}}},
      {"configmaps", {{"DATA", data_count}}},
      {"services", {{"TYPE", svc_type}, {"CLUSTER-IP", svc_cluster_ip}, {"PORT(S)", svc_ports}}},
      {"namespaces", {{"STATUS", ns_status}}},
      {"nodes", {{"STATUS", node_status}, {"VERSION", node_version}}},
      {"serviceaccounts", {{"SECRETS", sa_secrets}}},
      {"leases.coordination.k8s.io", {{"HOLDER", lease_holder}}},
      {"jobs.batch", {{"COMPLETIONS", job_completions}}},
      {"cronjobs.batch", {{"SCHEDULE", cj_schedule}, {"SUSPEND", cj_suspend}, {"ACTIVE", cj_active}}},
      {"persistentvolumeclaims", {{"STATUS", pvc_status}, {"VOLUME", pvc_volume}}},
      {"persistentvolumes", {{"CAPACITY", pv_capacity}, {"CLAIM", pv_claim}}},
  };
  return t;
}

}  // namespace

const std::vector<Column>& columns_for(const k8s::ResourceType& type) {
  static const std::vector<Column> none;
  const auto it = table().find(type.qualified());
  return it == table().end() ? none : it->second;
}

std::string human_duration(std::int64_t seconds) {
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return fmt::format("{}s", seconds);
  const auto minutes = seconds / 60;
  if (minutes < 10) return seconds % 60 == 0 ? fmt::format("{}m", minutes) : fmt::format("{}m{}s", minutes, seconds % 60);
  if (minutes < 180) return fmt::format("{}m", minutes);
  const auto hours = minutes / 60;
  if (hours < 8) return minutes % 60 == 0 ? fmt::format("{}h", hours) : fmt::format("{}h{}m", hours, minutes % 60);
  if (hours < 48) return fmt::format("{}h", hours);
  if (hours < 24 * 8) return hours % 24 == 0 ? fmt::format("{}d", hours / 24) : fmt::format("{}d{}h", hours / 24, hours % 24);
  if (hours < 24 * 365 * 2) return fmt::format("{}d", hours / 24);
  if (hours < 24 * 365 * 8) {
    const auto days = hours / 24;
    return days % 365 == 0 ? fmt::format("{}y", days / 365) : fmt::format("{}y{}d", days / 365, days % 365);
  }
  return fmt::format("{}y", hours / 24 / 365);
}

std::int64_t creation_time(const k8s::ojson& object) {
  const auto& t = at(object, {"metadata", "creationTimestamp"});
  if (!t.is_string()) return 0;
  std::tm tm{};
  if (::strptime(t.get<std::string>().c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm) == nullptr) return 0;
  return static_cast<std::int64_t>(::timegm(&tm));
}

}  // namespace kdr::objects
