#include "etcd/tool.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <future>
#include <thread>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/generation.hpp"
#include "core/interrupt.hpp"
#include "core/kubeadm_pki.hpp"
#include "core/process.hpp"
#include "core/progress.hpp"
#include "core/sha256.hpp"
#include "core/static_pods.hpp"
#include "core/zstd_file.hpp"
#include "etcd/bbolt.hpp"
#include "etcd/grpc_snapshot.hpp"
#include "etcd/keyspace_digest.hpp"
#include "etcd/snapshot_keys.hpp"
#include "etcd/snapshot_tool.hpp"
#include "etcd/tls_probe.hpp"

namespace kdr::etcd {

using core::bfs::path;
using nlohmann::json;

std::vector<std::string> etcdctl_argv(const core::Context& ctx, const EtcdTarget& target, std::uint64_t timeout_s) {
  auto argv = ctx.config.etcd.etcdctl;
  argv.insert(argv.end(), {"--endpoints", target.endpoint});
  const auto tls = target.tls_args();
  argv.insert(argv.end(), tls.begin(), tls.end());
  argv.insert(argv.end(), {"--dial-timeout", "5s", "--command-timeout", fmt::format("{}s", timeout_s)});
  return argv;
}

core::ProcessResult run_etcdctl(const core::Context& ctx, const EtcdTarget& target,
                                const std::vector<std::string>& command, std::chrono::seconds command_timeout,
                                std::chrono::seconds deadline) {
  auto argv = etcdctl_argv(ctx, target, static_cast<std::uint64_t>(command_timeout.count()));
  argv.insert(argv.end(), command.begin(), command.end());
  return ctx.programs->run(argv, core::etcd_tool_options(deadline));
}

namespace {


bool contains(const std::string& text, std::string_view what) { return text.find(what) != std::string::npos; }

// The last meaningful line of a tool's stderr, for messages.
std::string last_line(const std::string& text) {
  std::string_view t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.remove_suffix(1);
  auto pos = t.rfind('\n');
  return std::string(pos == std::string_view::npos ? t : t.substr(pos + 1));
}

// The operator's message for a failed snapshot: `detail`, the tool's or the transport's own
// words; `timeout_how`, how the time ran out; `otherwise`, the message of any other failure.
std::string failure_text(SnapshotFailure f, const EtcdTarget& target, const std::string& detail,
                         std::string_view timeout_how, const std::string& otherwise) {
  switch (f) {
    case SnapshotFailure::certificate:
      return fmt::format("etcd at {} refused the client certificate {} (from {}; etcd.cacert/cert/key in the config "
                         "choose another): {}",
                         target.endpoint, target.tls.cert, target.tls.origin, detail);
    case SnapshotFailure::unreachable:
      return fmt::format("etcd at {} cannot be reached (is it running?): {}", target.endpoint, detail);
    case SnapshotFailure::timeout:
      return fmt::format("etcd at {} did not answer in time ({}): {}", target.endpoint, timeout_how, detail);
    case SnapshotFailure::stream_cut:
      return fmt::format("etcd at {} closed the connection before its answer was complete: it restarted, or stalled "
                         "short of memory (a client's request for more than gRPC's 2 GiB limit leaves etcd holding "
                         "the whole answer for minutes); its log and its memory use say which: {}",
                         target.endpoint, detail);
    default:
      return otherwise;
  }
}

std::string failure_message(SnapshotFailure f, const EtcdTarget& target, const std::vector<std::string>& argv,
                            const core::ProcessResult& r) {
  if (f == SnapshotFailure::missing_tool)
    return fmt::format("etcdctl could not be run ({}); install etcd-client or set etcd.etcdctl in the config",
                       r.start_error);
  const auto detail = last_line(r.err.empty() ? r.out : r.err);
  return failure_text(f, target, detail, r.timed_out ? "killed at the deadline" : "deadline exceeded",
                      fmt::format("{} failed (exit {}): {}", core::describe_argv(argv), r.exit_code, detail));
}

// etcdctl says only "context deadline exceeded" when etcd refuses its certificate; a TLS
// handshake of our own tells which side is wrong.
// "it expired on DATE: kubeadm certs renew NAME" when the certificate file has expired.
std::optional<std::string> expired_text(const std::string& file, const std::string& shown) {
  const auto not_after = core::certificate_not_after(file);
  if (!not_after || *not_after > core::now_epoch()) return std::nullopt;
  const auto name = core::kubeadm_renew_name(shown);
  return fmt::format("it expired on {}: renew it{}", core::iso_time(*not_after),
                     name ? fmt::format(" (kubeadm certs renew {})", *name)
                          : std::string(", or choose another (etcd.cert/key in the config)"));
}

SnapshotFailure diagnose(const EtcdTarget& target, SnapshotFailure guess, std::string& message) {
  if (guess != SnapshotFailure::timeout && guess != SnapshotFailure::other) return guess;
  if (target.endpoint.rfind("https://", 0) != 0 || target.cacert.empty() || target.cert.empty() || target.key.empty())
    return guess;
  auto probe = probe_tls(target.endpoint, target.cacert, target.cert, target.key);
  switch (probe.result) {
    case TlsProbeResult::client_refused:
      if (const auto expired = expired_text(target.cert, target.tls.cert)) {
        message = fmt::format("etcd at {} refused the client certificate {}: {}", target.endpoint, target.tls.cert,
                              *expired);
        return SnapshotFailure::certificate;
      }
      message = fmt::format("etcd at {} refused the client certificate {} (from {}; set etcd.cert/key in the config): "
                            "{}",
                            target.endpoint, target.tls.cert, target.tls.origin, probe.detail);
      return SnapshotFailure::certificate;
    case TlsProbeResult::server_not_trusted:
      if (probe.detail.find("expired") != std::string::npos) {
        message = fmt::format("etcd at {} presents a serving certificate that has expired ({}): renew it on the node "
                              "that runs etcd: kubeadm certs renew etcd-server (and etcd-peer), then restart etcd",
                              target.endpoint, probe.detail);
        return SnapshotFailure::certificate;
      }
      message = fmt::format("etcd at {} presents a certificate that {} does not trust (from {}; set etcd.cacert in the "
                            "config): {}",
                            target.endpoint, target.tls.cacert, target.tls.origin, probe.detail);
      return SnapshotFailure::certificate;
    case TlsProbeResult::unreachable:
      message = fmt::format("etcd at {} cannot be reached (is it running?): {}", target.endpoint, probe.detail);
      return SnapshotFailure::unreachable;
    case TlsProbeResult::no_answer:
      message = fmt::format("etcd at {} accepts connections but does not answer ({}): hung or overloaded?",
                            target.endpoint, probe.detail);
      return SnapshotFailure::timeout;
    default:
      return guess;
  }
}

SnapshotOutcome fail(SnapshotFailure f, std::string message) {
  SnapshotOutcome o;
  o.failure = f;
  o.error = std::move(message);
  return o;
}

void remove_quietly(const path& p) { ::unlink(p.c_str()); }

std::string to_hex(std::string_view bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out += hex[c >> 4];
    out += hex[c & 0xf];
  }
  return out;
}

// Computes a snapshot's two hashes (of the whole file, and of all but its 32-byte trailer)
// from a byte stream, holding back the last 32 bytes seen: they are the trailer once the
// stream ends.
class SnapshotHasher {
 public:
  // The body (all but the last 32 bytes seen so far) goes into one SHA-256; the file's digest is
  // that state followed by the trailer: one pass for both.
  void update(const char* data, std::size_t n) {
    size_ += n;
    const std::size_t total = held_.size() + n;
    if (total <= 32) {
      held_.append(data, n);
      return;
    }
    const std::size_t feed = total - 32;
    const std::size_t from_held = std::min(held_.size(), feed);
    body_.update(held_.data(), from_held);
    body_.update(data, feed - from_held);
    held_.erase(0, from_held);
    held_.append(data + (feed - from_held), n - (feed - from_held));
  }
  TrailerCheck finish() {
    TrailerCheck check;
    check.size = size_;
    check.file_sha256 = body_.hex_digest_with(held_);
    if (size_ < 32 || size_ % 512 != 32) {
      check.problem = fmt::format(
          "size {} is not a bbolt database plus a 32-byte SHA-256 trailer (size % 512 != 32)", size_);
      return check;
    }
    const auto trailer_hex = to_hex(held_);
    const auto body_hex = body_.hex_digest();
    if (trailer_hex != body_hex) {
      check.problem = fmt::format("SHA-256 trailer {} does not match the content ({}): the snapshot is damaged",
                                  trailer_hex.substr(0, 16), body_hex.substr(0, 16));
      return check;
    }
    check.ok = true;
    return check;
  }

