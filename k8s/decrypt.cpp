#include "k8s/decrypt.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sodium.h>

#include <memory>

#include <fmt/format.h>

#include "core/error.hpp"
#include "k8s/envelope.hpp"

namespace kdr::k8s {

namespace {

using Ctx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

const EVP_CIPHER* aes(const std::string& mode, std::size_t key_size) {
  if (mode == "cbc") {
    if (key_size == 16) return EVP_aes_128_cbc();
    if (key_size == 24) return EVP_aes_192_cbc();
    if (key_size == 32) return EVP_aes_256_cbc();
  } else {
    if (key_size == 16) return EVP_aes_128_gcm();
    if (key_size == 24) return EVP_aes_192_gcm();
    if (key_size == 32) return EVP_aes_256_gcm();
  }
  return nullptr;
}

constexpr std::size_t cbc_iv = 16, gcm_nonce = 12, gcm_tag = 16;

std::optional<std::string> open_aescbc(std::string_view data, const std::string& key) {
  const auto* cipher = aes("cbc", key.size());
  if (cipher == nullptr || data.size() < 2 * cbc_iv || data.size() % cbc_iv != 0) return std::nullopt;
  Ctx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  std::string out(data.size(), '\0');
  int n = 0, m = 0;
  if (EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, bytes(key), bytes(data)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), bytes(out), &n, bytes(data.substr(cbc_iv)), static_cast<int>(data.size() - cbc_iv)) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), bytes(out) + n, &m) != 1)  // checks the PKCS#7 padding
    return std::nullopt;
  out.resize(static_cast<std::size_t>(n + m));
  return out;
}

std::optional<std::string> open_aesgcm(std::string_view data, const std::string& key, std::string_view ad) {
  const auto* cipher = aes("gcm", key.size());
  if (cipher == nullptr || data.size() < gcm_nonce + gcm_tag) return std::nullopt;
  const auto nonce = data.substr(0, gcm_nonce);
  const auto body = data.substr(gcm_nonce, data.size() - gcm_nonce - gcm_tag);
  std::string tag(data.substr(data.size() - gcm_tag));
  Ctx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  std::string out(body.size() + 16, '\0');
  int n = 0, m = 0;
  if (EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(gcm_nonce), nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, bytes(key), bytes(nonce)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &n, bytes(ad), static_cast<int>(ad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), bytes(out), &n, bytes(body), static_cast<int>(body.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(gcm_tag), tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), bytes(out) + n, &m) != 1)
    return std::nullopt;
  out.resize(static_cast<std::size_t>(n + m));
  return out;
}

std::optional<std::string> open_secretbox(std::string_view data, const std::string& key) {
  if (key.size() != crypto_secretbox_KEYBYTES || data.size() < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
    return std::nullopt;
  const auto box = data.substr(crypto_secretbox_NONCEBYTES);
  std::string out(box.size() - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(bytes(out), bytes(box), box.size(), bytes(data), bytes(key)) != 0) return std::nullopt;
  return out;
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(bytes(out), static_cast<int>(n)) != 1) throw core::Error("no random bytes from OpenSSL");
  return out;
}

}  // namespace

Decryption decrypt_value(std::string_view stored, std::string_view etcd_key, const core::EncryptionConfig* config) {
  Decryption out;
  if (stored_form(stored) != StoredForm::encrypted) return out;
  const auto env = read_encrypted_envelope(stored);
  if (!env) {
    out.outcome = DecryptOutcome::damaged;
    out.detail = "its encryption prefix (k8s:enc:<provider>:<version>:<key>:) is malformed";
    return out;
  }
  out.key = env->provider + ":" + env->key_name;
  if (config == nullptr) {
    out.outcome = DecryptOutcome::no_config;
    return out;
  }
  bool found = false;
  for (const auto& rule : config->rules) {
    for (const auto& provider : rule.providers) {
      if (provider.type != env->provider) continue;
      if (provider.type == "kms") {
        if (provider.kms_name != env->key_name) continue;
        out.outcome = DecryptOutcome::kms;
        out.detail = provider.kms_endpoint;
        return out;
      }
      for (const auto& key : provider.keys) {
        if (key.name != env->key_name) continue;
        found = true;
        std::optional<std::string> plain;
        if (provider.type == "aescbc") plain = open_aescbc(env->payload, key.secret);
        else if (provider.type == "aesgcm") plain = open_aesgcm(env->payload, key.secret, etcd_key);
        else if (provider.type == "secretbox") plain = open_secretbox(env->payload, key.secret);
        // aescbc has no authentication: with a wrong key its padding still checks about once in 256
        // tries. What kube-apiserver encrypted is always an object (protobuf or JSON).
        if (plain && provider.type == "aescbc" && plain->rfind(std::string_view("k8s\0", 4), 0) != 0 &&
            plain->rfind('{', 0) != 0)
          plain.reset();
        if (plain) {
          out.outcome = DecryptOutcome::decrypted;
          out.plaintext = std::move(*plain);
          return out;
        }
      }
    }
  }
  if (env->provider == "kms") {
    out.outcome = DecryptOutcome::no_key;
    return out;
  }
  out.outcome = found ? DecryptOutcome::wrong_key : DecryptOutcome::no_key;
  return out;
}

