#include "audit/sha256.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <vector>

#include "core/error.h"

namespace gh {
namespace {

struct CtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_MD_CTX, CtxFree>;

Ctx new_ctx() {
  Ctx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    throw RuntimeError("OpenSSL: cannot initialize SHA-256");
  return ctx;
}

Sha256Digest finish(EVP_MD_CTX* ctx) {
  Sha256Digest d{};
  unsigned len = 0;
  if (EVP_DigestFinal_ex(ctx, d.data(), &len) != 1 || len != d.size())
    throw RuntimeError("OpenSSL: SHA-256 failed");
  return d;
}

}  // namespace

Sha256Digest sha256(std::string_view data) {
  Ctx ctx = new_ctx();
  if (EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1)
    throw RuntimeError("OpenSSL: SHA-256 failed");
  return finish(ctx.get());
}

std::string to_hex(const Sha256Digest& d) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (uint8_t b : d) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  return to_hex(sha256(data));
}

std::optional<std::string> sha256_of_fd(int fd) {
  Ctx ctx = new_ctx();
  std::vector<char> buf(1 << 16);
  off_t off = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    if (EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n)) != 1) return std::nullopt;
    off += n;
  }
  return to_hex(finish(ctx.get()));
}

}  // namespace gh
