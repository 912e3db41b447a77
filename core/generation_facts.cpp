#include "core/generation_facts.hpp"

#include <fmt/format.h>

#include "core/error.hpp"

namespace kdr::core {

using nlohmann::json;

namespace {

// One JSON object's fields, read with their types checked: absent or null keeps the default,
// a value of another type is an Error naming where it was read.
class Fields {
 public:
  Fields(const json& j, std::string where) : j_(j), where_(std::move(where)) {
    if (!j_.is_object() && !j_.is_null()) throw Error(fmt::format("{}: expected an object", where_));
  }
  template <typename T>
  T get(const char* key, T fallback) const {
    if (!j_.is_object()) return fallback;
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return fallback;
    try {
      if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        if (!it->is_number_integer() && !it->is_number_unsigned()) throw json::type_error::create(302, "", nullptr);
      }
      return it->get<T>();
    } catch (const json::exception&) {
      throw Error(fmt::format("{}.{}: {} is not {}", where_, key, it->dump().substr(0, 40), kind_of<T>()));
    }
  }
  std::optional<json> object(const char* key) const {
    if (!j_.is_object()) return std::nullopt;
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return std::nullopt;
    if (!it->is_object()) throw Error(fmt::format("{}.{}: expected an object", where_, key));
    return *it;
  }
  std::vector<json> list(const char* key) const {
    if (!j_.is_object()) return {};
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return {};
    if (!it->is_array()) throw Error(fmt::format("{}.{}: expected a list", where_, key));
    return std::vector<json>(it->begin(), it->end());
  }
  std::string at(const char* key) const { return where_ + "." + key; }

 private:
  template <typename T>
  static const char* kind_of() {
    if constexpr (std::is_same_v<T, bool>) return "true or false";
    else if constexpr (std::is_integral_v<T>) return "a whole number";
    else if constexpr (std::is_floating_point_v<T>) return "a number";
    else if constexpr (std::is_same_v<T, std::string>) return "a string";
    else return "of the expected type";
  }
  const json& j_;
  std::string where_;
};

}  // namespace

// ---- etcd -----------------------------------------------------------------------------------

json EtcdSnapshotRecord::to_json() const {
  return {{"file", file},         {"size", size},
          {"sha256", sha256},     {"compression", compression},
          {"db_size", db_size},   {"db_sha256", db_sha256},
          {"revision", revision}, {"total_keys", total_keys},
          {"keys", keys ? json(*keys) : json(nullptr)},
          {"endpoint", endpoint}, {"server_version", server_version},
          {"cluster_id", cluster_id}, {"member_id", member_id},
          {"duration_s", duration_s},
          {"encrypted_values", encrypted_values ? json(*encrypted_values) : json(nullptr)},
          {"hashkv", hashkv ? json{{"revision", revision}, {"hash", hashkv->hash},
                                   {"compact_revision", hashkv->compact_revision}}
                            : json(nullptr)},
          {"keyspace_digest", keyspace_digest ? json{{"digest", keyspace_digest->hex}, {"keys", keyspace_digest->keys}}
                                              : json(nullptr)}};
}