std::string outcome_text(const Decryption& d, const core::EncryptionConfig* config) {
  const auto file = config != nullptr ? config->file : std::string("the EncryptionConfiguration");
  switch (d.outcome) {
    case DecryptOutcome::plain: return "stored in the clear";
    case DecryptOutcome::decrypted: return "decrypts with " + d.key;
    case DecryptOutcome::no_config: return "encrypted with " + d.key + ", and no EncryptionConfiguration to decrypt it with";
    case DecryptOutcome::no_key: return fmt::format("encrypted with {}, which {} has no key for", d.key, file);
    case DecryptOutcome::wrong_key:
      return fmt::format("encrypted with {}, and {}'s key of that name does not decrypt it (another key, or the value is damaged)",
                         d.key, file);
    case DecryptOutcome::kms:
      return fmt::format("encrypted by the KMS plugin {} ({}): its key is outside the node, not checked", d.key,
                         d.detail.empty() ? "no endpoint" : d.detail);
    case DecryptOutcome::damaged: return "damaged: " + d.detail;
  }
  return "";
}

std::string encrypt_value(std::string_view plain, std::string_view etcd_key, const std::string& provider,
                          const core::EncryptionKey& key) {
  std::string out = fmt::format("k8s:enc:{}:v1:{}:", provider, key.name);
  if (provider == "secretbox") {
    if (key.secret.size() != crypto_secretbox_KEYBYTES) throw core::Error("a secretbox key is 32 bytes");
    const auto nonce = random_bytes(crypto_secretbox_NONCEBYTES);
    std::string box(plain.size() + crypto_secretbox_MACBYTES, '\0');
    crypto_secretbox_easy(bytes(box), bytes(plain), plain.size(), bytes(nonce), bytes(key.secret));
    return out + nonce + box;
  }
  const bool gcm = provider == "aesgcm";
  const auto* cipher = aes(gcm ? "gcm" : "cbc", key.secret.size());
  if (cipher == nullptr || (!gcm && provider != "aescbc")) throw core::Error("cannot encrypt with " + provider);
  const auto iv = random_bytes(gcm ? gcm_nonce : cbc_iv);
  Ctx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  std::string body(plain.size() + 32, '\0');
  int n = 0, m = 0;
  bool ok = EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, nullptr, nullptr) == 1;
  if (gcm) ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(gcm_nonce), nullptr) == 1;
  ok = ok && EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, bytes(key.secret), bytes(iv)) == 1;
  if (gcm) ok = ok && EVP_EncryptUpdate(ctx.get(), nullptr, &n, bytes(etcd_key), static_cast<int>(etcd_key.size())) == 1;
  ok = ok && EVP_EncryptUpdate(ctx.get(), bytes(body), &n, bytes(plain), static_cast<int>(plain.size())) == 1 &&
       EVP_EncryptFinal_ex(ctx.get(), bytes(body) + n, &m) == 1;
  body.resize(static_cast<std::size_t>(n + m));
  if (gcm) {
    std::string tag(gcm_tag, '\0');
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(gcm_tag), tag.data()) == 1;
    body += tag;
  }
  if (!ok) throw core::Error("OpenSSL could not encrypt with " + provider);
  return out + iv + body;
}

}  // namespace kdr::k8s
