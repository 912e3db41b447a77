#include "etcd/layout.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/process_table.hpp"

namespace kdr::etcd {

using nlohmann::json;

namespace {

constexpr std::string_view kubeadm_etcd_pki = "/etc/kubernetes/pki/etcd";

// Unit files and environment files where distributions and installers put etcd's settings.
const std::vector<std::string> unit_files = {"/etc/systemd/system/etcd.service", "/usr/lib/systemd/system/etcd.service",
                                             "/lib/systemd/system/etcd.service"};
// kubespray: /etc/etcd.env (and /etc/etcdctl.env for etcdctl); Debian: /etc/default/etcd;
// Fedora and RHEL: /etc/etcd/etcd.conf.
const std::vector<std::string> env_files = {"/etc/etcd.env", "/etc/default/etcd", "/etc/etcd/etcd.conf"};
constexpr std::string_view etcdctl_env_file = "/etc/etcdctl.env";

bool exists(const core::NodeRoot& root, const std::string& node_path) { return core::lstat_path(root.host(node_path)).has_value(); }

std::optional<std::string> read_if_file(const core::NodeRoot& root, const std::string& node_path) {
  auto st = core::lstat_path(root.host(node_path));
  if (!st || st->type != core::FileType::file) return std::nullopt;
  try {
    return core::read_file(root.host(node_path));
  } catch (const core::Error&) {
    return std::nullopt;
  }
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s);
}

// The lines of a text, each trimmed.
std::vector<std::string> trimmed_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(trim(text.substr(pos, nl - pos)));
    pos = nl + 1;
  }
  return lines;
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> out;
  std::string word;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n') {
      if (!word.empty()) out.push_back(std::move(word));
      word.clear();
    } else if (c != '"' && c != '\'') {
      word += c;
    }
  }
  if (!word.empty()) out.push_back(std::move(word));
  return out;
}

struct UnitFile {
  std::vector<std::string> exec_args;
  std::vector<std::string> environment_files;
};

// The [Service] lines kdr needs from a unit: ExecStart (continuation lines joined) and
// EnvironmentFile (a leading '-' only means "may be missing").
UnitFile parse_unit(std::string_view text) {
  UnitFile unit;
  std::string joined;
  for (auto line : trimmed_lines(text)) {
    if (!line.empty() && line.back() == '\\') {
      line.pop_back();
      joined += line + " ";
      continue;
    }
    line = joined + line;
    joined.clear();
    if (line.rfind("ExecStart=", 0) == 0) {
      auto args = split_words(line.substr(10));
      if (!args.empty()) {
        auto& first = args.front();
        while (!first.empty() && std::string_view("-@+!:").find(first.front()) != std::string_view::npos) first.erase(0, 1);
      }
      if (!args.empty()) unit.exec_args = args;
    } else if (line.rfind("EnvironmentFile=", 0) == 0) {
      auto file = trim(line.substr(16));
      if (!file.empty() && file.front() == '-') file.erase(0, 1);
      if (!file.empty() && file.front() == '/') unit.environment_files.push_back(file);
    }
  }
  return unit;
}

std::optional<SystemdEtcd> find_systemd_etcd(const core::NodeRoot& root) {
  SystemdEtcd s;
  std::vector<std::string> envs;
  for (const auto& u : unit_files)
    if (auto text = read_if_file(root, u)) {
      s.unit = u;
      auto unit = parse_unit(*text);
      s.exec_args = unit.exec_args;
      envs = unit.environment_files;
      break;
    }
  for (const auto& e : env_files)
    if (std::find(envs.begin(), envs.end(), e) == envs.end()) envs.push_back(e);
  for (const auto& e : envs)
    if (auto text = read_if_file(root, e)) {
      s.env_files.push_back(e);
      for (auto& [k, v] : parse_env_file(*text))
        if (k.rfind("ETCD", 0) == 0) s.env.emplace(k, v);
    }
  if (s.unit.empty() && s.env_files.empty()) return std::nullopt;
  if (auto text = read_if_file(root, std::string(etcdctl_env_file))) {
    s.env_files.emplace_back(etcdctl_env_file);
    for (auto& [k, v] : parse_env_file(*text))
      if (k.rfind("ETCDCTL_", 0) == 0) s.env.emplace(k, v);
  }
  return s;
}

bool is_loopback_url(const std::string& u) {
  return u.find("://127.") != std::string::npos || u.find("://localhost") != std::string::npos ||
         u.find("://[::1]") != std::string::npos;
}

