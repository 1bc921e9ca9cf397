// libFuzzer target for -sU's parsers: the nmap-payloads reader (net/udp_payloads.h; a user's file
// given with --udp-payloads, or the installed one) and the UDP probe module's reply check
// (scan/probe_udp.h: replies and ICMP errors from a hostile network). Built with the other fuzz
// targets (GLASSHOUSE_FUZZ=ON, fuzz/CMakeLists.txt); seeds in fuzz/corpus/udp/.
//
// The first byte picks what the rest is:
//   0     an nmap-payloads file, added to our own table; every port it names then gets probes
//         built from it (each attempt's payload, with its echo cookie patched in)
//   else  a raw IP packet: parsed, then classified by the UDP module for both families
// A bad file must end in UsageError (a clear error), never a crash, a hang or a read out of
// bounds; classify() must never read outside the frame.
#include <cstddef>
#include <cstdint>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "net/packet.h"
#include "net/udp_payloads.h"
#include "scan/probe_udp.h"

namespace {

using gh::Family;
using gh::IpAddress;

std::unique_ptr<gh::UdpProbe> module(const gh::net::UdpPayloads& table, Family f) {
  auto m = std::make_unique<gh::UdpProbe>(gh::ModuleKeys{0x1111, 0x2222}, table);
  gh::PathInfo path;
  path.family = f;
  path.source = *IpAddress::parse(f == Family::V4 ? "198.18.0.1" : "2001:db8::1");
  path.framing = gh::LinkFraming::RawIp;
  if (!m->prepare(path)) __builtin_trap();
  return m;
}

void build_all(const gh::net::UdpPayloads& table) {
  auto m = module(table, Family::V4);
  std::vector<uint8_t> out(m->max_frame());
  const IpAddress dst = *IpAddress::parse("198.18.0.2");
  for (unsigned port = 0; port < 65536; ++port) {
    size_t n = table.count(static_cast<uint16_t>(port));
    for (unsigned a = 0; a < n; ++a) {
      size_t len = m->build(out, gh::Probe{dst, gh::Protocol::Udp, static_cast<uint16_t>(port)},
                            gh::BuildArgs{1, static_cast<uint8_t>(a)});
      if (len > out.size()) __builtin_trap();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (data[0] == 0) {
    gh::net::UdpPayloads table = gh::net::UdpPayloads::builtin();
    std::istringstream in{std::string(reinterpret_cast<const char*>(data) + 1, size - 1)};
    try {
      table.add_nmap_file(in, "fuzz");
    } catch (const gh::UsageError&) {
      return 0;
    }
    build_all(table);
    return 0;
  }
  static const gh::net::UdpPayloads table = gh::net::UdpPayloads::builtin();
  static const auto v4 = module(table, Family::V4);
  static const auto v6 = module(table, Family::V6);
  const std::span<const uint8_t> frame(data + 1, size - 1);
  gh::net::ParsedPacket p;
  if (!gh::net::parse_packet(frame, gh::net::LinkType::RawIp, p)) return 0;
  gh::RxFrame rx{frame, gh::LinkFraming::RawIp, &p, {}};
  gh::ProbeVerdict verdict;
  (void)v4->classify(rx, verdict);
  (void)v6->classify(rx, verdict);
  return 0;
}
