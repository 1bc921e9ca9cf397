// SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, and kept: see the
// header for why (EVP's first use costs milliseconds per run).
#define OPENSSL_SUPPRESS_DEPRECATED
#include "audit/sha256.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <vector>

#include "core/error.h"

namespace gh {
namespace {

void init(SHA256_CTX* ctx) {
  if (SHA256_Init(ctx) != 1) throw RuntimeError("OpenSSL: cannot initialize SHA-256");
}

bool update(SHA256_CTX* ctx, const void* data, size_t size) {
  return size == 0 || SHA256_Update(ctx, data, size) == 1;
}

Sha256Digest finish(SHA256_CTX* ctx) {
  Sha256Digest d{};
  if (SHA256_Final(d.data(), ctx) != 1) throw RuntimeError("OpenSSL: SHA-256 failed");
  return d;
}

}  // namespace

Sha256Digest sha256(std::string_view data) {
  SHA256_CTX ctx;
  init(&ctx);
  if (!update(&ctx, data.data(), data.size())) throw RuntimeError("OpenSSL: SHA-256 failed");
  return finish(&ctx);
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
  SHA256_CTX ctx;
  init(&ctx);
  std::vector<char> buf(1 << 16);
  off_t off = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    if (!update(&ctx, buf.data(), static_cast<size_t>(n))) return std::nullopt;
    off += n;
  }
  return to_hex(finish(&ctx));
}

void Sha256Stream::Free::operator()(SHA256state_st* c) const {
  delete c;
}

Sha256Stream::Sha256Stream() : ctx_(new SHA256_CTX) {
  init(ctx_.get());
}

void Sha256Stream::update(std::string_view data) {
  if (!gh::update(ctx_.get(), data.data(), data.size()))
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
