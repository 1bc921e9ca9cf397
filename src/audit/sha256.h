// SHA-256 and HMAC-SHA-256 (RFC 2104): the one home of hashing in Glasshouse (the audit log's
// chain, the resume file's checksum and HMAC, scope and output digests, the announcements'
// MACs). Of a string, of a file read through a descriptor, and streamed.
//
// Through Nettle (libnettle8), not OpenSSL: every scan hashes before its first probe (its
// fingerprint, the audit start record), and linking libcrypto cost every start 3-4 ms on the
// project's machine (loading and relocating it; EVP's first call another 1.5-2.4 ms for its
// providers and openssl.cnf). libcrypto is loaded only by what needs it (owner keys, TLS
// certificates: core/dynlib.h). Nettle's functions cannot fail.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

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
  ~Sha256Stream();
  Sha256Stream(Sha256Stream&&) noexcept;
  Sha256Stream& operator=(Sha256Stream&&) noexcept;
  void update(std::string_view data);
  Sha256Digest finish();  // once

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// HMAC-SHA-256 (RFC 2104) of bytes given in pieces.
class HmacSha256Stream {
 public:
  explicit HmacSha256Stream(std::span<const uint8_t> key);
  ~HmacSha256Stream();  // wipes the key's pads
  HmacSha256Stream(HmacSha256Stream&&) noexcept;
  HmacSha256Stream& operator=(HmacSha256Stream&&) noexcept;
  void update(std::string_view data);
  Sha256Digest finish();  // once

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Whether a and b hold the same bytes, in time that depends only on their sizes (memeql_sec):
// for comparing MACs.
bool same_bytes_constant_time(std::string_view a, std::string_view b);

}  // namespace gh
