// The authentication tag of an announced probe (scan --announce; docs/AUTHORIZATION.md).
//
// Keys. The owner's signed scope holds a per-engagement secret ([announce] secret, 32 random
// bytes added by `scope sign`). Both sides hold that scope: the operator to scan, the owner's
// `watch` to recognize the scan. Neither needs the other's private key:
//
//   K      = HMAC-SHA-256(secret, "glasshouse announce v1" || SHA-256(signed scope body))
//   key    = K[0..16)        a SipHash-2-4 key
//   handle = be32(K[16..20)) names the engagement in the clear, so `watch` finds its key at once
//
// Binding the key to the hash of the signed body ties every tag to that exact scope (its
// engagement id, targets, ports, window and limits): a tag made under another scope, even one
// with the same secret, does not verify.
//
// Tag. For one probe, 64 bits in two parts (epoch = floor(unix time / kEpochSeconds)):
//   bits 63..16  the probe MAC: the top 48 bits of SipHash-2-4 under `key` of (destination
//                address, protocol, destination port, epoch). It binds the engagement (the key),
//                the target, the port and the minute, and not the source address, which a NAT
//                between the operator and the target rewrites.
//   bits 15..0   the source check: 16 bits of SipHash-2-4 under `key` of (source address, the
//                probe MAC). It tells whether the source the watcher sees is the one the scanner
//                tagged for, or one rewritten on the path.
// check() says which: Valid (both match), Translated (the probe MAC matches, the source check
// not: the scan is recognized, at a lower confidence, and watch then refuses the same tag from a
// second source as a replay), or Invalid. Replayed for another target, port, protocol or
// engagement, or after its epoch, a tag fails; a forger has one chance in 2^48 per probe.
// `watch` accepts epochs within kEpochSlack of its own clock (clock skew).
//
// Cost: two SipHash-2-4 calls per probe (over 24 bytes, then 24; about 40 ns), chosen over a
// truncated HMAC-SHA-256 (about 1 us with OpenSSL's per-call overhead) so that tagged probes stay
// at line rate (docs/BENCHMARKS.md, "announce").
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/address.h"
#include "net/announce_option.h"

namespace gh::auth {

inline constexpr int64_t kEpochSeconds = 60;
inline constexpr int64_t kEpochSlack = 2;  // epochs either side of the watcher's clock

struct AnnounceKey {
  uint64_t k0 = 0, k1 = 0;  // SipHash key
  uint32_t handle = 0;

  // secret: 32 bytes from the scope; body_sha256: hex SHA-256 of the signed scope body.
  static AnnounceKey derive(std::span<const uint8_t> secret, const std::string& body_sha256);

  uint64_t tag(const IpAddress& src, const IpAddress& dst, uint8_t proto, uint16_t dport,
               uint32_t epoch) const;

  enum class Check : uint8_t { Invalid, Valid, Translated };
  // `tag` as seen on a probe from src to (dst, dport) in `epoch`.
  Check check(uint64_t tag, const IpAddress& src, const IpAddress& dst, uint8_t proto,
              uint16_t dport, uint32_t epoch) const;

 private:
  uint64_t probe_mac(const IpAddress& dst, uint8_t proto, uint16_t dport, uint32_t epoch) const;
  uint16_t source_check(const IpAddress& src, uint64_t mac) const;
};

uint32_t epoch_of(int64_t unix_seconds);
// The epoch whose low byte is `lo` nearest to `now_epoch`.
uint32_t nearest_epoch(uint8_t lo, uint32_t now_epoch);

// What the probe modules need to tag their probes. Thread-safe (const after construction); the
// wall clock is read per probe (CLOCK_REALTIME_COARSE).
//   TCP: option_bytes() (the option's constant bytes, for the template), then stamp() per probe.
//   UDP: block() per probe: the same 18 bytes, filled, as the datagram's trailer
//        (net/announce_option.h, "UDP"); uri() is the scope's RFC 9511 probe-description URI
//        ([announce] uri, may be empty), which a datagram with no protocol payload carries first.
class ProbeAnnouncer {
 public:
  explicit ProbeAnnouncer(const AnnounceKey& key, std::string uri = {})
      : key_(key), uri_(std::move(uri)) {}
  std::vector<uint8_t> option_bytes() const;
  // Stamps the option at tcp[option_offset] of a built SYN from src to (dst, dport).
  void stamp(uint8_t* tcp, size_t option_offset, const IpAddress& src, const IpAddress& dst,
             uint16_t dport) const;
  // The filled block for a probe of `proto` from src to (dst, dport): now, or in a given epoch.
  net::AnnounceBlock block(const IpAddress& src, const IpAddress& dst, uint8_t proto,
                           uint16_t dport) const;
  net::AnnounceBlock block_at(const IpAddress& src, const IpAddress& dst, uint8_t proto,
                              uint16_t dport, uint32_t epoch) const;
  static uint32_t now_epoch();
  const AnnounceKey& key() const { return key_; }
  const std::string& uri() const { return uri_; }

 private:
  AnnounceKey key_;
  std::string uri_;
};

}  // namespace gh::auth
