// Values encrypted as kube-apiserver's providers encrypt them, read back with the keys of an
// EncryptionConfiguration (k8s/decrypt.hpp).
#include <catch2/catch.hpp>

#include "core/encryption.hpp"
#include "k8s/decrypt.hpp"

using namespace kdr;

namespace {

const std::string key_path = "/registry/secrets/payments/db";
const std::string plain = std::string("k8s\0", 4) + "a stored Secret";

core::EncryptionConfig config_with(const std::string& provider, const std::string& name, const std::string& secret) {
  return core::parse_encryption_config(
      "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n"
      "  providers:\n  - " + provider + ":\n      keys:\n      - name: " + name + "\n        secret: " + secret +
          "\n  - kms:\n      apiVersion: v2\n      name: vault\n      endpoint: unix:///run/kms.sock\n  - identity: {}\n",
      "enc.yaml");
}

// 32 bytes, base64
const std::string k1 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const std::string k2 = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

}  // namespace

TEST_CASE("each provider's value decrypts with its key, and not with another one") {
  for (const std::string provider : {"aescbc", "aesgcm", "secretbox"}) {
    INFO(provider);
    const auto config = config_with(provider, "key1", k1);
    const auto& key = config.rules.front().providers.front().keys.front();
    const auto stored = k8s::encrypt_value(plain, key_path, provider, key);
    CHECK(stored.rfind("k8s:enc:" + provider + ":v1:key1:", 0) == 0);
    const auto d = k8s::decrypt_value(stored, key_path, &config);
    CHECK(d.outcome == k8s::DecryptOutcome::decrypted);
    CHECK(d.key == provider + ":key1");
    CHECK(d.plaintext == plain);
    // The same key name with other key material: a wrong key (aescbc: its padding, almost always).
    const auto other = config_with(provider, "key1", k2);
    CHECK(k8s::decrypt_value(stored, key_path, &other).outcome == k8s::DecryptOutcome::wrong_key);
    // No key of that name.
    const auto renamed = config_with(provider, "key2", k1);
    CHECK(k8s::decrypt_value(stored, key_path, &renamed).outcome == k8s::DecryptOutcome::no_key);
    CHECK(k8s::decrypt_value(stored, key_path, nullptr).outcome == k8s::DecryptOutcome::no_config);
    // Cut short: never read past the end, never a crash.
    for (std::size_t cut = 0; cut < stored.size(); cut += 7) {
      const auto d2 = k8s::decrypt_value(stored.substr(0, cut), key_path, &config);
      CHECK(d2.outcome != k8s::DecryptOutcome::decrypted);
    }
  }
}

TEST_CASE("aesgcm authenticates the value's full etcd key, prefix included, as kube-apiserver's etcd3 store does") {
  const auto config = config_with("aesgcm", "key1", k1);
  const auto& key = config.rules.front().providers.front().keys.front();
  const auto stored = k8s::encrypt_value(plain, key_path, "aesgcm", key);
  CHECK(k8s::decrypt_value(stored, key_path, &config).outcome == k8s::DecryptOutcome::decrypted);
  // Copied under another key, or read with the key without its prefix: it does not open.
  CHECK(k8s::decrypt_value(stored, "/registry/secrets/payments/other", &config).outcome == k8s::DecryptOutcome::wrong_key);
  CHECK(k8s::decrypt_value(stored, "/secrets/payments/db", &config).outcome == k8s::DecryptOutcome::wrong_key);
  // aescbc and secretbox bind nothing to the key.
  for (const std::string provider : {"aescbc", "secretbox"}) {
    const auto c = config_with(provider, "key1", k1);
    const auto s = k8s::encrypt_value(plain, key_path, provider, c.rules.front().providers.front().keys.front());
    CHECK(k8s::decrypt_value(s, "/registry/secrets/payments/other", &c).outcome == k8s::DecryptOutcome::decrypted);
  }
}

TEST_CASE("KMS values are named with their plugin endpoint and never decrypted, a plain value is plain") {
  const auto config = config_with("aescbc", "key1", k1);
  const auto d = k8s::decrypt_value("k8s:enc:kms:v2:vault:\x0a\x03xyz", key_path, &config);
  CHECK(d.outcome == k8s::DecryptOutcome::kms);
  CHECK(d.detail == "unix:///run/kms.sock");
  CHECK(k8s::outcome_text(d, &config).find("outside the node") != std::string::npos);
  CHECK(k8s::decrypt_value(plain, key_path, &config).outcome == k8s::DecryptOutcome::plain);
  CHECK(k8s::decrypt_value("k8s:enc:aescbc:v1", key_path, &config).outcome == k8s::DecryptOutcome::damaged);
}

TEST_CASE("the EncryptionConfiguration's rule for a resource: the first that names it, *.group, *.*") {
  const auto c = core::parse_encryption_config(
      "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
      "- resources: [secrets]\n  providers:\n  - aescbc:\n      keys:\n      - {name: a, secret: " + k1 + "}\n"
      "- resources: ['*.apps']\n  providers:\n  - identity: {}\n"
      "- resources: ['*.*']\n  providers:\n  - secretbox:\n      keys:\n      - {name: b, secret: " + k2 + "}\n",
      "enc.yaml");
  CHECK(c.encrypts("secrets", ""));
  CHECK_FALSE(c.encrypts("deployments", "apps"));
  CHECK(c.encrypts("configmaps", ""));
  CHECK(c.rule_for("configmaps", "")->providers.front().type == "secretbox");
  CHECK(c.rules.front().providers.front().keys.front().secret.size() == 32);
}

TEST_CASE("two EncryptionConfigurations combined: a value either one's key opens decrypts") {
  const auto old_config = config_with("aescbc", "old", k1);
  const auto live = config_with("secretbox", "new", k2);
  const auto stored = k8s::encrypt_value(plain, key_path, "aescbc", old_config.rules.front().providers.front().keys.front());
  CHECK(k8s::decrypt_value(stored, key_path, &live).outcome == k8s::DecryptOutcome::no_key);
  const auto both = core::combine(live, old_config);
  REQUIRE(both);
  CHECK(k8s::decrypt_value(stored, key_path, &*both).outcome == k8s::DecryptOutcome::decrypted);
  CHECK(both->file == "enc.yaml and enc.yaml");
  CHECK(core::combine(std::nullopt, live)->keys == live.keys);
  CHECK_FALSE(core::combine(std::nullopt, std::nullopt));
}
