#include "audit/sha256.h"

#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <nettle/sha2.h>
#include <string.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace gh {

struct Sha256Stream::State {
  sha256_ctx ctx;
};

struct HmacSha256Stream::State {
  hmac_sha256_ctx ctx;
};

Sha256Digest sha256(std::string_view data) {
  Sha256Stream s;
  s.update(data);
  return s.finish();
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
  Sha256Stream s;
  std::vector<char> buf(1 << 16);
  off_t off = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    s.update(std::string_view(buf.data(), static_cast<size_t>(n)));
    off += n;
  }
  return to_hex(s.finish());
}

Sha256Stream::Sha256Stream() : state_(std::make_unique<State>()) {
  sha256_init(&state_->ctx);
}

Sha256Stream::~Sha256Stream() = default;
Sha256Stream::Sha256Stream(Sha256Stream&&) noexcept = default;
Sha256Stream& Sha256Stream::operator=(Sha256Stream&&) noexcept = default;

void Sha256Stream::update(std::string_view data) {
  if (!data.empty())
    sha256_update(&state_->ctx, data.size(), reinterpret_cast<const uint8_t*>(data.data()));
}

Sha256Digest Sha256Stream::finish() {
  Sha256Digest d{};
  sha256_digest(&state_->ctx, d.size(), d.data());
  return d;
}

HmacSha256Stream::HmacSha256Stream(std::span<const uint8_t> key)
    : state_(std::make_unique<State>()) {
  hmac_sha256_set_key(&state_->ctx, key.size(), key.data());
}

HmacSha256Stream::~HmacSha256Stream() {
  if (state_) explicit_bzero(&state_->ctx, sizeof state_->ctx);  // the key's inner and outer pads
}
HmacSha256Stream::HmacSha256Stream(HmacSha256Stream&&) noexcept = default;
HmacSha256Stream& HmacSha256Stream::operator=(HmacSha256Stream&&) noexcept = default;

void HmacSha256Stream::update(std::string_view data) {
  if (!data.empty())
    hmac_sha256_update(&state_->ctx, data.size(), reinterpret_cast<const uint8_t*>(data.data()));
}

Sha256Digest HmacSha256Stream::finish() {
  Sha256Digest d{};
  hmac_sha256_digest(&state_->ctx, d.size(), d.data());
  return d;
}

bool same_bytes_constant_time(std::string_view a, std::string_view b) {
  return a.size() == b.size() && (a.empty() || memeql_sec(a.data(), b.data(), a.size()) != 0);
}

}  // namespace gh
