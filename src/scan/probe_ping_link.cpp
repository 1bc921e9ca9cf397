#include "scan/probe_ping_link.h"

#include <fmt/format.h>

#include "net/headers.h"

namespace gh {
namespace {

bool onlink_ethernet(const PathInfo& path, Family family) {
  return path.family == family && path.source.family == family && path.on_link && !path.loopback &&
         path.framing == LinkFraming::Ethernet;
}

}  // namespace

bool ArpPing::prepare(const PathInfo& path) {
  if (!onlink_ethernet(path, Family::V4)) return false;
  template_.emplace(path.source, path.src_mac);
  source_ = path.source;
  src_mac_ = path.src_mac;
  return true;
}

size_t ArpPing::build(std::span<uint8_t> out, const Probe& probe, const BuildArgs& /*args*/) const {
  if (!template_ || out.size() < net::ArpRequestTemplate::kSize) return 0;
  return template_->build(out.data(), probe.addr);
}

bool ArpPing::classify(const RxFrame& frame, ProbeVerdict& out) const {
  if (!template_ || frame.framing != LinkFraming::Ethernet) return false;
  net::ArpPacket a;
  if (!net::parse_arp(frame.bytes, net::LinkType::Ethernet, a)) return false;
  if (a.op != net::arp::kReply || a.tpa != source_) return false;
  // A reply to our request: to our MAC (unicast, as RFC 826 sends it) or naming it.
  if (a.tha != src_mac_ && a.dst_mac != src_mac_) return false;
  up(out, host_probe(a.spa), Reason::ArpResponse, nullptr, std::nullopt);
  out.has_mac = true;
  out.mac = a.sha;
  return true;
}

std::string ArpPing::describe(std::span<const uint8_t> frame, LinkFraming /*framing*/) const {
  net::ArpPacket a;
  if (!net::parse_arp(frame, net::LinkType::Ethernet, a)) return "arp (unparsable frame)";
  return fmt::format("ARP who-has {} tell {}", a.tpa.to_string(), a.spa.to_string());
}

bool NdpPing::prepare(const PathInfo& path) {
  if (!onlink_ethernet(path, Family::V6)) return false;
  template_.emplace(path.source, path.src_mac);
  source_ = path.source;
  return true;
}

size_t NdpPing::build(std::span<uint8_t> out, const Probe& probe, const BuildArgs& /*args*/) const {
  if (!template_ || out.size() < net::NeighborSolicitTemplate::kSize) return 0;
  return template_->build(out.data(), probe.addr);
}

bool NdpPing::classify(const RxFrame& frame, ProbeVerdict& out) const {
  if (!template_ || frame.ip == nullptr) return false;
  const net::ParsedPacket& p = *frame.ip;
  if (!p.l4_parsed || p.ip_version != 6 || !p.is_icmp() || p.is_icmp_error()) return false;
  if (p.icmp.type != net::icmp6::kNeighborAdvert || p.dst != source_) return false;
  net::NeighborAdvert na;
  if (!net::parse_neighbor_advert(frame.bytes, p, na)) return false;
  if (!(na.flags & net::icmp6::kNaSolicited)) return false;
  up(out, host_probe(na.target), Reason::NdResponse, &p, std::nullopt);
  if (na.mac) {
    out.has_mac = true;
    out.mac = *na.mac;
  }
  return true;
}

}  // namespace gh
