#include "etcd/client.hpp"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <exception>
#include <chrono>
#include <future>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "core/base64.hpp"
#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "etcd/grpc_range.hpp"
#include "etcd/grpc_snapshot.hpp"
#include "etcd/range_reply.hpp"
#include "etcd/watch.hpp"

namespace kdr::etcd {

using nlohmann::json;

namespace {

constexpr const char* grpc_range_path = "/etcdserverpb.KV/Range";

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<TextChunks*>(out)->append(data, size * n);
  return size * n;
}

// What a gRPC answer's headers and trailers say (curl hands both to the header function).
struct GrpcHeaders {
  bool grpc = false;
  int status = -1;
  std::string message;
};

// grpc-message is percent-encoded.
std::string percent_decoded(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) != 0 &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2])) != 0) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::size_t grpc_header(char* data, std::size_t size, std::size_t n, void* out) {
  auto& h = *static_cast<GrpcHeaders*>(out);
  const std::string_view line(data, size * n);
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name(line.substr(0, colon));
  for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
  if (name == "content-type") h.grpc = value.rfind("application/grpc", 0) == 0;
  else if (name == "grpc-status") h.status = std::atoi(std::string(value).c_str());
  else if (name == "grpc-message") h.message = percent_decoded(value);
  return size * n;
}

json mod_revision_is(const std::string& key, std::int64_t expected) {
  return {{"target", "MOD"}, {"key", core::base64_encode(key)}, {"mod_revision", std::to_string(expected)},
          {"result", "EQUAL"}};
}

}  // namespace

std::int64_t gateway_number(const json& j, const char* name) {
  // The gateway writes 64-bit numbers as strings, and leaves out zeros.
  if (!j.contains(name)) return 0;
  const auto& v = j[name];
  if (v.is_number()) return v.get<std::int64_t>();
  if (v.is_string()) return std::stoll(v.get<std::string>());
  return 0;
}

std::string gateway_hex_id(const json& j, const char* name) {
  if (!j.contains(name)) return "0";
  const auto& v = j[name];
  return fmt::format("{:x}", v.is_string() ? std::stoull(v.get<std::string>()) : v.get<std::uint64_t>());
}

EtcdKeyValue parse_key_value(const json& kv) {
  EtcdKeyValue out;
  out.key = core::base64_decode(kv.value("key", ""));
  out.value = core::base64_decode(kv.value("value", ""));
  out.create_revision = gateway_number(kv, "create_revision");
  out.mod_revision = gateway_number(kv, "mod_revision");
  out.version = gateway_number(kv, "version");
  out.lease = gateway_number(kv, "lease");
  return out;
}

std::optional<std::string> unix_socket_of(const std::string& url) {
  constexpr std::string_view scheme = "unix://";
  if (url.compare(0, scheme.size(), scheme) != 0) return std::nullopt;
  return url.substr(scheme.size());
}

void setup_gateway_request(void* curl, const EtcdEndpoint& endpoint, const std::string& path, const std::string& body,
                           void* headers, char* error) {
  auto* c = static_cast<CURL*>(curl);
  const auto socket = unix_socket_of(endpoint.url);
  if (socket) {
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket->c_str());
    curl_easy_setopt(c, CURLOPT_URL, ("http://localhost" + path).c_str());
  } else {
    curl_easy_setopt(c, CURLOPT_URL, (endpoint.url + path).c_str());
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(headers));
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  if (!endpoint.cacert.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, endpoint.cacert.c_str());
  if (!endpoint.cert.empty()) curl_easy_setopt(c, CURLOPT_SSLCERT, endpoint.cert.c_str());
  if (!endpoint.key.empty()) curl_easy_setopt(c, CURLOPT_SSLKEY, endpoint.key.c_str());
}

std::string etcd_prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

EtcdClient::EtcdClient(EtcdEndpoint endpoint, std::chrono::milliseconds timeout)
    : endpoint_(std::move(endpoint)), timeout_(timeout) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
  if (curl_ == nullptr) throw core::Error("libcurl: cannot create a handle");
}

EtcdClient::~EtcdClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