EtcdSnapshotRecord EtcdSnapshotRecord::from_json(const json& j, const std::string& where) {
  const Fields f(j, where);
  EtcdSnapshotRecord s;
  s.file = f.get<std::string>("file", s.file);
  s.size = f.get<std::uint64_t>("size", 0);
  s.sha256 = f.get<std::string>("sha256", "");
  s.compression = f.get<std::string>("compression", "none");
  s.db_size = f.get<std::uint64_t>("db_size", 0);
  s.db_sha256 = f.get<std::string>("db_sha256", "");
  s.revision = f.get<std::int64_t>("revision", 0);
  s.total_keys = f.get<std::uint64_t>("total_keys", 0);
  if (auto k = f.get<std::int64_t>("keys", -1); k >= 0) s.keys = static_cast<std::uint64_t>(k);
  s.endpoint = f.get<std::string>("endpoint", "");
  s.server_version = f.get<std::string>("server_version", "");
  s.cluster_id = f.get<std::string>("cluster_id", "");
  s.member_id = f.get<std::string>("member_id", "");
  s.duration_s = f.get<double>("duration_s", 0);
  if (const auto it = j.find("encrypted_values"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) throw Error(fmt::format("{}.encrypted_values: expected an object of counts", where));
    s.encrypted_values.emplace();
    for (const auto& [key, n] : it->items()) {
      if (!n.is_number_unsigned())
        throw Error(fmt::format("{}.encrypted_values.{}: expected a whole number, got {}", where, key, n.dump()));
      (*s.encrypted_values)[key] = n.get<std::uint64_t>();
    }
  }
  if (const auto o = f.object("hashkv")) {
    const Fields h(*o, where + ".hashkv");
    HashKV v;
    v.hash = h.get<std::uint32_t>("hash", 0);
    v.compact_revision = h.get<std::int64_t>("compact_revision", 0);
    if (h.get<std::int64_t>("revision", s.revision) != s.revision)
      throw Error(fmt::format("{}.hashkv.revision: not the snapshot's revision {}", where, s.revision));
    s.hashkv = v;
  }
  if (const auto o = f.object("keyspace_digest")) {
    const Fields d(*o, where + ".keyspace_digest");
    KeyspaceDigest k;
    k.hex = d.get<std::string>("digest", "");
    k.keys = d.get<std::uint64_t>("keys", 0);
    if (k.hex.size() != 64 || k.hex.find_first_not_of("0123456789abcdef") != std::string::npos)
      throw Error(fmt::format("{}.keyspace_digest.digest: expected 64 lower-case hex digits, got {:?}", where, k.hex));
    s.keyspace_digest = k;
  }
  return s;
}

json JournalPointRecord::to_json() const {
  return {{"epoch", epoch},     {"cluster_id", cluster_id},           {"revision", revision},
          {"time_ms", time_ms}, {"base_generation", base_generation}, {"base_revision", base_revision}};
}

JournalPointRecord JournalPointRecord::from_json(const json& j, const std::string& where) {
  const Fields f(j, where);
  JournalPointRecord p;
  p.epoch = f.get<std::uint64_t>("epoch", 0);
  p.cluster_id = f.get<std::string>("cluster_id", "");
  p.revision = f.get<std::int64_t>("revision", 0);
  p.time_ms = f.get<std::int64_t>("time_ms", 0);
  p.base_generation = f.get<std::string>("base_generation", "");
  p.base_revision = f.get<std::int64_t>("base_revision", 0);
  return p;
}

json EtcdMemberRecord::to_json() const {
  return {{"id", id}, {"name", name}, {"peer_urls", peer_urls}, {"client_urls", client_urls}, {"learner", learner}};
}

EtcdMemberRecord EtcdMemberRecord::from_json(const json& j, const std::string& where) {
  const Fields f(j, where);
  EtcdMemberRecord m;
  m.id = f.get<std::string>("id", "");
  m.name = f.get<std::string>("name", "");
  m.peer_urls = f.get<std::vector<std::string>>("peer_urls", {});
  m.client_urls = f.get<std::vector<std::string>>("client_urls", {});
  m.learner = f.get<bool>("learner", false);
  return m;
}

std::string EtcdFacts::no_snapshot_reason() const {
  if (snapshot_disabled) return "turned off in the config";
  if (journal) return fmt::format("the change journal's revision {} stands for it", journal->revision);
  return snapshot_error.empty() ? std::string("none taken") : snapshot_error;
}

const EtcdMemberRecord* EtcdFacts::snapshot_member() const {
  if (!snapshot || snapshot->member_id.empty()) return nullptr;
  for (const auto& m : members)
    if (m.id == snapshot->member_id) return &m;
  return nullptr;
}

