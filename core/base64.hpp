// Base64 (RFC 4648, with padding), as etcd's JSON gateway, kubeconfigs and Kubernetes' Secret
// data in JSON write it.
#pragma once

#include <string>
#include <string_view>

namespace kdr::core {

std::string base64_encode(std::string_view bytes);
// Throws Error on text that is not base64.
std::string base64_decode(std::string_view text);

}  // namespace kdr::core