EtcdClient::Reply EtcdClient::post(const std::string& path, const json& body) { return send(path, body.dump(), false); }

EtcdClient::Reply EtcdClient::post_grpc(const std::string& path, const std::string& framed) {
  return send(path, framed, true);
}

namespace {

// What the transport's failure was, by libcurl's code.
EtcdTransportFault transport_fault(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
      return EtcdTransportFault::unreachable;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CIPHER:
      return EtcdTransportFault::certificate;
    case CURLE_OPERATION_TIMEDOUT:
      return EtcdTransportFault::timeout;
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
      return EtcdTransportFault::cut;
    default:
      return EtcdTransportFault::other;
  }
}

// The body of an answer: collected, or, once its headers say gRPC, handed to a stream. An
// exception of the stream is kept (it must not cross libcurl) and stops the transfer.
struct BodyTarget {
  TextChunks* collected;
  const GrpcHeaders* headers;
  const EtcdClient::Streaming* stream;  // may be null
  std::exception_ptr failed;
};

std::size_t take_body(char* data, std::size_t size, std::size_t n, void* out) {
  auto& t = *static_cast<BodyTarget*>(out);
  if (t.stream == nullptr || !t.headers->grpc) return collect(data, size, n, t.collected);
  try {
    t.stream->on_bytes(std::string_view(data, size * n));
    return size * n;
  } catch (...) {
    t.failed = std::current_exception();
    return 0;
  }
}

// Stops a transfer once Ctrl-C or SIGTERM came.
int stop_if_interrupted(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t) { return core::interrupted() ? 1 : 0; }

}  // namespace

EtcdClient::Reply EtcdClient::send(const std::string& path, const std::string& body, bool grpc,
                                   const Streaming* stream) {
  auto* c = static_cast<CURL*>(curl_);
  curl_easy_reset(c);
  Reply reply;
  GrpcHeaders h;
  BodyTarget target{&reply.body, &h, stream, nullptr};
  char error[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = curl_slist_append(nullptr, grpc ? "Content-Type: application/grpc" : "Content-Type: application/json");
  if (grpc) headers = curl_slist_append(headers, "TE: trailers");
  setup_gateway_request(c, endpoint_, path, body, headers, error);
  if (grpc) {
    // HTTP/2 agreed in TLS's handshake (ALPN), or spoken at once on a plain or unix socket
    // (etcd tells gRPC apart from the gateway by HTTP/2 and the content type)
    const bool tls = endpoint_.url.rfind("https://", 0) == 0;
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, tls ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, grpc_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, take_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &target);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>((stream != nullptr ? stream->timeout : timeout_).count()));
  if (stream != nullptr) {
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L << 10);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, stop_if_interrupted);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  }
  const CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.http);
  curl_slist_free_all(headers);
  if (target.failed) std::rethrow_exception(target.failed);
  if (rc == CURLE_ABORTED_BY_CALLBACK) core::check_interrupted();
  if (rc != CURLE_OK)
    throw EtcdTransportError(
        fmt::format("etcd at {}: {}", endpoint_.url, error[0] != '\0' ? error : curl_easy_strerror(rc)),
        transport_fault(rc));
  reply.grpc = grpc && h.grpc && reply.http == 200;
  reply.grpc_status = h.status;
  reply.grpc_message = std::move(h.message);
  return reply;
}

