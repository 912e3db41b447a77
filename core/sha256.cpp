#include "core/sha256.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "core/fs.hpp"

#include "core/error.hpp"

namespace kdr::core {

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  if (ctx_->md == nullptr) throw Error("OpenSSL: cannot allocate a SHA-256 context");
  reset();
}

Sha256::~Sha256() = default;

void Sha256::reset() {
  if (EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1)
    throw Error("OpenSSL: cannot initialise SHA-256");
}

void Sha256::update(const void* data, std::size_t size) {
  if (EVP_DigestUpdate(ctx_->md, data, size) != 1) throw Error("OpenSSL: SHA-256 update failed");
}

std::string Sha256::hex_digest_with(std::string_view tail) const {
  Sha256 copy;
  if (EVP_MD_CTX_copy_ex(copy.ctx_->md, ctx_->md) != 1) throw Error("OpenSSL: cannot copy a SHA-256 context");
  copy.update(tail.data(), tail.size());
  return copy.hex_digest();
}

std::string Sha256::hex_digest() {
  Sha256Bytes digest;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_->md, digest.data(), &len) != 1 || len != digest.size())
    throw Error("OpenSSL: SHA-256 final failed");
  reset();
  return hex_of(digest);
}

std::string hex_of(const Sha256Bytes& digest) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(digest.size() * 2);
  for (const unsigned char b : digest) {
    out += hex[b >> 4];
    out += hex[b & 0xf];
  }
  return out;
}

Sha256Bytes sha256_bytes(std::string_view data) {
  Sha256Bytes out;
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1 || len != out.size())
    throw Error("OpenSSL: SHA-256 failed");
  return out;
}

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data.data(), data.size());
  return h.hex_digest();
}

namespace {

// Reads [from, to) of the file into the hash.
void hash_range(Sha256& h, int fd, off_t from, off_t to, std::vector<char>& buf, const std::string& path) {
  while (from < to) {
    const auto want = static_cast<std::size_t>(std::min<off_t>(to - from, static_cast<off_t>(buf.size())));
    const auto n = pread_some(fd, buf.data(), want, from, path);
    if (n == 0) return;  // shorter than when it was opened
    h.update(buf.data(), n);
    from += static_cast<off_t>(n);
  }
}

// A hole reads as zeros: hashed from memory, nothing read from the file.
void hash_zeros(Sha256& h, off_t count) {
  static const std::vector<char> zeros(1 << 20, 0);
  while (count > 0) {
    const auto n = static_cast<std::size_t>(std::min<off_t>(count, static_cast<off_t>(zeros.size())));
    h.update(zeros.data(), n);
    count -= static_cast<off_t>(n);
  }
}

}  // namespace

std::string sha256_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_errno("open", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw_errno("stat", path, errno);
  Sha256 h;
  std::vector<char> buf(1 << 20);
  // Only the data extents are read (SEEK_DATA/SEEK_HOLE, as the backup copies them): the
  // preallocated, never-written tail of a WAL segment is hashed as the zeros it reads as.
  off_t pos = 0;
  const off_t size = st.st_size;
  while (pos < size) {
    off_t data = ::lseek(fd.get(), pos, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) {
        data = size;  // a hole up to the end
      } else if (errno == EINVAL || errno == EOPNOTSUPP) {
        hash_range(h, fd.get(), pos, size, buf, path);  // no hole support here: read it all
        return h.hex_digest();
      } else {
        throw_errno("seek", path, errno);
      }
    }
    hash_zeros(h, std::min(data, size) - pos);
    if (data >= size) break;
    off_t hole = ::lseek(fd.get(), data, SEEK_HOLE);
    if (hole < 0 || hole > size) hole = size;
    hash_range(h, fd.get(), data, hole, buf, path);
    pos = hole;
  }
  return h.hex_digest();
}

bool is_sha256_hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace kdr::core
