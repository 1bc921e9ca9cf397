#include "auth/announce.h"

#include <time.h>

#include <array>
#include <cstring>

#include "audit/sha256.h"
#include "core/error.h"
#include "net/bytes.h"
#include "net/siphash.h"

namespace gh::auth {
namespace {

constexpr std::string_view kKeyLabel = "glasshouse announce v1";

uint64_t le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

// An address as two words (its family goes into the last word).
void address_words(const IpAddress& a, uint64_t* w) {
  w[0] = static_cast<uint64_t>(a.value);
  w[1] = static_cast<uint64_t>(a.value >> 64);
}

}  // namespace

AnnounceKey AnnounceKey::derive(std::span<const uint8_t> secret, const std::string& body_sha256) {
  std::string msg(kKeyLabel);
  for (size_t i = 0; i + 1 < body_sha256.size(); i += 2)
    msg += static_cast<char>(std::stoul(body_sha256.substr(i, 2), nullptr, 16));
  HmacSha256Stream mac(secret);
  mac.update(msg);
  const Sha256Digest k = mac.finish();
  AnnounceKey key;
  key.k0 = le64(k.data());
  key.k1 = le64(k.data() + 8);
  key.handle = net::load_be32(k.data() + 16);
  return key;
}

constexpr uint64_t kMacMask = ~uint64_t{0xffff};

uint64_t AnnounceKey::probe_mac(const IpAddress& dst, uint8_t proto, uint16_t dport,
                                uint32_t epoch) const {
  uint64_t w[3];
  address_words(dst, w);
  w[2] = uint64_t{proto} << 56 | uint64_t{dst.is_v6()} << 48 | uint64_t{dport} << 32 | epoch;
  return net::SipHash24(k0, k1).words(w, 3) & kMacMask;
}

uint16_t AnnounceKey::source_check(const IpAddress& src, uint64_t mac) const {
  // The probe MAC's low 16 bits are zero; the source's family and a label fill them, so that
  // this input never equals a probe MAC's.
  uint64_t w[3];
  address_words(src, w);
  w[2] = mac | uint64_t{src.is_v6()} << 8 | 0x5c;
  return static_cast<uint16_t>(net::SipHash24(k0, k1).words(w, 3));
}

uint64_t AnnounceKey::tag(const IpAddress& src, const IpAddress& dst, uint8_t proto, uint16_t dport,
                          uint32_t epoch) const {
  const uint64_t mac = probe_mac(dst, proto, dport, epoch);
  return mac | source_check(src, mac);
}

AnnounceKey::Check AnnounceKey::check(uint64_t tag, const IpAddress& src, const IpAddress& dst,
                                      uint8_t proto, uint16_t dport, uint32_t epoch) const {
  const uint64_t mac = probe_mac(dst, proto, dport, epoch);
  if ((tag & kMacMask) != mac) return Check::Invalid;
  return static_cast<uint16_t>(tag) == source_check(src, mac) ? Check::Valid : Check::Translated;
}

uint32_t epoch_of(int64_t unix_seconds) {
  return static_cast<uint32_t>(unix_seconds / kEpochSeconds);
}

uint32_t nearest_epoch(uint8_t lo, uint32_t now_epoch) {
  uint32_t base = now_epoch & ~uint32_t{0xff};
  uint32_t best = base | lo;
  for (int64_t d : {-256, 256}) {
    int64_t cand = static_cast<int64_t>(base | lo) + d;
    if (cand < 0) continue;
    auto dist = [&](int64_t e) { return e > now_epoch ? e - now_epoch : now_epoch - e; };
    if (dist(cand) < dist(best)) best = static_cast<uint32_t>(cand);
  }
  return best;
}

std::vector<uint8_t> ProbeAnnouncer::option_bytes() const {
  auto o = net::announce_option_template(key_.handle);
  return {o.begin(), o.end()};
}

uint32_t ProbeAnnouncer::now_epoch() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return epoch_of(ts.tv_sec);
}

net::AnnounceBlock ProbeAnnouncer::block_at(const IpAddress& src, const IpAddress& dst,
                                            uint8_t proto, uint16_t dport, uint32_t epoch) const {
  net::AnnounceBlock b = net::announce_option_template(key_.handle);
  net::fill_announce(b, static_cast<uint8_t>(epoch), key_.tag(src, dst, proto, dport, epoch));
  return b;
}

net::AnnounceBlock ProbeAnnouncer::block(const IpAddress& src, const IpAddress& dst, uint8_t proto,
                                         uint16_t dport) const {
  return block_at(src, dst, proto, dport, now_epoch());
}

void ProbeAnnouncer::stamp(uint8_t* tcp, size_t option_offset, const IpAddress& src,
                           const IpAddress& dst, uint16_t dport) const {
  uint32_t epoch = now_epoch();
  net::stamp_announce(tcp, option_offset, static_cast<uint8_t>(epoch),
                      key_.tag(src, dst, 6, dport, epoch));
}

}  // namespace gh::auth