bool EtcdClient::snapshot(const std::function<void(std::string_view)>& sink, std::chrono::seconds timeout) {
  if (!grpc_ranges_) return false;  // this endpoint was found not to speak gRPC
  const auto origin = fmt::format("etcd at {}{}", endpoint_.url, grpc_snapshot_path);
  SnapshotStreamReader reader(sink, origin);
  const Streaming stream{[&reader](std::string_view bytes) { reader.feed(bytes); }, timeout};
  Reply reply;
  try {
    reply = send(std::string(grpc_snapshot_path), grpc_snapshot_request(), true, &stream);
  } catch (const EtcdTransportError& e) {
    // nothing came: no HTTP/2 there (a proxy of the gateway alone closes such a connection)
    if (reader.received() > 0 || e.fault() == EtcdTransportFault::timeout) throw;
    grpc_ranges_ = false;
    return false;
  }
  if (!reply.grpc) {
    grpc_ranges_ = false;
    return false;
  }
  if (reply.grpc_status > 0)
    throw EtcdApiError(fmt::format("{}: {}", origin,
                                   reply.grpc_message.empty() ? fmt::format("gRPC status {}", reply.grpc_status)
                                                              : reply.grpc_message),
                       reply.grpc_status);
  if (!reader.complete() || reply.grpc_status != 0) {
    const auto size = reader.database_size();
    throw EtcdTransportError(
        fmt::format("{}: the stream ended after {} bytes{}, {}", origin, reader.received(),
                    size ? fmt::format(" of {}", *size + 32) : std::string(),
                    reader.complete() ? "without gRPC's status" : "before the snapshot's end"),
        EtcdTransportFault::cut);
  }
  return true;
}

json EtcdClient::parse(const std::string& path, const Reply& reply) const {
  const auto text = reply.body.joined();
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception&) {
    if (reply.http == 404)  // the gateway has no such call: gRPC's Unimplemented
      throw EtcdApiError(fmt::format("etcd at {}: it has no {}", endpoint_.url, path), 12);
    throw core::Error(fmt::format("etcd at {}{}: HTTP {}, not JSON: {}", endpoint_.url, path, reply.http, text.substr(0, 200)));
  }
  if (reply.http != 200 || j.contains("error"))
    throw EtcdApiError(fmt::format("etcd at {}{}: HTTP {}: {}", endpoint_.url, path, reply.http,
                                   j.value("message", j.value("error", text.substr(0, 200)))),
                       j.contains("code") && j["code"].is_number() ? j["code"].get<int>() : 0);
  return j;
}

json EtcdClient::call(const std::string& path, const json& body) { return parse(path, post(path, body)); }

EtcdStatus EtcdClient::status() {
  const auto j = call("/v3/maintenance/status", json::object());
  EtcdStatus s;
  s.version = j.value("version", "");
  s.db_size = static_cast<std::uint64_t>(gateway_number(j, "dbSize"));
  const auto header = j.value("header", json::object());
  s.revision = gateway_number(header, "revision");
  s.cluster_id = gateway_hex_id(header, "cluster_id");
  s.member_id = gateway_hex_id(header, "member_id");
  s.raft_term = static_cast<std::uint64_t>(gateway_number(j, "raftTerm"));
  s.raft_index = static_cast<std::uint64_t>(gateway_number(j, "raftIndex"));
  s.raft_applied_index = static_cast<std::uint64_t>(gateway_number(j, "raftAppliedIndex"));
  return s;
}

std::optional<EtcdHashKV> EtcdClient::hash_kv(std::int64_t revision) {
  json j;
  try {
    j = call("/v3/maintenance/hashkv", {{"revision", std::to_string(revision)}});
  } catch (const EtcdApiError& e) {
    if (e.unimplemented()) return std::nullopt;
    throw;
  }
  EtcdHashKV h;
  h.revision = revision > 0 ? revision : gateway_number(j.value("header", json::object()), "revision");
  h.compact_revision = gateway_number(j, "compact_revision");
  h.hash = static_cast<std::uint32_t>(gateway_number(j, "hash"));
  return h;
}

EtcdHash EtcdClient::hash() {
  const auto j = call("/v3/maintenance/hash", json::object());
  EtcdHash h;
  h.revision = gateway_number(j.value("header", json::object()), "revision");
  h.hash = static_cast<std::uint32_t>(gateway_number(j, "hash"));
  return h;
}

std::vector<EtcdKeyValue> EtcdClient::prefix(const std::string& prefix, const EtcdRangeOptions& options) {
  std::vector<EtcdKeyValue> out;
  scan(prefix, options, [&](EtcdKeyValue&& kv) { out.push_back(std::move(kv)); });
  return out;
}