std::string EtcdFacts::snapshot_member_problem() const {
  if (!snapshot || snapshot->member_id.empty() || members.empty()) return "";
  const auto* m = snapshot_member();
  if (!m)
    return fmt::format("the snapshot was taken from member {}, which the cluster's member list does not hold (it was "
                       "removed, or fell out of the cluster): its data may be another history than the cluster's",
                       snapshot->member_id);
  if (m->learner)
    return fmt::format("the snapshot was taken from member {} ({}), a learner: it may lag behind the voting members",
                       m->name, m->id);
  return "";
}

std::string EtcdFacts::cluster_text() const {
  if (members.empty()) return "";
  std::string names;
  for (const auto& m : members) names += fmt::format("{}{}{}", names.empty() ? "" : ", ", m.name.empty() ? m.id : m.name,
                                                     m.learner ? " (learner)" : "");
  const auto* from = snapshot_member();
  return fmt::format("cluster {}, {} member{}: {}{}", snapshot ? snapshot->cluster_id : std::string("?"),
                     members.size(), members.size() == 1 ? "" : "s", names,
                     from ? fmt::format("; the snapshot from {}", from->name)
                          : snapshot && !snapshot->member_id.empty() ? fmt::format("; the snapshot from member {}", snapshot->member_id)
                                                                     : std::string());
}

json EtcdFacts::to_json() const {
  json j = {{"snapshot", snapshot ? snapshot->to_json() : json(nullptr)}};
  if (snapshot_disabled) j["snapshot_disabled"] = true;
  if (!snapshot_error.empty()) j["snapshot_error"] = snapshot_error;
  if (!snapshot_failure.empty()) j["snapshot_failure"] = snapshot_failure;
  if (journal) j["journal"] = journal->to_json();
  if (!full_because.empty()) j["full_because"] = full_because;
  if (!members.empty()) {
    j["members"] = json::array();
    for (const auto& m : members) j["members"].push_back(m.to_json());
  }
  return j;
}

EtcdFacts EtcdFacts::from_json(const json& j, const std::string& where) {
  const Fields f(j, where);
  EtcdFacts e;
  e.recorded = j.is_object();
  if (auto s = f.object("snapshot")) e.snapshot = EtcdSnapshotRecord::from_json(*s, f.at("snapshot"));
  e.snapshot_disabled = f.get<bool>("snapshot_disabled", false);
  e.snapshot_error = f.get<std::string>("snapshot_error", "");
  e.snapshot_failure = f.get<std::string>("snapshot_failure", "");
  if (auto p = f.object("journal")) e.journal = JournalPointRecord::from_json(*p, f.at("journal"));
  e.full_because = f.get<std::string>("full_because", "");
  std::size_t i = 0;
  for (const auto& m : f.list("members"))
    e.members.push_back(EtcdMemberRecord::from_json(m, fmt::format("{}[{}]", f.at("members"), i++)));
  return e;
}

// ---- node -----------------------------------------------------------------------------------

EtcdLayoutRecord EtcdLayoutRecord::from_json(const json& j, const std::string& where) {
  const Fields f(j, where);
  EtcdLayoutRecord l;
  l.raw = j;
  l.kind = f.get<std::string>("kind", "");
  l.summary = f.get<std::string>("summary", "");
  if (j.contains("data_dir") && !j["data_dir"].is_null()) l.data_dir = f.get<std::string>("data_dir", "");
  if (auto s = f.object("systemd")) {
    const Fields sf(*s, f.at("systemd"));
    l.systemd_unit = sf.get<std::string>("unit", "");
    l.systemd_env = sf.get<std::map<std::string, std::string>>("env", {});
  }
  return l;
}

std::string NodeFacts::pod_version(const std::string& pod) const {
  for (const auto& p : static_pods)
    if (p.name == pod && !p.images.empty()) return p.images.front().version;
  return "";
}

std::optional<std::string> NodeFacts::recorded_etcd_data_dir() const {
  if (etcd) return etcd->data_dir.value_or("");
  if (etcd_member) return etcd_member->data_dir_host;
  return std::nullopt;
}

