#include "restore/node_identity.hpp"

#include <arpa/inet.h>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "core/control_plane.hpp"
#include "core/error.hpp"
#include "core/x509_names.hpp"
#include "core/yaml_reader.hpp"
#include "restore/runner.hpp"

namespace kdr::restore {

namespace {

// The host of a URL (https://10.0.0.10:2380, https://[::1]:2380).
std::string url_host(std::string_view url) {
  const auto scheme = url.find("://");
  if (scheme != std::string_view::npos) url.remove_prefix(scheme + 3);
  url = url.substr(0, url.find('/'));
  if (!url.empty() && url.front() == '[') return std::string(url.substr(1, url.find(']') - 1));
  return std::string(url.substr(0, url.rfind(':')));
}

bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

void rewrite_node(YAML::Node node, const IdentityChange& c) {
  if (node.IsScalar()) {
    auto text = renamed_text(node.Scalar(), c);
    if (text != node.Scalar()) node = text;
    return;
  }
  if (node.IsSequence())
    for (std::size_t i = 0; i < node.size(); ++i) rewrite_node(node[i], c);
  if (node.IsMap())
    for (auto it = node.begin(); it != node.end(); ++it) rewrite_node(it->second, c);
}

}  // namespace

std::string renamed_text(std::string_view text, const IdentityChange& c) {
  auto out = std::string(text);
  if (c.address_changes()) out = replace_host(out, c.from.address, c.to.address);
  if (c.name_changes()) out = replace_host(out, c.from.name, c.to.name);
  return out;
}

std::string IdentityChange::text() const {
  return fmt::format("{} ({}) -> {} ({})", from.name, from.address, to.name, to.address);
}

NodeIdentity backup_identity(const core::GenerationView& g, const std::string& static_pod_path) {
  NodeIdentity id;
  const auto pods = generation_pods(g, static_pod_path);
  if (const auto m = core::etcd_member(pods)) {
    id.name = m->name;
    if (!m->peer_urls.empty()) id.address = url_host(m->peer_urls.front());
  }
  if (id.address.empty())
    for (const auto& p : pods.pods)
      if (p.name == "kube-apiserver") id.address = p.flag("advertise-address").value_or("");
  if (id.name.empty()) id.name = g.meta.hostname;
  if (id.address.empty() && !g.meta.node.addresses.empty()) id.address = g.meta.node.addresses.front();
  return id;
}

std::optional<std::string> node_name_problem(std::string_view name) {
  if (name.empty()) return "it is empty";
  if (name.size() > 253) return fmt::format("it has {} characters, a Node's name at most 253", name.size());
  std::string_view rest = name;
  while (true) {
    const auto dot = rest.find('.');
    const auto label = rest.substr(0, dot);
    if (label.empty()) return "it has an empty label (two dots, or a dot at an end)";
    if (label.size() > 63) return fmt::format("its label '{}' has more than 63 characters", label);
    for (const char c : label)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
        return fmt::format("'{}' is not allowed: a Node's name holds lowercase letters, digits, '-' and '.' (RFC 1123)",
                           std::string(1, c));
    if (label.front() == '-' || label.back() == '-')
      return fmt::format("its label '{}' starts or ends with '-'", label);
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  return std::nullopt;
}

std::optional<std::string> address_problem(std::string_view address) {
  const std::string a(address);
  unsigned char buf[16];
  if (inet_pton(AF_INET, a.c_str(), buf) == 1 || inet_pton(AF_INET6, a.c_str(), buf) == 1) return std::nullopt;
  return "it is not an IPv4 or IPv6 address";
}

std::string replace_host(std::string_view text, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(text);
  std::string out;
  std::size_t at = 0;
  while (true) {
    const auto hit = text.find(from, at);
    if (hit == std::string_view::npos) break;
    const auto end = hit + from.size();
    const bool whole = (hit == 0 || !host_char(text[hit - 1])) &&
                       (end == text.size() || !host_char(text[end]) ||
                        // a name or address at the end of a sentence: "cp1." is cp1
                        (text[end] == '.' && (end + 1 == text.size() || !host_char(text[end + 1]))));
    out.append(text.substr(at, hit - at));
    out.append(whole ? to : from);
    at = end;
  }
  out.append(text.substr(at));
  return out;
}

std::string rewrite_kubeadm_config(std::string_view yaml, const IdentityChange& change, const std::string& origin) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(yaml));
  } catch (const YAML::Exception& e) {
    throw core::Error(fmt::format("{}: not valid YAML: {}", origin, e.what()));
  }
  std::string api_version = "kubeadm.k8s.io/v1beta3";
  YAML::Node init;
  bool has_init = false;
  for (auto& d : docs) {
    if (!d.IsMap()) continue;
    rewrite_node(d, change);
    const auto kind = d["kind"] ? d["kind"].as<std::string>("") : "";
    if (kind == "ClusterConfiguration" && d["apiVersion"]) api_version = d["apiVersion"].as<std::string>(api_version);
    if (kind == "InitConfiguration") {
      init = d;
      has_init = true;
    }
  }
  if (!has_init) {
    init = YAML::Node(YAML::NodeType::Map);
    init["apiVersion"] = api_version;
    init["kind"] = "InitConfiguration";
    docs.push_back(init);
  }
  init["localAPIEndpoint"]["advertiseAddress"] = change.to.address;
  init["nodeRegistration"]["name"] = change.to.name;
  std::string out;
  for (const auto& d : docs) {
    if (!d.IsMap()) continue;
    YAML::Emitter e;
    e << d;
    out += (out.empty() ? "" : "---\n") + std::string(e.c_str()) + "\n";
  }
  return out;
}

std::string control_plane_endpoint_host(std::string_view kubeadm_config) {
  try {
    for (const auto& d : YAML::LoadAll(std::string(kubeadm_config)))
      if (d.IsMap() && d["controlPlaneEndpoint"]) {
        const auto endpoint = d["controlPlaneEndpoint"].as<std::string>("");
        if (endpoint.empty()) return {};
        if (endpoint.front() == '[') return endpoint.substr(1, endpoint.find(']') - 1);
        const auto colon = endpoint.rfind(':');
        return colon == std::string::npos || endpoint.find(':') != colon ? endpoint : endpoint.substr(0, colon);
      }
  } catch (const YAML::Exception&) {
  }
  return {};
}

bool certificate_names_node(std::string_view pem, const NodeIdentity& who) {
  const auto names = core::certificate_names(pem);
  return names && ((!who.name.empty() && names->names(who.name)) || (!who.address.empty() && names->names(who.address)));
}

bool kubeconfig_names_node(std::string_view yaml, const NodeIdentity& who) {
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception&) {
    return false;
  }
  if (!doc.IsMap()) return false;
  for (const auto& c : doc["clusters"])
    if (c["cluster"] && c["cluster"]["server"] && url_host(c["cluster"]["server"].as<std::string>("")) == who.address)
      return true;
  for (const auto& u : doc["users"])
    if (u["name"] && u["name"].as<std::string>("") == "system:node:" + who.name) return true;
  return false;
}

}  // namespace kdr::restore