std::int64_t EtcdClient::scan(const std::string& prefix, const EtcdRangeOptions& options,
                              const std::function<void(EtcdKeyValue&&)>& each) {
  // Pages sized by bytes, not keys: a page aims at about 2 MiB of JSON, whatever the values
  // weigh (Kubernetes objects are kilobytes, some values are a megabyte). The next page's
  // limit follows from what this page's keys weighed (or the read's so far, if more), and at
  // most doubles from page to page (a run of large values after small ones does not make one
  // huge page). The next page is asked for once this one is loaded (its last key known), and
  // arrives while `each` handles this one, so that etcd's gateway encodes it while kdr decodes:
  // the text of two pages in memory at most, and one decoded value (range_reply.hpp). `each`
  // must not call this client.
  //
  // etcd counts every key of the range it is asked for, whatever the limit (its answer's
  // `count`): a page walks etcd's index from its first key to the range's end, and n keys read
  // in pages of p cost n * n / 2p steps (175,000 ConfigMaps at 8 GiB: 65 ms a page at the start,
  // 6 ms at the end). A range of more than `walk_keys` keys is therefore listed first, keys
  // only, in pages of up to `keys_page` keys, keeping every `stride`th key; each page of values
  // then asks for the range up to the first kept key past its limit, so that etcd walks about
  // the keys it returns. To answer keys only, etcd still reads every value off its database
  // (mvcc's rangeKeys): a listing page of 16,384 ConfigMaps at 8 GiB, the page cache cold, read
  // 770 MB at random and ran past the 10 s request limit. A listing page therefore aims at
  // `list_bytes` of values, by what the first page's keys weighed, and halves after a page that
  // took over 2 s (a slow disk), doubles after one under half a second; pages of a read of keys
  // only are paced the same way.
  constexpr std::size_t page_bytes = 2u << 20;
  constexpr std::int64_t keys_page = 16384;  // keys only: about 2 MiB of JSON
  const std::int64_t max_limit = options.keys_only ? keys_page : 1000;
  constexpr std::int64_t walk_keys = 4096;
  constexpr std::int64_t stride = 64;
  constexpr std::size_t list_bytes = 32u << 20;
  const auto end = etcd_prefix_end(prefix);
  std::int64_t revision = options.revision;
  struct Page {
    Reply reply;
    std::int64_t limit = 0;
    std::string range_end;
    std::chrono::steady_clock::duration took{};  // until etcd's whole answer was in
  };
  const auto origin = fmt::format("etcd at {}/v3/kv/range", endpoint_.url);
  const auto grpc_origin = fmt::format("etcd at {}{}", endpoint_.url, grpc_range_path);
  const auto fetch = [&](const std::string& from, const std::string& to, std::int64_t limit, bool keys_only) {
    if (grpc_ranges_) {
      const auto asked = std::chrono::steady_clock::now();
      try {
        auto reply = post_grpc(grpc_range_path, grpc_range_request({from, to, limit, revision, options.min_mod_revision,
                                                                    keys_only, options.serializable}));
        if (reply.grpc) return Page{std::move(reply), limit, to, std::chrono::steady_clock::now() - asked};
      } catch (const core::Error&) {
        // no HTTP/2 there: the gateway's answer, or its error, below
      }
      grpc_ranges_ = false;
    }
    json body = {{"key", core::base64_encode(from)}, {"range_end", core::base64_encode(to)}, {"limit", std::to_string(limit)}};
    if (keys_only) body["keys_only"] = true;
    if (options.serializable) body["serializable"] = true;
    if (revision > 0) body["revision"] = std::to_string(revision);
    if (options.min_mod_revision > 0) body["min_mod_revision"] = std::to_string(options.min_mod_revision);
    const auto asked = std::chrono::steady_clock::now();
    auto reply = post("/v3/kv/range", body);
    return Page{std::move(reply), limit, to, std::chrono::steady_clock::now() - asked};
  };
  RangeReplyParser parser;  // one page at a time, on this thread
  const auto load = [&](RangeReplyParser& with, Page& page) {
    if (page.reply.grpc) {
      if (page.reply.grpc_status != 0)
        throw EtcdApiError(fmt::format("{}: {}", grpc_origin,
                                       page.reply.grpc_message.empty() ? fmt::format("gRPC status {}", page.reply.grpc_status)
                                                                       : page.reply.grpc_message),
                           page.reply.grpc_status);
      return with.load_grpc(page.reply.body, grpc_origin);
    }
    RangePage loaded;
    if (page.reply.http == 200) loaded = with.load(page.reply.body, origin);
    if (page.reply.http != 200 || loaded.error) (void)parse("/v3/kv/range", page.reply);  // throws the gateway's error
    return loaded;
  };
  // The next limit after `page` by how long etcd took to answer it: half after over
  // pacing.slow (2 s), twice after under pacing.fast (half a second), else the same.
  const auto paced = [&pacing = options.pacing](const Page& page) {
    if (page.took > pacing.slow) return std::max<std::int64_t>(1, page.limit / 2);
    if (page.took < pacing.fast) return 2 * page.limit;
    return page.limit;
  };
  // Every stride-th key from `from` on (the range's end at last): where the pages of values end.
  std::vector<std::string> bounds;
  const auto list_bounds = [&](std::string from, std::size_t per_key) {
    RangeReplyParser lister;
    std::int64_t listed = 0;
    auto limit = std::clamp<std::int64_t>(static_cast<std::int64_t>(list_bytes / std::max<std::size_t>(1, per_key)),
                                          stride, keys_page);
    for (;;) {
      auto page = fetch(from, end, limit, true);
      limit = std::clamp(paced(page), stride, keys_page);
      const auto loaded = load(lister, page);
      lister.each([&](EtcdKeyValue&& kv) {
        if (listed > 0 && listed % stride == 0) bounds.push_back(std::move(kv.key));
        ++listed;
      });
      if (!loaded.more || loaded.kvs == 0) break;
      from = loaded.last_key + std::string(1, '\0');
    }
  };
  // Where a page of `limit` keys that starts `read` keys after the first page ends: the first
  // kept key at or past its limit, or the range's end.
  const auto range_end_for = [&](std::int64_t read, std::int64_t limit) {
    const auto bound = (read + limit + stride - 1) / stride - 1;
    return bound < static_cast<std::int64_t>(bounds.size()) ? bounds[static_cast<std::size_t>(bound)] : end;
  };
  // etcd refuses an empty key: every key is the range from "\0" to "\0". A first look of 8
  // keys; later pages follow from what a key weighed.
  auto page = fetch(prefix.empty() ? std::string(1, '\0') : prefix, end, 8, options.keys_only);
  bool first = true;
  std::size_t read_bytes = 0, read_keys = 0;
  std::int64_t after_first = 0;  // keys read after the first page
  for (;;) {
    const auto bytes = page.reply.body.size();
    const auto loaded = load(parser, page);
    if (revision == 0) revision = loaded.revision;  // every page at one revision
    const bool at_end = page.range_end == end;
    if (loaded.kvs == 0 && at_end) break;
    if (first && loaded.more && loaded.count > walk_keys && !options.keys_only && options.min_mod_revision == 0)
      list_bounds(loaded.last_key + std::string(1, '\0'), bytes / std::max<std::size_t>(1, loaded.kvs));
    if (!first) after_first += static_cast<std::int64_t>(loaded.kvs);
    first = false;
    std::future<Page> next;
    const bool more = loaded.more || !at_end;
    if (more) {
      // A key weighs what this page's did, or what the read's keys did so far if more: values
      // of very different sizes (Helm releases beside small objects) would otherwise make a
      // page of small ones set the limit for a run of large ones (pages of tens of MiB).
      read_bytes += bytes;
      read_keys += loaded.kvs;
      const auto per_key = std::max<std::size_t>({1, bytes / std::max<std::size_t>(1, loaded.kvs),
                                                  read_bytes / std::max<std::size_t>(1, read_keys)});
      auto limit = std::clamp<std::int64_t>(static_cast<std::int64_t>(page_bytes / per_key), 1,
                                            std::min(max_limit, 2 * page.limit));
      // Keys only, etcd reads every value all the same: their pages are paced by its answers.
      if (options.keys_only) limit = std::min(limit, paced(page));
      // After this page's last key. A part of the range that held none of the keys listed in
      // it (which a read at one revision cannot meet) ends the listing's use: the rest is read
      // to the range's end as if it had not been listed.
      if (loaded.kvs == 0) bounds.clear();
      auto from = loaded.kvs > 0 ? loaded.last_key + std::string(1, '\0') : page.range_end;
      next = std::async(std::launch::async, fetch, std::move(from), range_end_for(after_first, limit), limit,
                        options.keys_only);
    }
    parser.each(each);
    if (!more) break;
    page = next.get();
  }
  return revision;
}

