// k8s-store: writes Kubernetes objects into etcd as kube-apiserver's storage layer does, for
// the tests (there is no kube-apiserver here). It follows kube-apiserver 1.32:
//   - the key: <prefix>/<folder>/<namespace>/<name> (k8s/resources.hpp);
//   - metadata as the API server sets it on create: a uid and creationTimestamp when missing,
//     resourceVersion and selfLink cleared before storage (the etcd3 store's versioner);
//   - the value: built-in kinds encoded with Kubernetes' own .proto types (k8s/object_json.hpp's
//     from_json, as the generated Marshal writes them) in the "k8s\0" runtime.Unknown envelope
//     (runtime.Unknown.NestedMarshalTo); custom resources, CRDs and APIServices as JSON;
//   - then the EncryptionConfiguration's first provider for the resource (aescbc, aesgcm with
//     the full key as authenticated data, secretbox; identity: plain), k8s/decrypt.hpp.
//
//   k8s-store ENDPOINT CACERT CERT KEY [--encryption FILE] [--prefix P] put FILE.json...
//   k8s-store ENDPOINT CACERT CERT KEY [--prefix P] delete RESOURCE NAMESPACE NAME   ("" for cluster-scoped)
//   k8s-store ENDPOINT CACERT CERT KEY [--prefix P] raw KEY FILE         (any bytes, as a damaged value)
//   k8s-store ENDPOINT CACERT CERT KEY [--prefix P] fill N PAD_BYTES FILE.json
//       N copies of the object (a benchmark's cluster), named <name>-<i> and spread over 20
//       namespaces (ns-<i % 20>), each with an annotation of PAD_BYTES bytes; 100 per transaction
// Each FILE holds one object, or a List of them. Prints each key written.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <cstdio>
#include <random>

#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/encryption.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/generation.hpp"
#include "etcd/api.hpp"
#include "k8s/decrypt.hpp"
#include "k8s/envelope.hpp"
#include "k8s/object_json.hpp"
#include "k8s/resources.hpp"

using namespace kdr;

namespace {

std::string random_uid() {
  std::random_device rd;
  std::uniform_int_distribution<int> hex(0, 15);
  std::string s = "xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx";
  for (auto& c : s)
    if (c == 'x') c = "0123456789abcdef"[hex(rd)];
  return s;
}

k8s::ResourceType type_of(const k8s::ojson& o) {
  const auto api_version = o.value("apiVersion", "");
  const auto kind = o.value("kind", "");
  const auto slash = api_version.find('/');
  const auto group = slash == std::string::npos ? "" : api_version.substr(0, slash);
  for (const auto& t : k8s::builtin_resources())
    if (t.kind == kind && t.group == group) return t;
  // A custom resource: the plural is the lower-case kind + "s" (what a CRD would say).
  k8s::ResourceType t;
  t.group = group;
  t.kind = kind;
  t.resource = kind;
  for (auto& c : t.resource) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  t.resource += "s";
  t.folder = group + "/" + t.resource;
  t.custom = true;
  t.namespaced = o["metadata"].contains("namespace");
  return t;
}

std::string encode(const k8s::ojson& o, const k8s::ResourceType& t) {
  const auto api_version = o.value("apiVersion", "");
  const auto kind = o.value("kind", "");
  const bool json_storage = t.custom || t.group == "apiextensions.k8s.io" || t.group == "apiregistration.k8s.io";
  if (json_storage) return o.dump();
  const auto* type = k8s::Schema::builtin().message(api_version, kind);
  if (type == nullptr) throw core::Error(fmt::format("{} {} is not a built-in kind", api_version, kind));
  const auto m = k8s::from_json(o, type);
  std::string raw;
  {
    google::protobuf::io::StringOutputStream out(&raw);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);  // map keys sorted, as the generated Marshal does
    m->SerializeToCodedStream(&coded);
  }
  return k8s::write_protobuf_envelope(api_version, kind, raw);
}

std::string transform(const std::string& value, const std::string& key, const k8s::ResourceType& t,
                      const core::EncryptionConfig* config) {
  if (config == nullptr) return value;
  const auto* rule = config->rule_for(t.resource, t.group);
  if (rule == nullptr || rule->providers.empty()) return value;
  const auto& p = rule->providers.front();
  if (p.type == "identity") return value;
  if (p.keys.empty()) throw core::Error("k8s-store writes with aescbc, aesgcm or secretbox only, not " + p.type);
  return k8s::encrypt_value(value, key, p.type, p.keys.front());
}

