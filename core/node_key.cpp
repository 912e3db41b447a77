#include "core/node_key.hpp"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/sha256.hpp"

namespace kdr::core {

namespace {

constexpr std::string_view key_prefix = "kdr-node-key-v1 ";

std::string to_hex(const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

bool equal_constant_time(const void* a, const void* b, std::size_t n) { return CRYPTO_memcmp(a, b, n) == 0; }

NodeKey::NodeKey(const Bytes& bytes) : bytes_(bytes) {
  // A name for the key that reveals nothing of it: a hash of a fixed label and the key.
  id_ = sha256_hex("kdr node key id\n" + std::string(reinterpret_cast<const char*>(bytes_.data()), bytes_.size()))
            .substr(0, 16);
}

NodeKey NodeKey::generate() {
  Bytes b{};
  std::size_t got = 0;
  while (got < b.size()) {
    const auto n = ::getrandom(b.data() + got, b.size() - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("getrandom", "the node key", errno);
    }
    got += static_cast<std::size_t>(n);
  }
  return NodeKey(b);
}

NodeKey NodeKey::parse(std::string_view text, const std::string& origin) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
  const auto fail = [&] {
    return Error(fmt::format("{}: not a kdr node key (one line: \"kdr-node-key-v1\" and 64 hex digits)", origin),
                 ExitCode::usage);
  };
  if (text.substr(0, key_prefix.size()) != key_prefix) throw fail();
  text.remove_prefix(key_prefix.size());
  if (text.size() != 64) throw fail();
  Bytes b{};
  for (std::size_t i = 0; i < b.size(); ++i) {
    const int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) throw fail();
    b[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return NodeKey(b);
}

std::string NodeKey::text() const { return std::string(key_prefix) + to_hex(bytes_.data(), bytes_.size()) + "\n"; }

std::string NodeKey::mac_hex(std::string_view data) const {
  RunningMac mac(*this);
  mac.update(data);
  const auto m = mac.peek();
  return to_hex(m.data(), m.size());
}

bool NodeKey::check_hex(std::string_view data, std::string_view mac) const {
  const auto expected = mac_hex(data);
  return mac.size() == expected.size() && equal_constant_time(mac.data(), expected.data(), expected.size());
}

struct RunningMac::Ctx {
  EVP_MAC* mac = nullptr;
  EVP_MAC_CTX* ctx = nullptr;
  ~Ctx() {
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
  }
};

RunningMac::RunningMac(const NodeKey& key) : ctx_(std::make_unique<Ctx>()) {
  ctx_->mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (ctx_->mac) ctx_->ctx = EVP_MAC_CTX_new(ctx_->mac);
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  if (!ctx_->ctx || EVP_MAC_init(ctx_->ctx, key.bytes().data(), key.bytes().size(), params) != 1)
    throw Error("OpenSSL: HMAC-SHA256 cannot be set up");
}

RunningMac::~RunningMac() = default;
RunningMac::RunningMac(RunningMac&& other) noexcept = default;
RunningMac& RunningMac::operator=(RunningMac&& other) noexcept = default;

RunningMac::RunningMac(const RunningMac& other) : ctx_(std::make_unique<Ctx>()) {
  ctx_->ctx = EVP_MAC_CTX_dup(other.ctx_->ctx);
  if (!ctx_->ctx) throw Error("OpenSSL: HMAC state cannot be copied");
}

void RunningMac::update(std::string_view data) {
  if (EVP_MAC_update(ctx_->ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    throw Error("OpenSSL: HMAC update failed");
}

std::array<unsigned char, 32> RunningMac::peek() const {
  RunningMac copy(*this);
  std::array<unsigned char, 32> out{};
  std::size_t len = 0;
  if (EVP_MAC_final(copy.ctx_->ctx, out.data(), &len, out.size()) != 1 || len != out.size())
    throw Error("OpenSSL: HMAC final failed");
  return out;
}

std::optional<NodeKey> load_node_key(const bfs::path& file) {
  Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) {
    if (errno == ENOENT) return std::nullopt;
    if (errno == ELOOP) throw Error(fmt::format("{}: the node key is a symlink: refused", file.string()), ExitCode::usage);
    throw_errno("open", file.string(), errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw_errno("stat", file.string(), errno);
  if (!S_ISREG(st.st_mode)) throw Error(fmt::format("{}: the node key is not a regular file", file.string()), ExitCode::usage);
  if (st.st_uid != 0 && st.st_uid != ::geteuid())
    throw Error(fmt::format("{}: the node key belongs to uid {}, not root: refused", file.string(), st.st_uid),
                ExitCode::usage);
  if ((st.st_mode & 077) != 0)
    throw Error(fmt::format("{}: the node key is mode {:04o}; others must not read it (chmod 600 {})", file.string(),
                            st.st_mode & 07777, file.string()),
                ExitCode::usage);
  if (st.st_size > 4096) throw Error(fmt::format("{}: not a kdr node key (too large)", file.string()), ExitCode::usage);
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const auto n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("read", file.string(), errno);
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  return NodeKey::parse(text, file.string());
}

NodeKey create_node_key(const bfs::path& file) {
  make_dirs(file.parent_path(), 0700);
  auto key = NodeKey::generate();
  const auto tmp = file.parent_path() / fmt::format(".{}.new-{}", file.filename().string(), ::getpid());
  ::unlink(tmp.c_str());
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) throw_errno("create", tmp.string(), errno);
    const auto text = key.text();
    write_all(fd.get(), text.data(), text.size(), tmp.string());
    if (::fsync(fd.get()) != 0) throw_errno("fsync", tmp.string(), errno);
  }
  // link(2) never replaces: a key another run made first wins, and this one is dropped.
  if (::link(tmp.c_str(), file.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    if (err == EEXIST) {
      auto existing = load_node_key(file);
      if (existing) return *existing;
    }
    throw_errno("create", file.string(), err);
  }
  ::unlink(tmp.c_str());
  fsync_path(file.parent_path());
  return key;
}

}  // namespace kdr::core