std::optional<std::vector<EtcdKeyValue>> EtcdClient::written_since(std::int64_t after_revision, std::int64_t up_to) {
  std::map<std::string, EtcdKeyValue> written;  // each key's newest put; a delete removes it
  if (up_to <= after_revision) return std::vector<EtcdKeyValue>{};
  EtcdWatch watch(endpoint_, after_revision + 1, false);
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  // Every revision up to `up_to` holds at least one change (etcd moves its revision only for
  // one), and a revision's changes come in one response.
  for (std::int64_t read = after_revision; read < up_to;) {
    if (std::chrono::steady_clock::now() > deadline)
      throw core::Error(fmt::format("{}: etcd's history from revision {} to {} was not read within {} s", endpoint_.url,
                                    after_revision + 1, up_to,
                                    std::chrono::duration_cast<std::chrono::seconds>(timeout_).count()));
    for (auto& response : watch.poll(std::chrono::milliseconds(200))) {
      if (response.compact_revision > 0) return std::nullopt;
      if (response.canceled)
        throw core::Error(fmt::format("{}: etcd ended the watch from revision {}: {}", endpoint_.url, after_revision + 1,
                                      response.cancel_reason));
      for (auto& event : response.events) {
        read = std::max(read, event.kv.mod_revision);
        if (event.kv.mod_revision > up_to) continue;
        if (event.is_delete) {
          written.erase(event.kv.key);
        } else {
          event.kv.value.clear();
          written[event.kv.key] = std::move(event.kv);
        }
      }
    }
  }
  std::vector<EtcdKeyValue> out;
  out.reserve(written.size());
  for (auto& [key, kv] : written) out.push_back(std::move(kv));
  return out;
}

