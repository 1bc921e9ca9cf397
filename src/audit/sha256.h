// SHA-256 and HMAC-SHA-256, all through OpenSSL: the one home of hashing in Glasshouse (the
// audit log's chain, the resume file's checksum and HMAC, scope and output digests). Of a
// string, of a file read through a descriptor, and streamed. Every OpenSSL failure throws
// RuntimeError.
//
// SHA-256 uses OpenSSL's direct SHA256_* functions, not EVP: every scan hashes before its first
// probe (the audit start record, the scan's fingerprint), and EVP's first call initialises
// OpenSSL's providers and reads openssl.cnf, 1.5-2.4 ms on the project's machine against
// 0.07 ms, on the critical path of a scan that takes 50. HMAC (resume files only) stays EVP.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

struct SHA256state_st;
struct evp_mac_ctx_st;

namespace gh {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest sha256(std::string_view data);
// Lower-case hex, 64 characters.
std::string sha256_hex(std::string_view data);
std::string to_hex(const Sha256Digest& d);

// The SHA-256 of everything readable through `fd` from offset 0 (pread: the descriptor's offset
// is left alone). nullopt on a read error.
std::optional<std::string> sha256_of_fd(int fd);

// SHA-256 of bytes given in pieces.
class Sha256Stream {
 public:
  Sha256Stream();
  void update(std::string_view data);
  Sha256Digest finish();  // once

 private:
  struct Free {
    void operator()(SHA256state_st* c) const;
  };
  std::unique_ptr<SHA256state_st, Free> ctx_;
};

// HMAC-SHA-256 (RFC 2104) of bytes given in pieces, with OpenSSL's EVP_MAC.
class HmacSha256Stream {
 public:
  explicit HmacSha256Stream(std::span<const uint8_t> key);
  void update(std::string_view data);
  Sha256Digest finish();  // once

 private:
  struct Free {
    void operator()(evp_mac_ctx_st* c) const;
  };
  std::unique_ptr<evp_mac_ctx_st, Free> ctx_;
};

// Whether a and b hold the same bytes, in time that depends only on their sizes (CRYPTO_memcmp):
// for comparing MACs.
bool same_bytes_constant_time(std::string_view a, std::string_view b);

}  // namespace gh
