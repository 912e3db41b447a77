#include "core/kubelet.hpp"

#include <curl/curl.h>

#include <mutex>

#include <fmt/format.h>

namespace kdr::core {

std::string KubeletRequest::url() const {
  const bool v6 = address.find(':') != std::string::npos;
  return fmt::format("https://{}{}{}:{}/pods", v6 ? "[" : "", address, v6 ? "]" : "", port);
}

namespace {

// A pod list of a big node is a few MB; more than this is not a kubelet's answer.
constexpr std::size_t max_body = 256u << 20;

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
  auto* s = static_cast<std::string*>(out);
  if (s->size() + size * n > max_body) return 0;
  s->append(data, size * n);
  return size * n;
}

bool nothing_answers(CURLcode rc) {
  return rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_COULDNT_RESOLVE_HOST;
}

class RealKubelets final : public Kubelets {
 public:
  KubeletReply pods(const KubeletRequest& req) const override {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> c(curl_easy_init(), &curl_easy_cleanup);
    KubeletReply reply;
    if (!c) {
      reply.status = KubeletReply::Status::failed;
      reply.problem = "libcurl: cannot create a handle";
      return reply;
    }
    char error[CURL_ERROR_SIZE] = {0};
    const auto url = req.url();
    curl_easy_setopt(c.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(c.get(), CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c.get(), CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(c.get(), CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.timeout.count()));
    curl_easy_setopt(c.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count() * 4));
    curl_easy_setopt(c.get(), CURLOPT_SSLCERT, req.cert.c_str());
    curl_easy_setopt(c.get(), CURLOPT_SSLKEY, req.key.c_str());
    if (req.ca.empty()) {
      curl_easy_setopt(c.get(), CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(c.get(), CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
      curl_easy_setopt(c.get(), CURLOPT_CAINFO, req.ca.c_str());
    }
    curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &reply.body);
    const CURLcode rc = curl_easy_perform(c.get());
    if (rc != CURLE_OK) {
      reply.status = nothing_answers(rc) ? KubeletReply::Status::silent : KubeletReply::Status::failed;
      reply.problem = fmt::format("{}: {}", url, error[0] != '\0' ? error : curl_easy_strerror(rc));
      reply.body.clear();
      return reply;
    }
    reply.status = KubeletReply::Status::answered;
    curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &reply.http);
    return reply;
  }
};

}  // namespace

std::shared_ptr<const Kubelets> real_kubelets() {
  static const auto k = std::make_shared<const RealKubelets>();
  return k;
}

}  // namespace kdr::core
