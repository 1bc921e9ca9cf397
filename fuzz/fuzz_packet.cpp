// libFuzzer target: the shared packet parser (src/net/packet.h) and what reads its output: every
// input is parsed as each LinkType (Ethernet, raw IP, Linux cooked v1/v2, BSD loopback), so one
// corpus entry exercises IPv4, IPv6 (extension headers), TCP (options), UDP, ICMP and ICMPv6
// (quoted packets of errors), ARP and NDP frames on every link layer; then as the detector
// decodes it (detect/decode.h, for each link type it supports). Any read out of bounds is an
// ASan report; the checks below trap on a ParsedPacket that points outside the frame.
#include <pcap/dlt.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "detect/decode.h"
#include "net/describe.h"
#include "net/icmp_template.h"
#include "net/packet.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gh::net;
  const std::span<const uint8_t> frame(data, size);
  for (LinkType link : {LinkType::Ethernet, LinkType::RawIp, LinkType::LinuxSll,
                        LinkType::LinuxSll2, LinkType::Loopback}) {
    ParsedPacket p;
    if (!parse_packet(frame, link, p)) continue;
    if (p.ip_version != 4 && p.ip_version != 6) __builtin_trap();
    if (size_t{p.l4_offset} + p.l4_len > size) __builtin_trap();
    if (p.l4_parsed && size_t{p.payload_offset} + p.payload_len > size) __builtin_trap();
    if (p.tcp.options.len > p.tcp.options.raw.size()) __builtin_trap();
    (void)verify_l4_checksum(frame, p);
    (void)verify_ipv4_header_checksum(frame, p);
    (void)describe_packet(p);
    NeighborAdvert na;
    if (parse_neighbor_advert(frame, p, na) && !na.target.is_v6()) __builtin_trap();
  }
  for (LinkType link : {LinkType::Ethernet, LinkType::LinuxSll, LinkType::LinuxSll2}) {
    ArpPacket arp;
    if (parse_arp(frame, link, arp) && (!arp.spa.is_v4() || !arp.tpa.is_v4())) __builtin_trap();
  }
  for (int dlt : {DLT_EN10MB, DLT_RAW, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP}) {
    if (!gh::detect::link_type_supported(dlt)) continue;
    gh::detect::PacketEvent ev;
    (void)gh::detect::make_event(data, size, dlt, 0, ev);
  }
  return 0;
}
