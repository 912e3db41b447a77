// The rule every fuzz target enforces, on top of the sanitizers: a parser given any bytes
// either accepts them or throws kdr's own Error whose message starts with the input's name
// (file, and line where it has lines), so the operator learns what is wrong and where.
// Any other exception escaping is a bug: abort() makes libFuzzer (or the replay driver)
// report it with the input.
#pragma once

#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>

#include "core/encryption.hpp"
#include "core/error.hpp"

namespace kdr::fuzz {

inline constexpr const char* origin = "fuzz-input.txt";

// An EncryptionConfiguration with one fixed key per provider (the k8s_* targets and their seeds:
// tests/fuzz/corpus/k8s_encryption/ holds values encrypted with these keys).
inline const core::EncryptionConfig& k8s_encryption() {
  static const core::EncryptionConfig config = [] {
    core::EncryptionConfig c;
    c.file = "fuzz-encryption.yaml";
    core::EncryptionRule rule;
    rule.resources = {"secrets"};
    rule.providers.push_back({"aescbc", {{"k1", std::string(32, 'a')}}, "", "", ""});
    rule.providers.push_back({"aesgcm", {{"k2", std::string(32, 'b')}}, "", "", ""});
    rule.providers.push_back({"secretbox", {{"k3", std::string(32, 'c')}}, "", "", ""});
    rule.providers.push_back({"kms", {}, "vault", "unix:///kms.sock", "v2"});
    c.rules.push_back(rule);
    c.keys = {"aescbc:k1", "aesgcm:k2", "secretbox:k3", "kms:vault"};
    return c;
  }();
  return config;
}

template <typename Parse>
void expect_clear_rejection(const std::uint8_t* data, std::size_t size, Parse parse) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    parse(text);
  } catch (const core::Error& e) {
    const std::string message = e.what();
    if (message.rfind(origin, 0) != 0) {
      std::fprintf(stderr, "rejection does not name the input: %s\n", message.c_str());
      std::abort();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "escaped as %s, not kdr's Error: %s\n", typeid(e).name(), e.what());
    std::abort();
  }
}

}  // namespace kdr::fuzz
