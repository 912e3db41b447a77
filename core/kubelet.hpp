// The seam to the kubelets of the cluster's nodes: their pod list, read the way kube-apiserver
// reads it (GET https://ADDRESS:PORT/pods with its kubelet client certificate,
// apiserver-kubelet-client.crt). kdr only reports what it reads there (restore/cluster_nodes.hpp);
// nothing it reads changes anything. The kubelet's serving certificate is checked against `ca`
// when one is given (clusters whose kubelets have certificates from the cluster CA, kubelet
// serverTLSBootstrap); without one it is not, as kube-apiserver does not check it unless
// --kubelet-certificate-authority is set.
#pragma once

#include <chrono>
#include <memory>
#include <string>

namespace kdr::core {

struct KubeletRequest {
  std::string address;  // an IP address or a host name
  int port = 10250;
  std::string cert, key;  // host paths of the client certificate and its key
  std::string ca;         // host path; empty: the serving certificate is not checked
  std::chrono::milliseconds timeout{5000};
  std::string url() const;  // https://ADDRESS:PORT/pods (IPv6 in brackets)
};

struct KubeletReply {
  enum class Status {
    answered,  // an HTTP answer: `http` and `body`
    silent,    // nothing answers there: refused, unreachable or timed out (`problem` says which)
    failed,    // something answers but no HTTP answer came: TLS refused, certificate files (`problem`)
  };
  Status status = Status::silent;
  long http = 0;
  std::string body;
  std::string problem;
};

class Kubelets {
 public:
  virtual ~Kubelets() = default;
  virtual KubeletReply pods(const KubeletRequest& request) const = 0;
};

std::shared_ptr<const Kubelets> real_kubelets();

}  // namespace kdr::core
