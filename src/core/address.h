// IP addresses of both families as one small value type.
//
// An address is a family plus a 128-bit integer: IPv4 uses the low 32 bits, IPv6 all 128, both in
// host order so that ranges are plain integer intervals. Ordering is (family, value): every IPv4
// address sorts before every IPv6 address.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gh {

using u128 = unsigned __int128;

enum class Family : uint8_t { V4 = 4, V6 = 6 };

struct IpAddress {
  Family family = Family::V4;
  u128 value = 0;

  static IpAddress v4(uint32_t host_order) { return {Family::V4, host_order}; }
  static IpAddress v6(u128 host_order) { return {Family::V6, host_order}; }
  static IpAddress from_v6_bytes(const uint8_t* network_order16);

  // Parses a dotted quad or an IPv6 literal (no brackets, no zone, no prefix). nullopt if bad.
  static std::optional<IpAddress> parse(std::string_view text);

  bool is_v4() const { return family == Family::V4; }
  bool is_v6() const { return family == Family::V6; }
  uint32_t v4_value() const { return static_cast<uint32_t>(value); }
  // Network-order bytes: 4 for IPv4 (the rest zero), 16 for IPv6.
  std::array<uint8_t, 16> bytes() const;
  // Bits in this family's addresses: 32 or 128.
  int bits() const { return is_v4() ? 32 : 128; }

  std::string to_string() const;

  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

struct IpAddressHash {
  size_t operator()(const IpAddress& a) const noexcept {
    uint64_t lo = static_cast<uint64_t>(a.value), hi = static_cast<uint64_t>(a.value >> 64);
    uint64_t h =
        lo * 0x9E3779B97F4A7C15ull ^ (hi + static_cast<uint64_t>(a.family)) * 0xC2B2AE3D27D4EB4Full;
    return static_cast<size_t>(h ^ (h >> 31));
  }
};

}  // namespace gh
