#include "etcd/watch.hpp"

#include <curl/curl.h>

#include <utility>

#include <fmt/format.h>

#include "core/base64.hpp"

namespace kdr::etcd {

using nlohmann::json;

static_assert(CURL_ERROR_SIZE <= 256);

EtcdWatchResponse parse_watch_line(std::string_view line) {
  json j;
  try {
    j = json::parse(line);
  } catch (const json::exception&) {
    throw core::Error(fmt::format("etcd's watch stream sent something that is not JSON: {}", line.substr(0, 200)));
  }
  if (j.contains("error")) {
    const auto& e = j["error"];
    throw core::Error(fmt::format("etcd ended the watch: {}", e.is_object() ? e.value("message", e.dump()) : e.dump()));
  }
  if (!j.contains("result") || !j["result"].is_object())
    throw core::Error(fmt::format("etcd's watch stream sent an object without a result: {}", line.substr(0, 200)));
  const auto& r = j["result"];
  EtcdWatchResponse out;
  const auto header = r.value("header", json::object());
  out.revision = gateway_number(header, "revision");
  out.cluster_id = gateway_hex_id(header, "cluster_id");
  out.created = r.value("created", false);
  out.canceled = r.value("canceled", false);
  out.compact_revision = gateway_number(r, "compact_revision");
  out.cancel_reason = r.value("cancel_reason", "");
  for (const auto& e : r.value("events", json::array())) {
    EtcdWatchEvent ev;
    ev.is_delete = e.value("type", "PUT") == "DELETE";
    ev.kv = parse_key_value(e.value("kv", json::object()));
    if (e.contains("prev_kv")) ev.prev = parse_key_value(e["prev_kv"]);
    out.events.push_back(std::move(ev));
  }
  return out;
}

EtcdWatch::EtcdWatch(EtcdEndpoint endpoint, std::int64_t start_revision, bool prev_kv) : endpoint_(std::move(endpoint)) {
  EtcdClient init(endpoint_);  // curl_global_init, once
  body_ = json{{"create_request",
                {{"key", core::base64_encode(std::string(1, '\0'))},
                 {"range_end", core::base64_encode(std::string(1, '\0'))},
                 {"start_revision", std::to_string(start_revision)},
                 {"prev_kv", prev_kv},
                 {"progress_notify", true}}}}
              .dump();
  multi_ = curl_multi_init();
  easy_ = curl_easy_init();
  if (multi_ == nullptr || easy_ == nullptr) throw core::Error("libcurl: cannot create a handle");
  headers_ = curl_slist_append(nullptr, "Content-Type: application/json");
  auto* c = static_cast<CURL*>(easy_);
  setup_gateway_request(c, endpoint_, "/v3/watch", body_, headers_, error_);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &EtcdWatch::on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, this);
  // A watch lasts: no overall time limit, but TCP keepalive finds a peer that vanished.
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 5L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 2L);
  curl_multi_add_handle(static_cast<CURLM*>(multi_), c);
}

EtcdWatch::~EtcdWatch() {
  if (multi_ != nullptr && easy_ != nullptr) curl_multi_remove_handle(static_cast<CURLM*>(multi_), static_cast<CURL*>(easy_));
  if (easy_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(easy_));
  if (multi_ != nullptr) curl_multi_cleanup(static_cast<CURLM*>(multi_));
  curl_slist_free_all(static_cast<curl_slist*>(headers_));
}

std::size_t EtcdWatch::on_data(char* data, std::size_t size, std::size_t n, void* self) {
  auto* w = static_cast<EtcdWatch*>(self);
  w->buffer_.append(data, size * n);
  w->received_ += size * n;
  return size * n;
}

std::vector<EtcdWatchResponse> EtcdWatch::poll(std::chrono::milliseconds timeout) {
  auto* m = static_cast<CURLM*>(multi_);
  std::vector<EtcdWatchResponse> out;
  auto take_lines = [&] {
    std::size_t start = 0;
    for (std::size_t nl; (nl = buffer_.find('\n', start)) != std::string::npos; start = nl + 1) {
      const std::string_view line(buffer_.data() + start, nl - start);
      if (!line.empty()) out.push_back(parse_watch_line(line));
    }
    buffer_.erase(0, start);
  };
  if (!done_) {
    int running = 0;
    curl_multi_perform(m, &running);
    take_lines();
    if (out.empty() && running > 0) {
      curl_multi_poll(m, nullptr, 0, static_cast<int>(timeout.count()), nullptr);
      curl_multi_perform(m, &running);
      take_lines();
    }
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(m, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      done_ = true;
      long http = 0;
      curl_easy_getinfo(static_cast<CURL*>(easy_), CURLINFO_RESPONSE_CODE, &http);
      const auto rc = msg->data.result;
      end_reason_ = rc != CURLE_OK ? fmt::format("the watch on {} failed: {}", endpoint_.url,
                                                 error_[0] != '\0' ? error_ : curl_easy_strerror(rc))
                                   : fmt::format("etcd at {} ended the watch (HTTP {})", endpoint_.url, http);
      if (!out.empty()) return out;  // hand these over first; the end is reported next time
      break;
    }
    if (!done_) return out;
  }
  if (!buffer_.empty()) {
    const std::string rest = std::exchange(buffer_, {});
    (void)parse_watch_line(rest);  // an error object without a newline throws its own message
  }
  throw core::Error(end_reason_);
}

}  // namespace kdr::etcd
