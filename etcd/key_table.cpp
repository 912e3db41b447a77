#include "etcd/key_table.hpp"

#include <openssl/evp.h>

#include <cstring>

#include "core/error.hpp"

namespace kdr::etcd {

KeyIdHasher::KeyIdHasher() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) throw core::Error("OpenSSL: cannot create a digest context");
}

KeyIdHasher::~KeyIdHasher() {
  if (ctx_ != nullptr) EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
}

KeyId KeyIdHasher::operator()(std::string_view key) {
  auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
  unsigned char full[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1 || EVP_DigestUpdate(ctx, key.data(), key.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, full, &size) != 1)
    throw core::Error("OpenSSL: SHA-256 failed");
  KeyId id{};
  std::memcpy(id.data(), full, id.size());
  return id;
}

}  // namespace kdr::etcd