std::uint64_t EtcdClient::count(const std::string& prefix, std::int64_t revision, bool serializable) {
  json body = {{"key", core::base64_encode(prefix.empty() ? std::string(1, '\0') : prefix)},
               {"range_end", core::base64_encode(etcd_prefix_end(prefix))},
               {"count_only", true}};
  if (revision > 0) body["revision"] = std::to_string(revision);
  if (serializable) body["serializable"] = true;
  return static_cast<std::uint64_t>(gateway_number(call("/v3/kv/range", body), "count"));
}

std::optional<EtcdKeyValue> EtcdClient::get(const std::string& key) {
  const auto j = call("/v3/kv/range", {{"key", core::base64_encode(key)}});
  const auto kvs = j.value("kvs", json::array());
  if (kvs.empty()) return std::nullopt;
  return parse_key_value(kvs.front());
}

std::optional<std::int64_t> EtcdClient::put_if(const std::string& key, const std::string& value, std::int64_t expected) {
  const json body = {
      {"compare", json::array({mod_revision_is(key, expected)})},
      {"success", json::array({{{"request_put", {{"key", core::base64_encode(key)}, {"value", core::base64_encode(value)}}}}})}};
  const auto j = call("/v3/kv/txn", body);
  if (!j.value("succeeded", false)) return std::nullopt;
  return gateway_number(j.value("header", json::object()), "revision");
}

std::optional<std::int64_t> EtcdClient::put_all_if(const std::vector<ConditionalPut>& puts) {
  json compare = json::array(), success = json::array();
  for (const auto& p : puts) {
    compare.push_back(mod_revision_is(p.key, p.expected));
    success.push_back({{"request_put", {{"key", core::base64_encode(p.key)}, {"value", core::base64_encode(p.value)}}}});
  }
  const auto j = call("/v3/kv/txn", {{"compare", compare}, {"success", success}});
  if (!j.value("succeeded", false)) return std::nullopt;
  return gateway_number(j.value("header", json::object()), "revision");
}

