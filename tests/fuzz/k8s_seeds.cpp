// Writes the seed inputs of the k8s_* fuzz targets (tests/fuzz/corpus/k8s_*/) from the object
// corpus (tests/fixtures/k8s-objects): each object as kube-apiserver stores it, Secrets
// encrypted with the fuzz targets' fixed keys (fuzz_check.hpp), and etcd keys of every form.
//   k8s-fuzz-seeds SOURCE_DIR
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <cstdio>

#include "core/fs.hpp"
#include "k8s/decrypt.hpp"
#include "k8s/envelope.hpp"
#include "k8s/object_json.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace kdr;

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const core::bfs::path src = argv[1];
  const auto corpus = src / "tests/fuzz/corpus";
  const auto& config = fuzz::k8s_encryption();
  for (const auto& name : core::list_dir(src / "tests/fixtures/k8s-objects")) {
    const auto object = k8s::ojson::parse(core::read_file(src / "tests/fixtures/k8s-objects" / name));
    const auto stem = name.substr(0, name.size() - 5);
    const auto api_version = object["apiVersion"].get<std::string>();
    const auto kind = object["kind"].get<std::string>();
    const auto* type = k8s::Schema::builtin().message(api_version, kind);
    std::string value;
    if (type == nullptr) {
      value = object.dump();
    } else {
      std::string raw;
      {
        google::protobuf::io::StringOutputStream out(&raw);
        google::protobuf::io::CodedOutputStream coded(&out);
        coded.SetSerializationDeterministic(true);
        k8s::from_json(object, type)->SerializeToCodedStream(&coded);
      }
      value = k8s::write_protobuf_envelope(api_version, kind, raw);
    }
    core::write_file_atomic(corpus / "k8s_object" / stem, value);
    if (kind != "Secret") continue;
    for (const auto& p : config.rules.front().providers) {
      if (p.keys.empty()) continue;
      const auto sealed = k8s::encrypt_value(value, "/registry/secrets/payments/db", p.type, p.keys.front());
      core::write_file_atomic(corpus / "k8s_object" / (stem + "-" + p.type), sealed);
      core::write_file_atomic(corpus / "k8s_encryption" / (stem + "-" + p.type), sealed);
    }
  }
  const char* keys[] = {"/registry/deployments/payments/api", "/registry/minions/cp1", "/registry/services/specs/default/kubernetes",
                        "/registry/services/endpoints/default/kubernetes", "/registry/stable.example.com/crontabs/payments/nightly",
                        "/registry/apiregistration.k8s.io/apiservices/v1.apps", "/registry/namespaces/payments",
                        "/registry/leases/kube-node-lease/cp1", "/registry//x", "compact_rev_key"};
  int i = 0;
  for (const char* k : keys) core::write_file_atomic(corpus / "k8s_key" / std::to_string(++i), k);
  return 0;
}
