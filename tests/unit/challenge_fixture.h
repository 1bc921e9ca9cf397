// What the challenge tests share (detect_challenge_test, detect_early_challenge_test,
// detect_prepared_challenge_test): a scanner and a target on one LAN, the challenge toward the
// scanner, the RST its stack answers with, and a sender that keeps what it is given.
#pragma once

#include <cstdint>
#include <vector>

#include "core/address.h"
#include "detect/challenge.h"
#include "detect/event.h"

namespace gh::detect::fixture {

inline constexpr int64_t kSec = 1'000'000;

inline IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

inline const IpAddress kTarget = ip("198.18.1.1");
inline const IpAddress kScanner = ip("198.18.0.66");
inline const net::MacAddress kScannerMac{2, 0, 0, 0, 0, 0x66};
inline const net::MacAddress kTargetMac{2, 0, 0, 0, 0, 0x01};

// The challenge to `src` (port 40000) for its probe of `local`:`local_port`.
inline ChallengeTarget challenge_target(const IpAddress& src = kScanner,
                                        const IpAddress& local = kTarget,
                                        uint16_t local_port = 1000) {
  ChallengeTarget t;
  t.source = src;
  t.local = local;
  t.source_port = 40000;
  t.local_port = local_port;
  t.has_macs = true;
  t.source_mac = kScannerMac;
  t.local_mac = kTargetMac;
  return t;
}

// The RST a TCP stack sends for an unexpected SYN-ACK: seq = the SYN-ACK's ack.
inline PacketEvent challenge_rst(const ChallengeTarget& t, uint32_t seq, int64_t ts) {
  PacketEvent e;
  e.ts_us = ts;
  e.src = t.source;
  e.dst = t.local;
  e.proto = kProtoTcp;
  e.sport = t.source_port;
  e.dport = t.local_port;
  e.tcp_flags = tcpf::kRst;
  e.seq = seq;
  e.has_macs = true;
  e.src_mac = t.source_mac;
  e.dst_mac = t.local_mac;
  return e;
}

// A Challenger::Sender that keeps every packet and reports success.
struct Sent {
  std::vector<ChallengePacket> packets;
  Challenger::Sender sender() {
    return [this](const ChallengePacket& p) {
      packets.push_back(p);
      return 0;
    };
  }
};

}  // namespace gh::detect::fixture
