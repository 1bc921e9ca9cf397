#include "audit/sha256.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
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

void Sha256Stream::Free::operator()(evp_md_ctx_st* c) const {
  EVP_MD_CTX_free(c);
}

Sha256Stream::Sha256Stream() : ctx_(new_ctx().release()) {}

void Sha256Stream::update(std::string_view data) {
  if (EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1)
    throw RuntimeError("OpenSSL: SHA-256 failed");
}

Sha256Digest Sha256Stream::finish() {
  return gh::finish(ctx_.get());
}

void HmacSha256Stream::Free::operator()(evp_mac_ctx_st* c) const {
  EVP_MAC_CTX_free(c);
}

HmacSha256Stream::HmacSha256Stream(std::span<const uint8_t> key) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) throw RuntimeError("OpenSSL: no HMAC");
  ctx_.reset(EVP_MAC_CTX_new(mac));
  EVP_MAC_free(mac);  // the context keeps its own reference
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (!ctx_ || EVP_MAC_init(ctx_.get(), key.data(), key.size(), params) != 1)
    throw RuntimeError("OpenSSL: cannot initialize HMAC-SHA-256");
}

void HmacSha256Stream::update(std::string_view data) {
  if (EVP_MAC_update(ctx_.get(), reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1)
    throw RuntimeError("OpenSSL: HMAC-SHA-256 failed");
}

Sha256Digest HmacSha256Stream::finish() {
  Sha256Digest d{};
  size_t len = 0;
  if (EVP_MAC_final(ctx_.get(), d.data(), &len, d.size()) != 1 || len != d.size())
    throw RuntimeError("OpenSSL: HMAC-SHA-256 failed");
  return d;
}

bool same_bytes_constant_time(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace gh