// Loopback URLs first (kdr runs on the node), each once.
std::vector<std::string> loopback_first(const std::vector<std::string>& urls) {
  std::vector<std::string> out;
  for (bool loopback : {true, false})
    for (const auto& u : urls)
      if (is_loopback_url(u) == loopback && std::find(out.begin(), out.end(), u) == out.end()) out.push_back(u);
  return out;
}

void choose_static_pod(EtcdLayout& l, const core::EtcdMember& m) {
  l.kind = EtcdKind::static_pod;
  l.member = m;
  l.data_dir = m.data_dir_host;
  l.data_dir_mounted = !m.data_dir_volume.empty();
  if (l.data_dir_mounted)
    l.data_dir_origin = m.data_dir == m.data_dir_host
                            ? fmt::format("etcd manifest {}: --data-dir={}", m.manifest, m.data_dir)
                            : fmt::format("etcd manifest {}: --data-dir={} through hostPath volume '{}'", m.manifest,
                                          m.data_dir, m.data_dir_volume);
  else {
    l.data_dir_origin = fmt::format("etcd manifest {}: --data-dir={}", m.manifest, m.data_dir);
    l.problems.push_back(fmt::format(
        "etcd's --data-dir={} in {} is under none of the pod's hostPath volumes: etcd writes it inside its container, "
        "where it is lost when the pod is recreated and where kdr cannot see it; {} on the node is not etcd's data. "
        "Mount it with a hostPath volume (kubeadm: etcd.local.dataDir). Backups rely on the etcd snapshot alone",
        m.data_dir, m.manifest, m.data_dir));
  }
  std::vector<std::string> urls = m.client_urls;
  urls.insert(urls.end(), m.advertise_client_urls.begin(), m.advertise_client_urls.end());
  l.endpoints = loopback_first(urls);
  l.endpoints_origin = fmt::format("etcd manifest {} (--listen-client-urls)", m.manifest);
}

void choose_systemd(EtcdLayout& l, const core::Config& config, const SystemdEtcd& s) {
  l.kind = EtcdKind::systemd;
  l.systemd = s;
  const std::string where = !s.unit.empty() ? s.unit : s.env_files.front();
  if (auto d = s.setting("ETCD_DATA_DIR", "data-dir")) {
    l.data_dir = *d;
    l.data_dir_origin = fmt::format("{} (ETCD_DATA_DIR or --data-dir)", where);
  } else {
    l.data_dir = config.etcd_data_dir;
    l.data_dir_origin = fmt::format("config etcd_data_dir ({} names no data dir)", where);
  }
  std::vector<std::string> urls = core::split_list(s.setting("ETCD_LISTEN_CLIENT_URLS", "listen-client-urls").value_or(""));
  auto adv = core::split_list(s.setting("ETCD_ADVERTISE_CLIENT_URLS", "advertise-client-urls").value_or(""));
  urls.insert(urls.end(), adv.begin(), adv.end());
  // etcd's own default when nothing is set: plain HTTP on localhost
  if (urls.empty()) urls.push_back(s.setting("ETCD_CERT_FILE", "cert-file") ? "https://127.0.0.1:2379" : "http://127.0.0.1:2379");
  l.endpoints = loopback_first(urls);
  l.endpoints_origin = where;
}

// An etcd process of this node that no manifest or known unit runs (a unit elsewhere, a
// container, a shell): its data dir and client URLs from its arguments or environment.
std::optional<core::ProcessEntry> find_etcd_process(const core::NodeRoot& root) {
  auto procs = core::node_processes(root, {"etcd"});
  if (procs.empty()) return std::nullopt;
  return procs.front();
}

std::string node_path_of(const core::NodeRoot& root, const std::string& host_path) {
  if (root.is_real_root()) return host_path;
  const auto prefix = root.root().string();
  return host_path.rfind(prefix + "/", 0) == 0 ? host_path.substr(prefix.size()) : host_path;
}

