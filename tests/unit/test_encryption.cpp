#include <catch2/catch.hpp>

#include "core/encryption.hpp"
#include "core/error.hpp"

using namespace kdr;

TEST_CASE("encryption: the key a stored value names, as kube-apiserver's providers prefix it") {
  CHECK(core::encryption_key_of("k8s:enc:aescbc:v1:key1:\x01\x02") == "aescbc:key1");
  CHECK(core::encryption_key_of("k8s:enc:secretbox:v1:box:xyz") == "secretbox:box");
  CHECK(core::encryption_key_of("k8s:enc:kms:v2:vault-plugin:\n\x05") == "kms:vault-plugin");
  CHECK_FALSE(core::encryption_key_of(std::string("k8s\0\x0a\x0b", 5)));  // protobuf in the clear
  CHECK_FALSE(core::encryption_key_of("{\"kind\":\"Secret\"}"));
  CHECK_FALSE(core::encryption_key_of("k8s:enc:aescbc:v1:"));  // no key name
  core::EncryptionKeyUse use;
  for (const char* v : {"k8s:enc:aescbc:v1:key1:a", "k8s:enc:aescbc:v1:key1:b", "k8s:enc:aescbc:v1:key2:c", "plain"})
    core::count_encryption_key(v, use);
  CHECK(use == core::EncryptionKeyUse{{"aescbc:key1", 2}, {"aescbc:key2", 1}});
  CHECK(core::key_use_text(use) == "2 values encrypted with aescbc:key1, 1 value encrypted with aescbc:key2");
}

TEST_CASE("encryption: an EncryptionConfiguration's keys, and what it cannot decrypt") {
  const auto config = core::parse_encryption_config(R"(apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets, configmaps]
  providers:
  - aesgcm:
      keys:
      - {name: new, secret: c2VjcmV0}
      - {name: old, secret: c2VjcmV0}
  - kms: {apiVersion: v2, name: vault, endpoint: unix:///run/kms.sock}
  - identity: {}
)",
                                                    "/etc/kubernetes/enc.yaml");
  CHECK(config.keys == std::set<std::string>{"aesgcm:new", "aesgcm:old", "kms:vault"});
  const core::EncryptionKeyUse use{{"aesgcm:old", 4}, {"aescbc:old", 2}, {"kms:vault", 1}};
  CHECK(core::undecryptable(use, &config) == core::EncryptionKeyUse{{"aescbc:old", 2}});  // the provider counts too
  CHECK(core::undecryptable(use, nullptr) == use);
  CHECK_THROWS_WITH(core::parse_encryption_config("kind: Pod\n", "/x.yaml"), Catch::Contains("/x.yaml: not an EncryptionConfiguration"));
  CHECK_THROWS_WITH(core::parse_encryption_config("kind: EncryptionConfiguration\nresources: 3\n", "/x.yaml"),
                    Catch::Contains("/x.yaml:2:"));
}
