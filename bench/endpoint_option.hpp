// The etcd endpoint options the benchmarks' helpers share: --endpoint URL, --cacert, --cert,
// --key FILE.
#pragma once

#include <string>

#include "etcd/api.hpp"

namespace kdr::bench {

// Takes option `name` with `value` into `endpoint` when it is one of them; false otherwise.
inline bool endpoint_option(const std::string& name, const std::string& value, etcd::EtcdEndpoint& endpoint) {
  if (name == "--endpoint") endpoint.url = value;
  else if (name == "--cacert") endpoint.cacert = value;
  else if (name == "--cert") endpoint.cert = value;
  else if (name == "--key") endpoint.key = value;
  else return false;
  return true;
}

}  // namespace kdr::bench