void choose_local(EtcdLayout& l, const core::Config& config, const core::NodeRoot& root, const core::ProcessEntry& p) {
  l.kind = EtcdKind::local;
  const auto env = core::process_environment(p.pid);
  auto setting = [&](const char* env_name, std::string_view flag) {
    auto v = core::flag_argument(p.argv, flag);
    if (v.empty())
      if (auto it = env.find(env_name); it != env.end()) v = it->second;
    return v;
  };
  auto data_dir = setting("ETCD_DATA_DIR", "data-dir");
  if (!data_dir.empty() && data_dir.front() != '/') data_dir = core::process_cwd(p.pid) + "/" + data_dir;
  if (data_dir.empty()) {
    l.data_dir = config.etcd_data_dir;
    l.data_dir_origin = fmt::format("config etcd_data_dir: etcd (pid {}) runs outside the static pods and does not "
                                    "say its data dir",
                                    p.pid);
    l.problems.push_back(fmt::format("etcd (pid {}) runs on this node from neither a static pod nor a known unit and "
                                     "names no data dir; kdr assumes {} (etcd_data_dir in the config)",
                                     p.pid, config.etcd_data_dir));
  } else {
    l.data_dir = node_path_of(root, data_dir);
    l.data_dir_origin = fmt::format("the running etcd, pid {} run by uid {} (--data-dir or ETCD_DATA_DIR)", p.pid, p.uid);
  }
  auto urls = core::split_list(setting("ETCD_LISTEN_CLIENT_URLS", "listen-client-urls"));
  if (urls.empty()) urls.push_back("http://127.0.0.1:2379");  // etcd's default
  l.endpoints = loopback_first(urls);
  l.endpoints_origin = fmt::format("the running etcd, pid {} run by uid {}", p.pid, p.uid);
}

void choose_external(EtcdLayout& l, const core::ApiserverEtcd& a) {
  l.kind = EtcdKind::external;
  l.endpoints = a.servers;
  l.endpoints_origin = fmt::format("kube-apiserver --etcd-servers ({})", a.manifest);
}

// The client certificate found on the node, in the documented order after the config.
EtcdClientTls found_tls(const core::NodeRoot& root, const EtcdLayout& l, const std::optional<core::ApiserverEtcd>& api) {
  const std::string pki = l.member && !l.member->trusted_ca_host.empty()
                              ? l.member->trusted_ca_host.substr(0, l.member->trusted_ca_host.rfind('/'))
                              : std::string(kubeadm_etcd_pki);
  const auto hc = pki + "/healthcheck-client";
  if (exists(root, hc + ".crt") && exists(root, hc + ".key"))
    return {l.member && !l.member->trusted_ca_host.empty() ? l.member->trusted_ca_host : pki + "/ca.crt", hc + ".crt",
            hc + ".key", fmt::format("kubeadm's etcd health-check client ({}.crt)", hc), false};
  if (api && api->certfile && api->keyfile)
    return {api->cafile.value_or(""), *api->certfile, *api->keyfile,
            fmt::format("kube-apiserver's etcd client (--etcd-certfile in {})", api->manifest), false};
  if (l.systemd) {
    const auto& env = l.systemd->env;
    auto get = [&](const char* a, const char* b) {
      if (auto it = env.find(a); it != env.end()) return it->second;
      if (auto it = env.find(b); it != env.end()) return it->second;
      return std::string();
    };
    EtcdClientTls t{get("ETCDCTL_CACERT", "ETCDCTL_CA_FILE"), get("ETCDCTL_CERT", "ETCDCTL_CERT_FILE"),
                    get("ETCDCTL_KEY", "ETCDCTL_KEY_FILE"),
                    "etcdctl's settings (ETCDCTL_CERT) in the systemd environment files", false};
    if (!t.cert.empty() && !t.key.empty()) return t;
  }
  return {pki + "/ca.crt", hc + ".crt", hc + ".key",
          "kubeadm's default paths: no etcd client certificate was found (not in the config, no health-check client, "
          "no kube-apiserver --etcd-certfile, no ETCDCTL_CERT); set etcd.cert, etcd.key and etcd.cacert in the config",
          false};
}

// The config's files where it names them, the node's for the rest.
EtcdClientTls choose_tls(const core::Config& config, const core::NodeRoot& root, const EtcdLayout& l,
                         const std::optional<core::ApiserverEtcd>& api) {
  const auto& e = config.etcd;
  auto t = found_tls(root, l, api);
  if (e.cacert.empty() && e.cert.empty() && e.key.empty()) return t;
  std::vector<std::string> named;
  if (!e.cacert.empty()) t.cacert = e.cacert, named.emplace_back("etcd.cacert");
  if (!e.cert.empty()) t.cert = e.cert, named.emplace_back("etcd.cert");
  if (!e.key.empty()) t.key = e.key, named.emplace_back("etcd.key");
  std::string keys;
  for (const auto& n : named) keys += (keys.empty() ? "" : ", ") + n;
  t.origin = named.size() == 3 ? fmt::format("config {} ({})", config.origin, keys)
                               : fmt::format("config {} ({}; the rest from {})", config.origin, keys, t.origin);
  t.from_config = true;
  return t;
}

}  // namespace

