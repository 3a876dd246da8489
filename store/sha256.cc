#include "store/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace ctflow {

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
};

namespace {
// The SHA-256 implementation, fetched from the provider once. With OpenSSL 3 a
// bare EVP_sha256() is fetched again (under a lock) by every EVP_DigestInit_ex,
// which shows when thousands of small files are hashed from several threads.
// Either way it is the EVP path: SHA-NI or AVX2 code where the CPU has them.
const EVP_MD* sha256_md() {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
  static const EVP_MD* md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched != nullptr ? fetched : EVP_sha256();
  }();
  return md;
#else
  return EVP_sha256();
#endif
}
}  // namespace

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx_->md, sha256_md(), nullptr);
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_->md); }

void Sha256::update(const void* data, size_t size) { EVP_DigestUpdate(ctx_->md, data, size); }

std::string Sha256::hex_digest() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_->md, out, &len);
  static const char* kHex = "0123456789abcdef";
  std::string hex(len * 2, '0');
  for (unsigned i = 0; i < len; ++i) {
    hex[2 * i] = kHex[out[i] >> 4];
    hex[2 * i + 1] = kHex[out[i] & 0xf];
  }
  return hex;
}

std::string Sha256::hex_of(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.hex_digest();
}

Result<FileHash> sha256_fd(int fd, const std::filesystem::path& path) {
  constexpr size_t kChunk = 1 << 20;
  thread_local std::vector<char> buf(kChunk);
  Sha256 h;
  FileHash out;
  for (;;) {
    ssize_t n = ::pread(fd, buf.data(), kChunk, out.size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Error("cannot read " + path.string() + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    h.update(buf.data(), static_cast<size_t>(n));
    out.size += n;
  }
  out.hex = h.hex_digest();
  return out;
}

Result<FileHash> sha256_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Error("cannot open " + path.string() + ": " + std::strerror(errno));
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  auto r = sha256_fd(fd, path);
  ::close(fd);
  return r;
}

}  // namespace ctflow
