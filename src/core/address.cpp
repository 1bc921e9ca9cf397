#include "core/address.h"

#include <arpa/inet.h>

#include <cstring>

namespace gh {

IpAddress IpAddress::from_v6_bytes(const uint8_t* b) {
  u128 v = 0;
  for (int i = 0; i < 16; ++i) v = (v << 8) | b[i];
  return v6(v);
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  char buf[46];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  if (text.find(':') == std::string_view::npos) {
    in_addr a4{};
    // inet_pton accepts only the strict dotted quad (no "1.2.3", no octal), which is what we want.
    if (inet_pton(AF_INET, buf, &a4) != 1) return std::nullopt;
    return v4(ntohl(a4.s_addr));
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, buf, &a6) != 1) return std::nullopt;
  return from_v6_bytes(a6.s6_addr);
}

std::array<uint8_t, 16> IpAddress::bytes() const {
  std::array<uint8_t, 16> out{};
  if (is_v4()) {
    uint32_t v = v4_value();
    out[0] = static_cast<uint8_t>(v >> 24);
    out[1] = static_cast<uint8_t>(v >> 16);
    out[2] = static_cast<uint8_t>(v >> 8);
    out[3] = static_cast<uint8_t>(v);
  } else {
    for (int i = 0; i < 16; ++i) out[i] = static_cast<uint8_t>(value >> (8 * (15 - i)));
  }
  return out;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  auto b = bytes();
  if (inet_ntop(is_v4() ? AF_INET : AF_INET6, b.data(), buf, sizeof buf) == nullptr) return "?";
  return buf;
}

}  // namespace gh