std::string_view to_string(EtcdKind kind) {
  switch (kind) {
    case EtcdKind::static_pod: return "static-pod";
    case EtcdKind::systemd: return "systemd";
    case EtcdKind::local: return "local";
    case EtcdKind::external: return "external";
    case EtcdKind::unknown: return "unknown";
  }
  return "unknown";
}

std::optional<EtcdKind> etcd_kind_from_string(std::string_view text) {
  for (auto k : {EtcdKind::static_pod, EtcdKind::systemd, EtcdKind::local, EtcdKind::external, EtcdKind::unknown})
    if (to_string(k) == text) return k;
  return std::nullopt;
}

bool kdr_drives_etcd(EtcdKind kind) { return kind == EtcdKind::static_pod || kind == EtcdKind::unknown; }

std::optional<std::string> SystemdEtcd::setting(std::string_view env_name, std::string_view flag) const {
  if (auto it = env.find(std::string(env_name)); it != env.end() && !it->second.empty()) return it->second;
  // the unit's ExecStart starts with the program, as a process's argv does
  auto value = core::flag_argument(exec_args, flag);
  return value.empty() ? std::nullopt : std::optional<std::string>(value);
}

std::map<std::string, std::string> parse_env_file(std::string_view text) {
  std::map<std::string, std::string> out;
  for (auto line : trimmed_lines(text)) {
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.rfind("export ", 0) == 0) line = trim(line.substr(7));
    const auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front())
      value = value.substr(1, value.size() - 2);
    out[key] = value;
  }
  return out;
}

std::string EtcdLayout::summary() const {
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  switch (kind) {
    case EtcdKind::static_pod:
      return fmt::format("stacked etcd (static pod {}), data dir {}", member ? member->manifest : "?", data_dir);
    case EtcdKind::systemd:
      return fmt::format("etcd under systemd ({}), data dir {}", systemd && !systemd->unit.empty()
                                                                    ? systemd->unit
                                                                    : systemd ? list(systemd->env_files) : "?",
                         data_dir);
    case EtcdKind::local:
      return fmt::format("etcd running on this node outside the static pods (no manifest, no known unit), data dir {}",
                         data_dir);
    case EtcdKind::external:
      return fmt::format("external etcd at {}", list(endpoints));
    case EtcdKind::unknown:
      return fmt::format("no etcd manifest, unit or external endpoints found; data dir {} (the config's etcd_data_dir)",
                         data_dir);
  }
  return "";
}

json EtcdLayout::to_json() const {
  json j = {{"kind", to_string(kind)},
            {"summary", summary()},
            {"data_dir", data_dir.empty() ? json(nullptr) : json(data_dir)},
            {"data_dir_origin", data_dir_origin},
            {"data_dir_mounted", data_dir_mounted},
            {"endpoints", endpoints},
            {"endpoints_origin", endpoints_origin},
            {"client_tls", {{"cacert", tls.cacert}, {"cert", tls.cert}, {"key", tls.key}, {"origin", tls.origin}}},
            {"problems", problems}};
  if (systemd) {
    json env = json::object();
    for (const auto& [k, v] : systemd->env) env[k] = v;
    j["systemd"] = {{"unit", systemd->unit}, {"env_files", systemd->env_files}, {"env", env}};
  }
  return j;
}

EtcdLayout detect_etcd_layout(const core::Config& config, const core::NodeRoot& root, const core::StaticPodScan& scan) {
  EtcdLayout l;
  const auto api = core::apiserver_etcd(scan);
  if (auto m = core::etcd_member(scan)) {
    choose_static_pod(l, *m);
  } else if (auto s = find_systemd_etcd(root)) {
    choose_systemd(l, config, *s);
  } else if (auto p = find_etcd_process(root)) {
    choose_local(l, config, root, *p);
  } else if (api && !api->servers.empty()) {
    choose_external(l, *api);
  } else {
    l.data_dir = config.etcd_data_dir;
    l.data_dir_origin = fmt::format("config etcd_data_dir (no etcd manifest in {}, no etcd unit, no kube-apiserver "
                                    "--etcd-servers)",
                                    config.static_pod_path);
    l.endpoints = {"https://127.0.0.1:2379"};
    l.endpoints_origin = "kubeadm's default";
  }
  if (!config.etcd.endpoint.empty()) {
    l.endpoints = {config.etcd.endpoint};
    l.endpoints_origin = fmt::format("config {} (etcd.endpoint)", config.origin);
  }
  l.tls = choose_tls(config, root, l, api);
  return l;
}

}  // namespace kdr::etcd