 private:
  core::Sha256 body_;
  std::string held_;  // the last (up to) 32 bytes: the trailer, once the file is whole
  std::uint64_t size_ = 0;
};

// Hashes the snapshot while etcdctl is still writing it (it appends to <name>.part, then
// renames it to <name>), so the trailer check costs no time after the download.
class TailHasher {
 public:
  TailHasher(path part, path done_name, core::Progress* progress = nullptr)
      : part_(std::move(part)), done_name_(std::move(done_name)), progress_(progress) {
    thread_ = std::thread([this] { run(); });
  }
  ~TailHasher() { stop(); }
  TailHasher(const TailHasher&) = delete;
  TailHasher& operator=(const TailHasher&) = delete;
  // Call once the writer has exited; returns the check of everything written.
  std::optional<TrailerCheck> finish() {
    stop();
    if (failed_ || !opened_) return std::nullopt;
    return hasher_.finish();
  }

 private:
  void stop() {
    writer_done_ = true;
    if (thread_.joinable()) thread_.join();
  }
  void run() {
    core::Fd fd;
    while (!fd) {
      const bool last_chance = writer_done_;
      fd = core::Fd(::open(part_.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) fd = core::Fd(::open(done_name_.c_str(), O_RDONLY | O_CLOEXEC));
      if (fd) break;
      if (last_chance) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    opened_ = true;
    std::vector<char> buf(1 << 20);
    for (;;) {
      const bool last_pass = writer_done_;
      std::size_t n = 0;
      try {
        n = core::read_some(fd.get(), buf.data(), buf.size(), done_name_.string());
      } catch (const core::Error&) {
        failed_ = true;  // the finished file is read again
        return;
      }
      if (n > 0) {
        hasher_.update(buf.data(), n);
        if (progress_) progress_->add(n);
        continue;
      }
      if (last_pass) return;  // the writer had exited before this read found the end
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  path part_, done_name_;
  core::Progress* progress_;
  SnapshotHasher hasher_;
  std::thread thread_;
  std::atomic<bool> writer_done_{false};
  bool opened_ = false;
  bool failed_ = false;
};

}  // namespace

std::string_view to_string(SnapshotFailure failure) {
  switch (failure) {
    case SnapshotFailure::none: return "none";
    case SnapshotFailure::missing_tool: return "missing-etcdctl";
    case SnapshotFailure::tls_file_missing: return "tls-file-missing";
    case SnapshotFailure::certificate: return "certificate-refused";
    case SnapshotFailure::unreachable: return "unreachable";
    case SnapshotFailure::timeout: return "timeout";
    case SnapshotFailure::stream_cut: return "stream-cut";
    case SnapshotFailure::invalid: return "invalid-snapshot";
    case SnapshotFailure::disk_full: return "backup-disk-full";
    case SnapshotFailure::other: return "failed";
  }
  return "failed";
}

std::string snapshot_keys_text(const core::EtcdSnapshotRecord& snap) {
  if (snap.keys) return fmt::format("{} keys ({} key revisions)", *snap.keys, snap.total_keys);
  return fmt::format("{} key revisions", snap.total_keys);
}

std::vector<std::string> EtcdTarget::tls_args() const {
  std::vector<std::string> out;
  if (!cacert.empty()) out.insert(out.end(), {"--cacert", cacert});
  if (!cert.empty()) out.insert(out.end(), {"--cert", cert});
  if (!key.empty()) out.insert(out.end(), {"--key", key});
  return out;
}

EtcdTarget etcd_target(const core::Context& ctx, const EtcdLayout& layout) {
  EtcdTarget t;
  t.endpoint = layout.endpoints.empty() ? "https://127.0.0.1:2379" : layout.endpoints.front();
  if (layout.endpoints.size() > 1) t.other_endpoints.assign(layout.endpoints.begin() + 1, layout.endpoints.end());
  t.tls = layout.tls;
  auto host = [&](const std::string& p) { return p.empty() ? std::string() : ctx.root.host(p).string(); };
  t.cacert = host(t.tls.cacert);
  t.cert = host(t.tls.cert);
  t.key = host(t.tls.key);
  return t;
}

namespace {

// A TLS file that is not there is named as missing, with the config key that fixes it.
std::optional<SnapshotOutcome> missing_tls_file(const EtcdTarget& target) {
  const std::pair<const std::string*, const char*> files[] = {
      {&target.tls.cacert, "cacert"}, {&target.tls.cert, "cert"}, {&target.tls.key, "key"}};
  const std::string* host[] = {&target.cacert, &target.cert, &target.key};
  for (std::size_t i = 0; i < 3; ++i) {
    if (host[i]->empty() || core::lstat_path(*host[i])) continue;
    return fail(SnapshotFailure::tls_file_missing,
                fmt::format("etcd client TLS file {} is missing (chosen from {}); set etcd.{} in the config to the "
                            "file that exists",
                            *files[i].first, target.tls.origin, files[i].second));
  }
  return std::nullopt;
}

std::optional<EtcdEndpointStatus> status_of(const core::Context& ctx, const EtcdTarget& target,
                                            SnapshotOutcome& failure) {
  // A refused connection is known at once; etcdctl would retry it until its dial timeout.
  if (target.endpoint.rfind("https://", 0) == 0 && !target.cacert.empty() && !target.cert.empty() &&
      !target.key.empty()) {
    const auto probe = probe_tcp(target.endpoint);
    if (probe.result == TlsProbeResult::unreachable) {
      failure = fail(SnapshotFailure::unreachable,
                     fmt::format("etcd at {} cannot be reached (is it running?): {}", target.endpoint, probe.detail));
      return std::nullopt;
    }
  }
  const std::vector<std::string> command = {"endpoint", "status", "-w", "json"};
  auto r = run_etcdctl(ctx, target, command, std::chrono::seconds(10), std::chrono::seconds(30));
  if (!r.ok()) {
    auto argv = etcdctl_argv(ctx, target, 10);
    argv.insert(argv.end(), command.begin(), command.end());
    auto kind = !r.started ? SnapshotFailure::missing_tool
                : r.timed_out ? SnapshotFailure::timeout
                              : classify_etcdctl_error(r.err + r.out);
    auto message = failure_message(kind, target, argv, r);
    kind = diagnose(target, kind, message);
    failure = fail(kind, message);
    return std::nullopt;
  }
  try {
    auto j = json::parse(r.out);
    const auto& st = j.at(0).at("Status");
    EtcdEndpointStatus s;
    s.version = st.value("version", "");
    s.db_size = st.value("dbSize", std::uint64_t{0});
    s.revision = st.at("header").value("revision", std::int64_t{0});
    s.cluster_id = fmt::format("{:x}", st.at("header").value("cluster_id", std::uint64_t{0}));
    s.member_id = fmt::format("{:x}", st.at("header").value("member_id", std::uint64_t{0}));
    return s;
  } catch (const json::exception& e) {
    failure = fail(SnapshotFailure::other, fmt::format("etcdctl endpoint status: unexpected output ({})", e.what()));
    return std::nullopt;
  }
}

}  // namespace

EtcdEndpoint client_endpoint(const EtcdTarget& target) {
  return {target.endpoint, target.cacert, target.cert, target.key};
}

EtcdEndpoint node_etcd_endpoint(const core::Context& ctx) {
  const auto layout =
      detect_etcd_layout(ctx.config, ctx.root, core::scan_static_pods(ctx.root, ctx.config.static_pod_path));
  return client_endpoint(etcd_target(ctx, layout));
}

std::chrono::seconds snapshot_timeout(const core::EtcdConfig& config, std::uint64_t db_size) {
  return std::chrono::seconds(config.timeout_base_s + static_cast<std::int64_t>(whole_gibs(db_size)) * config.timeout_per_gib_s);
}

SnapshotFailure classify_etcdctl_error(const std::string& text) {
  if (contains(text, "no space left on device") || contains(text, "disk quota exceeded"))
    return SnapshotFailure::disk_full;
  if (contains(text, "x509") || contains(text, "tls:") || contains(text, "certificate") ||
      contains(text, "authentication handshake failed"))
    return SnapshotFailure::certificate;
  if (contains(text, "connection refused") || contains(text, "no such host") || contains(text, "network is unreachable"))
    return SnapshotFailure::unreachable;
  if (contains(text, "deadline exceeded") || contains(text, "timed out") || contains(text, "timeout"))
    return SnapshotFailure::timeout;
  if (contains(text, "transport is closing") || contains(text, "error reading from server: EOF"))
    return SnapshotFailure::stream_cut;
  return SnapshotFailure::other;
}

std::optional<EtcdEndpointStatus> endpoint_status(const core::Context& ctx, EtcdTarget& target,
                                                  SnapshotOutcome& failure) {
  if (auto missing = missing_tls_file(target)) {
    failure = *missing;
    return std::nullopt;
  }
  auto status = status_of(ctx, target, failure);
  // Another member of an external cluster may answer where the first does not.
  for (std::size_t i = 0; !status && i < target.other_endpoints.size(); ++i) {
    if (failure.failure != SnapshotFailure::unreachable && failure.failure != SnapshotFailure::timeout) break;
    EtcdTarget next = target;
    std::swap(next.endpoint, next.other_endpoints[i]);
    SnapshotOutcome next_failure;
    status = status_of(ctx, next, next_failure);
    if (status) target = next;
    else failure.error += "; " + next_failure.error;
  }
  return status;
}

std::optional<std::vector<core::EtcdMemberRecord>> member_list(const core::Context& ctx, const EtcdTarget& target) {
  auto r = run_etcdctl(ctx, target, {"member", "list", "-w", "json"}, std::chrono::seconds(10),
                       std::chrono::seconds(20));
  if (!r.ok()) return std::nullopt;
  try {
    std::vector<core::EtcdMemberRecord> out;
    const auto listed = json::parse(r.out);
    for (const auto& m : listed.at("members"))
      out.push_back({fmt::format("{:x}", m.value("ID", std::uint64_t{0})), m.value("name", ""),
                     m.value("peerURLs", std::vector<std::string>{}), m.value("clientURLs", std::vector<std::string>{}),
                     m.value("isLearner", false)});
    return out;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::optional<std::uint64_t> count_keys(const core::Context& ctx, const EtcdTarget& target, std::int64_t revision,
                                        bool serializable) {
  try {
    return ctx.etcd->connect(client_endpoint(target), std::chrono::seconds(30))->count("", revision, serializable);
  } catch (const core::Error&) {
    return std::nullopt;
  }
}

std::optional<core::EtcdSnapshotRecord::HashKV> hash_kv_at(const core::Context& ctx, const EtcdTarget& target,
                                                            std::int64_t revision) {
  try {
    const auto h = ctx.etcd->connect(client_endpoint(target), std::chrono::seconds(60))->hash_kv(revision);
    if (!h) return std::nullopt;
    return core::EtcdSnapshotRecord::HashKV{h->hash, h->compact_revision};
  } catch (const core::Error& e) {
    ctx.out.detail("etcd HashKV at revision {}: {}", revision, e.what());
    return std::nullopt;
  }
}

SnapshotFacts read_snapshot_facts(const path& file) {
  const auto db = read_bolt(file);
  SnapshotFacts facts;
  facts.total_keys = db.entries();
  const auto* keys = db.bucket("key");
  if (keys == nullptr)
    throw core::Error(fmt::format("{}: not an etcd database: it has no \"key\" bucket", file.string()));
  facts.key_revisions = keys->entries;
  // etcd's keys there are revisions: 8 bytes big-endian main revision, '_', 8 bytes sub.
  const auto& last = keys->last_key;
  if (!last.empty()) {
    if (last.size() < 17 || last[8] != '_')
      throw core::Error(fmt::format("{}: not an etcd database: the key bucket's last key is not a revision",
                                    file.string()));
    facts.revision = mvcc_main_revision(last);
  }
  facts.revision = std::max(facts.revision, finished_compact_revision(file));
  return facts;
}

TrailerCheck check_snapshot_trailer(const path& file) {
  core::Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) core::throw_errno("open", file.string(), errno);
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  SnapshotHasher hasher;
  std::vector<char> buf(1 << 20);
  for (;;) {
    core::check_interrupted();
    const auto n = core::read_some(fd.get(), buf.data(), buf.size(), file.string());
    if (n == 0) break;
    hasher.update(buf.data(), n);
  }
  return hasher.finish();
}

namespace {

// A snapshot file written, and its hashes taken as it was (empty: read it again), or why not.
struct WrittenSnapshot {
  bool streamed = false;  // by kdr itself (false: this endpoint serves no stream)
  std::optional<TrailerCheck> check;
  SnapshotOutcome failure;
  // The file as written, still to be flushed to disk: flushed while its keyspace is read back
  // from memory (closed: etcdctl flushed it).
  core::Fd unflushed;
};

// The snapshot streamed by kdr itself (EtcdApi::snapshot) into `file`, created 0600, and
// hashed as it is written: no program started, no file read back. Not `streamed` when the
// endpoint does not serve the stream. Left `unflushed`.
WrittenSnapshot stream_snapshot(const core::Context& ctx, const EtcdTarget& target, std::chrono::seconds timeout,
                                const path& file, core::Progress& progress) {
  WrittenSnapshot out;
  core::Fd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) core::throw_errno("create", file.string(), errno);
  SnapshotHasher hasher;
  std::string buffer;  // written in pieces of 1 MiB, not etcd's 32 KiB blobs
  constexpr std::size_t piece = 1u << 20;
  buffer.reserve(piece);
  const auto flush = [&] {
    core::write_all(fd.get(), buffer.data(), buffer.size(), file.string());
    buffer.clear();
  };
  auto failed = [&](SnapshotFailure kind, std::string message) {
    out.streamed = true;
    out.failure = fail(kind, std::move(message));
  };
  try {
    ctx.out.detail("etcd snapshot: asked of {} over gRPC", target.endpoint);
    const auto api = ctx.etcd->connect(client_endpoint(target), std::chrono::seconds(10));
    out.streamed = api->snapshot(
        [&](std::string_view bytes) {
          hasher.update(bytes.data(), bytes.size());
          buffer.append(bytes);
          if (buffer.size() >= piece) flush();
          progress.add(bytes.size());
        },
        timeout);
    if (!out.streamed) return out;
    flush();
    out.check = hasher.finish();
    out.unflushed = std::move(fd);
    return out;
  } catch (const EtcdTransportError& e) {
    static constexpr std::pair<EtcdTransportFault, SnapshotFailure> kinds[] = {
        {EtcdTransportFault::unreachable, SnapshotFailure::unreachable},
        {EtcdTransportFault::certificate, SnapshotFailure::certificate},
        {EtcdTransportFault::timeout, SnapshotFailure::timeout},
        {EtcdTransportFault::cut, SnapshotFailure::stream_cut},
        {EtcdTransportFault::other, SnapshotFailure::other}};
    auto kind = SnapshotFailure::other;
    for (const auto& [fault, failure] : kinds)
      if (fault == e.fault()) kind = failure;
    auto message = failure_text(kind, target, e.what(), fmt::format("{} s allowed", timeout.count()),
                                fmt::format("etcd snapshot stream failed: {}", e.what()));
    kind = diagnose(target, kind, message);
    failed(kind, message);
  } catch (const EtcdApiError& e) {
    failed(SnapshotFailure::other, fmt::format("etcd refused the snapshot: {}", e.what()));
  } catch (const SnapshotStreamError& e) {
    failed(SnapshotFailure::invalid, fmt::format("etcd snapshot rejected: {}", e.what()));
  } catch (const core::SystemError& e) {
    if (!core::is_disk_full(e)) throw;
    failed(SnapshotFailure::disk_full, e.what());
  }
  return out;
}

// The snapshot written by `etcdctl snapshot save` (to <file>.part, renamed to <file> when
// whole), hashed by a thread that follows the file as it grows.
WrittenSnapshot etcdctl_snapshot(const core::Context& ctx, const EtcdTarget& target, std::chrono::seconds timeout,
                                 const path& file, const path& part, core::Progress& progress) {
  auto argv = etcdctl_argv(ctx, target, static_cast<std::uint64_t>(timeout.count()));
  argv.insert(argv.end(), {"snapshot", "save", file.string()});
  const auto opts = core::etcd_tool_options(timeout + std::chrono::seconds(15));
  ctx.out.detail("etcd snapshot: {}", core::describe_argv(argv));
  WrittenSnapshot out;
  TailHasher tail(part, file, &progress);
  const auto r = ctx.programs->run(argv, opts);
  out.check = tail.finish();
  if (!r.ok() || !core::lstat_path(file)) {
    auto kind = !r.started ? SnapshotFailure::missing_tool
                : r.timed_out ? SnapshotFailure::timeout
                              : classify_etcdctl_error(r.err + r.out);
    auto message = failure_message(kind, target, argv, r);
    kind = diagnose(target, kind, message);
    out.failure = fail(kind, message);
  }
  return out;
}

// The snapshot into `file`: streamed by kdr, or by etcdctl where the endpoint serves no stream.
WrittenSnapshot write_snapshot(const core::Context& ctx, const EtcdTarget& target, std::chrono::seconds timeout,
                               const path& file, const path& part, core::Progress& progress) {
  auto written = stream_snapshot(ctx, target, timeout, file, progress);
  if (written.streamed) return written;
  remove_quietly(file);
  return etcdctl_snapshot(ctx, target, timeout, file, part, progress);
}

// The trailer check taken while the file was written, if it covers all `size` bytes of it;
// otherwise the finished file read again.
TrailerCheck trailer_of(const WrittenSnapshot& written, const path& file, std::uint64_t size) {
  const auto& check = written.check;
  return check && check->ok && check->size == size ? *check : check_snapshot_trailer(file);
}

}  // namespace

TrailerCheck save_snapshot_file(const core::Context& ctx, const EtcdTarget& target, const path& file,
                                std::uint64_t db_size) {
  const auto timeout = snapshot_timeout(ctx.config.etcd, db_size);
  const path part = file.string() + ".part";  // etcdctl's while it writes
  auto remove = [&] {
    remove_quietly(file);
    remove_quietly(part);
  };
  try {
    core::Progress progress(ctx.out, "etcd snapshot", db_size);
    auto written = write_snapshot(ctx, target, timeout, file, part, progress);
    progress.finish();
    if (written.failure.failure != SnapshotFailure::none) throw core::Error(written.failure.error);
    const auto st = core::lstat_path(file);
    if (!st) throw core::Error(fmt::format("etcd snapshot: {} was not written", file.string()));
    const auto check = trailer_of(written, file, st->size);
    if (!check.ok) throw core::Error(fmt::format("etcd snapshot of {} rejected: {}", target.endpoint, check.problem));
    if (written.unflushed) {
      if (::fsync(written.unflushed.get()) != 0) core::throw_errno("fsync", file.string(), errno);
    } else {
      if (::chmod(file.c_str(), 0600) != 0) core::throw_errno("chmod", file.string(), errno);
      core::fsync_path(file);
    }
    return check;
  } catch (...) {
    remove();
    throw;
  }
}

SnapshotOutcome take_snapshot(const core::Context& ctx, const EtcdTarget& target, const EtcdEndpointStatus& status,
                              const path& generation_dir) {
  const auto dir = generation_dir / "etcd";
  core::make_dir(dir, 0700);
  // etcdctl writes <name>.part and renames it to <name> when complete; <name> itself is
  // still a temporary: it becomes snapshot.db only once it has been checked.
  const auto tmp = dir / ".snapshot.db.tmp";
  const auto part = dir / ".snapshot.db.tmp.part";
  auto cleanup = [&] {
    remove_quietly(tmp);
    remove_quietly(part);
  };

  const auto timeout = snapshot_timeout(ctx.config.etcd, status.db_size);
  // each phase's seconds, for -v
  double phase_start = core::monotonic_seconds();
  auto lap = [&phase_start] {
    const double now = core::monotonic_seconds(), seconds = now - phase_start;
    phase_start = now;
    return seconds;
  };
  WrittenSnapshot written;
  try {
    core::Progress progress(ctx.out, "etcd snapshot", status.db_size);
    written = write_snapshot(ctx, target, timeout, tmp, part, progress);
    ctx.out.detail("etcd snapshot: {} in {:.1f} s", written.streamed ? "streamed by kdr over gRPC" : "written by etcdctl",
                   lap());
    progress.finish();
  } catch (...) {
    cleanup();
    throw;
  }
  if (written.failure.failure != SnapshotFailure::none || !core::lstat_path(tmp)) {
    cleanup();
    return written.failure;
  }
  SnapshotInfo info;
  info.endpoint = target.endpoint;
  info.server_version = status.version;
  info.cluster_id = status.cluster_id;
  info.member_id = status.member_id;
  try {
    const auto trailer = trailer_of(written, tmp, core::lstat_path(tmp)->size);
    if (!trailer.ok) {
      cleanup();
      return fail(SnapshotFailure::invalid, "etcd snapshot rejected: " + trailer.problem);
    }
    info.db_size = trailer.size;
    info.db_sha256 = trailer.file_sha256;
    // The structure of every bucket, and the live keys' values (their digest and the
    // encryption keys they name), read at once on two cores: two walks of the file.
    auto live = std::async(std::launch::async, [file = tmp.string()] { return keyspace_of_snapshot(file); });
    SnapshotFacts facts;
    try {
      facts = read_snapshot_facts(tmp);
    } catch (const core::Error& e) {
      live.wait();
      cleanup();
      return fail(SnapshotFailure::invalid, fmt::format("etcd snapshot rejected: {}", e.what()));
    }
    info.revision = facts.revision;
    info.total_keys = facts.total_keys;
    // A streamed file is flushed to disk meanwhile: the disk writes, the cores read.
    if (written.unflushed) {
      try {
        if (::fsync(written.unflushed.get()) != 0) core::throw_errno("fsync", tmp.string(), errno);
      } catch (const core::SystemError& e) {
        live.wait();
        cleanup();
        if (core::is_disk_full(e)) return fail(SnapshotFailure::disk_full, e.what());
        throw;
      }
      written.unflushed.close();
    }
    try {
      const auto keyspace = live.get();
      ctx.out.detail("etcd snapshot: structure and keyspace read{} in {:.1f} s",
                     written.streamed ? ", the file flushed to disk meanwhile," : "", lap());
      info.encrypted_values = keyspace.encryption;
      info.keyspace_digest = core::EtcdSnapshotRecord::KeyspaceDigest{keyspace.digest.hex(),
                                                                       static_cast<std::uint64_t>(keyspace.digest.keys)};
    } catch (const core::Error& e) {
      cleanup();
      return fail(SnapshotFailure::invalid, fmt::format("etcd snapshot rejected: {}", e.what()));
    }
    info.keys = count_keys(ctx, target, info.revision);
    info.hashkv = hash_kv_at(ctx, target, info.revision);
    ctx.out.detail("etcd snapshot: keys counted and HashKV taken by etcd in {:.1f} s", lap());
    if (::chmod(tmp.c_str(), 0600) != 0) core::throw_errno("chmod", tmp.string(), errno);
    if (ctx.config.etcd.compression == "zstd") {
      const auto ztmp = dir / ".snapshot.db.zst.tmp";
      try {
        core::zstd_compress_file(tmp, ztmp);
      } catch (...) {
        remove_quietly(ztmp);
        throw;
      }
      remove_quietly(tmp);
      info.file = "etcd/snapshot.db.zst";
      if (::rename(ztmp.c_str(), (generation_dir / info.file).c_str()) != 0)
        core::throw_errno("rename", ztmp.string(), errno);
      info.compression = "zstd";
      info.sha256 = core::sha256_file((generation_dir / info.file).string());
      info.size = core::lstat_path(generation_dir / info.file)->size;
    } else {
      info.file = "etcd/snapshot.db";
      if (::rename(tmp.c_str(), (generation_dir / info.file).c_str()) != 0)
        core::throw_errno("rename", tmp.string(), errno);
      info.compression = "none";
      info.sha256 = info.db_sha256;
      info.size = info.db_size;
    }
  } catch (...) {
    cleanup();
    throw;
  }
  SnapshotOutcome o;
  o.info = info;
  return o;
}

// Free space is checked before anything is written: a snapshot that cannot fit fails
// early instead of filling the disk.
void check_free_space(const core::Context& ctx, const path& backup_dir, std::uint64_t needed) {
  const auto free = ctx.host->free_bytes(backup_dir);
  if (free < needed)
    throw core::Error(fmt::format("backup disk {} has {} MiB free; this backup needs about {} MiB "
                                  "(etcd database and changed files); free space or lower retention",
                                  backup_dir.string(), free >> 20, (needed >> 20) + 1));
}

}  // namespace kdr::etcd