json NodeFacts::to_json() const {
  json pods = json::array();
  for (const auto& p : static_pods) {
    json images = json::array();
    for (const auto& i : p.images) images.push_back({{"image", i.image}, {"version", i.version}});
    pods.push_back({{"name", p.name}, {"manifest", p.manifest}, {"images", images}});
  }
  json j = {{"hostname", hostname}, {"addresses", addresses}, {"static_pods", pods}, {"not_captured", not_captured}};
  if (etcd) {
    json e = etcd->raw;
    e["kind"] = etcd->kind;
    e["summary"] = etcd->summary;
    e["data_dir"] = etcd->data_dir ? json(*etcd->data_dir) : json(nullptr);
    if (!etcd->systemd_unit.empty() || !etcd->systemd_env.empty()) {
      if (!e.contains("systemd") || !e["systemd"].is_object()) e["systemd"] = json::object();
      e["systemd"]["unit"] = etcd->systemd_unit;
      e["systemd"]["env"] = etcd->systemd_env;
    }
    j["etcd"] = e;
  }
  if (etcd_member) {
    const auto& m = *etcd_member;
    j["etcd_member"] = {{"name", m.name},
                        {"data_dir", m.data_dir},
                        {"data_dir_host", m.data_dir_host},
                        {"client_urls", m.client_urls},
                        {"advertise_client_urls", m.advertise_client_urls},
                        {"peer_urls", m.peer_urls},
                        {"initial_cluster", m.initial_cluster},
                        {"image", m.image},
                        {"image_version", m.image_version},
                        {"manifest", m.manifest}};
  }
  if (!etcd_server_version.empty()) j["etcd_server_version"] = etcd_server_version;
  if (!kubeadm_config.empty()) j["kubeadm_config"] = kubeadm_config;
  return j;
}

NodeFacts NodeFacts::from_json(const json& j, const std::string& where) {
  const Fields f(j, where);
  NodeFacts n;
  n.recorded = j.is_object();
  n.hostname = f.get<std::string>("hostname", "");
  n.addresses = f.get<std::vector<std::string>>("addresses", {});
  std::size_t i = 0;
  for (const auto& p : f.list("static_pods")) {
    const Fields pf(p, fmt::format("{}[{}]", f.at("static_pods"), i++));
    StaticPodRecord pod;
    pod.name = pf.get<std::string>("name", "");
    pod.manifest = pf.get<std::string>("manifest", "");
    for (const auto& img : pf.list("images")) {
      const Fields imf(img, pf.at("images"));
      pod.images.push_back({imf.get<std::string>("image", ""), imf.get<std::string>("version", "")});
    }
    n.static_pods.push_back(std::move(pod));
  }
  if (auto e = f.object("etcd")) n.etcd = EtcdLayoutRecord::from_json(*e, f.at("etcd"));
  if (auto m = f.object("etcd_member")) {
    const Fields mf(*m, f.at("etcd_member"));
    EtcdMemberFacts e;
    e.name = mf.get<std::string>("name", "");
    e.data_dir = mf.get<std::string>("data_dir", "");
    e.data_dir_host = mf.get<std::string>("data_dir_host", "");
    e.client_urls = mf.get<std::vector<std::string>>("client_urls", {});
    e.advertise_client_urls = mf.get<std::vector<std::string>>("advertise_client_urls", {});
    e.peer_urls = mf.get<std::vector<std::string>>("peer_urls", {});
    e.initial_cluster = mf.get<std::string>("initial_cluster", "");
    e.image = mf.get<std::string>("image", "");
    e.image_version = mf.get<std::string>("image_version", "");
    e.manifest = mf.get<std::string>("manifest", "");
    n.etcd_member = std::move(e);
  }
  n.etcd_server_version = f.get<std::string>("etcd_server_version", "");
  n.kubeadm_config = f.get<std::string>("kubeadm_config", "");
  n.not_captured = f.get<std::vector<std::string>>("not_captured", {});
  return n;
}

}  // namespace kdr::core