bool EtcdClient::delete_if(const std::string& key, std::int64_t expected) {
  const json body = {{"compare", json::array({mod_revision_is(key, expected)})},
                     {"success", json::array({{{"request_delete_range", {{"key", core::base64_encode(key)}}}}})}};
  return call("/v3/kv/txn", body).value("succeeded", false);
}

std::int64_t EtcdClient::apply(const std::vector<EtcdOp>& ops) {
  json success = json::array();
  for (const auto& op : ops) {
    if (op.is_delete) {
      success.push_back({{"request_delete_range", {{"key", core::base64_encode(op.key)}}}});
    } else {
      json put = {{"key", core::base64_encode(op.key)}, {"value", core::base64_encode(op.value)}};
      if (op.lease != 0) put["lease"] = std::to_string(op.lease);
      success.push_back({{"request_put", put}});
    }
  }
  const auto j = call("/v3/kv/txn", {{"success", success}});
  return gateway_number(j.value("header", json::object()), "revision");
}

std::vector<std::int64_t> EtcdClient::leases() {
  std::vector<std::int64_t> out;
  for (const auto& l : call("/v3/lease/leases", json::object()).value("leases", json::array()))
    out.push_back(gateway_number(l, "ID"));
  return out;
}

void EtcdClient::grant_lease(std::int64_t id, std::int64_t ttl_s) {
  call("/v3/lease/grant", {{"ID", std::to_string(id)}, {"TTL", std::to_string(ttl_s)}});
}

bool EtcdClient::keep_alive(std::int64_t id) {
  // The gateway answers a one-message keepalive stream with one line: {"result": {..., "TTL"}}.
  const auto j = call("/v3/lease/keepalive", {{"ID", std::to_string(id)}});
  return gateway_number(j.value("result", json::object()), "TTL") > 0;
}

std::string EtcdClusterMember::hex_id() const { return fmt::format("{:x}", id); }

namespace {

// A member as the gateway writes it: the id a decimal string, zeros and empty lists left out.
EtcdClusterMember parse_member(const json& m) {
  EtcdClusterMember out;
  const auto id = m.value("ID", json());
  out.id = id.is_string() ? std::stoull(id.get<std::string>()) : id.is_number() ? id.get<std::uint64_t>() : 0;
  out.name = m.value("name", "");
  out.peer_urls = m.value("peerURLs", std::vector<std::string>{});
  out.client_urls = m.value("clientURLs", std::vector<std::string>{});
  out.learner = m.value("isLearner", false);
  return out;
}

}  // namespace

std::vector<EtcdClusterMember> EtcdClient::members() {
  std::vector<EtcdClusterMember> out;
  for (const auto& m : call("/v3/cluster/member/list", json::object()).value("members", json::array()))
    out.push_back(parse_member(m));
  return out;
}

EtcdClusterMember EtcdClient::add_member(const std::vector<std::string>& peer_urls, bool learner) {
  return parse_member(
      call("/v3/cluster/member/add", {{"peerURLs", peer_urls}, {"isLearner", learner}}).value("member", json::object()));
}

void EtcdClient::remove_member(std::uint64_t id) { call("/v3/cluster/member/remove", {{"ID", std::to_string(id)}}); }

void EtcdClient::promote_member(std::uint64_t id) { call("/v3/cluster/member/promote", {{"ID", std::to_string(id)}}); }

std::unique_ptr<EtcdApi> EtcdConnector::connect(const EtcdEndpoint& endpoint, std::chrono::milliseconds timeout) const {
  return std::make_unique<EtcdClient>(endpoint, timeout);
}

std::shared_ptr<const EtcdConnector> real_etcd() {
  static const auto etcd = std::make_shared<const EtcdConnector>();
  return etcd;
}

}  // namespace kdr::etcd