// The key and value kube-apiserver would write for `o` on create.
etcd::EtcdOp stored_op(const std::string& prefix, const core::EncryptionConfig* config, k8s::ojson o) {
  const auto t = type_of(o);
  auto& meta = o["metadata"];
  if (!meta.contains("uid")) meta["uid"] = random_uid();
  if (!meta.contains("creationTimestamp")) meta["creationTimestamp"] = core::iso_time(core::now_epoch());
  meta.erase("resourceVersion");
  meta.erase("selfLink");
  const auto ns = t.namespaced ? meta.value("namespace", "default") : "";
  const auto key = k8s::object_key(t, ns, meta.value("name", ""), prefix);
  return etcd::EtcdOp{false, key, transform(encode(o, t), key, t, config), 0};
}

void put(etcd::EtcdApi& etcd, const std::string& prefix, const core::EncryptionConfig* config, k8s::ojson o) {
  const auto op = stored_op(prefix, config, std::move(o));
  etcd.apply({op});
  std::puts(op.key.c_str());
}

void fill(etcd::EtcdApi& etcd, const std::string& prefix, const core::EncryptionConfig* config, std::size_t n,
          std::size_t pad, const k8s::ojson& model) {
  std::vector<etcd::EtcdOp> batch;
  const std::string padding(pad, 'x');
  const auto base = model["metadata"].value("name", "object");
  for (std::size_t i = 0; i < n; ++i) {
    auto o = model;
    o["metadata"]["name"] = fmt::format("{}-{:06}", base, i);
    if (o["metadata"].contains("namespace")) o["metadata"]["namespace"] = fmt::format("ns-{:02}", i % 20);
    o["metadata"]["annotations"]["bench.kdr/padding"] = padding;
    batch.push_back(stored_op(prefix, config, std::move(o)));
    if (batch.size() == 100 || i + 1 == n) {
      etcd.apply(batch);
      batch.clear();
    }
  }
  std::printf("%zu objects\n", n);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() < 5) throw core::Error("usage: k8s-store ENDPOINT CACERT CERT KEY [--encryption FILE] [--prefix P] put|delete|raw ...");
    const etcd::EtcdEndpoint endpoint{args[0], args[1], args[2], args[3]};
    std::size_t i = 4;
    std::optional<core::EncryptionConfig> config;
    std::string prefix = "/registry";
    for (; i + 1 < args.size() && args[i].rfind("--", 0) == 0; i += 2) {
      if (args[i] == "--encryption") config = core::parse_encryption_config(core::read_file(args[i + 1]), args[i + 1]);
      else if (args[i] == "--prefix") prefix = args[i + 1];
      else throw core::Error("unknown option " + args[i]);
    }
    const auto etcd = etcd::real_etcd()->connect(endpoint);
    const auto verb = args.at(i++);
    if (verb == "put") {
      for (; i < args.size(); ++i) {
        auto doc = k8s::ojson::parse(core::read_file(args[i]));
        if (doc.value("kind", "") == "List")
          for (auto& item : doc["items"]) put(*etcd, prefix, config ? &*config : nullptr, item);
        else
          put(*etcd, prefix, config ? &*config : nullptr, doc);
      }
    } else if (verb == "delete") {
      const auto t = k8s::find_resource(args.at(i));
      if (!t) throw core::Error("no resource " + args.at(i));
      const auto key = k8s::object_key(*t, args.at(i + 1), args.at(i + 2), prefix);
      etcd->apply({etcd::EtcdOp{true, key, "", 0}});
      std::puts(key.c_str());
    } else if (verb == "fill") {
      const auto n = std::stoul(args.at(i)), pad = std::stoul(args.at(i + 1));
      fill(*etcd, prefix, config ? &*config : nullptr, n, pad, k8s::ojson::parse(core::read_file(args.at(i + 2))));
    } else if (verb == "raw") {
      etcd->apply({etcd::EtcdOp{false, args.at(i), core::read_file(args.at(i + 1)), 0}});
      std::puts(args.at(i).c_str());
    } else {
      throw core::Error("unknown verb " + verb);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "k8s-store: %s\n", e.what());
    return 1;
  }
}
