// Announced host discovery (scan --announce with discovery on): the SYN and ACK pings carry the
// tag option, the ICMP/ICMPv6 echo request and the UDP ping a tag trailer, each with valid
// checksums, and watch's decoder reads the tag that verifies for that probe; the timestamp
// request stays untagged; a UDP ping's ICMP port unreachable still matches its tagged datagram.
#include <gtest/gtest.h>

#include <time.h>

#include <vector>

#include "auth/announce.h"
#include "detect/decode.h"
#include "net/bytes.h"
#include "net/headers.h"
#include "net/packet.h"
#include "scan/discovery_modules.h"

namespace gh {
namespace {

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

TEST(AnnouncedDiscovery, EveryIpPingCarriesAValidTagButTimestamp) {
  const std::vector<uint8_t> secret(32, 3);
  auth::AnnounceKey key = auth::AnnounceKey::derive(secret, std::string(64, 'd'));
  auth::ProbeAnnouncer announcer(key);
  for (bool v4 : {true, false}) {
    DiscoveryPlan plan;
    plan.echo = true;
    plan.timestamp = true;
    plan.syn_ports = {443};
    plan.ack_ports = {80};
    plan.udp_ports = {40125};
    Route r;
    r.source = v4 ? ip("198.18.0.1") : ip("2001:db8::1");
    r.gateway = v4 ? ip("198.18.0.254") : ip("2001:db8::fe");
    r.src_mac = MacAddress{2, 0, 0, 0, 0, 1};
    r.next_hop_mac = MacAddress{2, 0, 0, 0, 0, 2};
    DiscoveryModules probes(plan, ModuleKeys{11, 22}, &announcer);
    probes.prepare(discovery_path(r, false));
    const IpAddress dst = v4 ? ip("198.18.1.5") : ip("2001:db8:1::5");
    uint8_t frames[16][128];
    size_t lengths[16];
    size_t n = 0;
    for (const auto& e : probes.probes(dst.family, false)) {
      lengths[n] = e.module->build(frames[n], e.probe(dst), BuildArgs{9, 0});
      ASSERT_NE(lengths[n], 0u);
      ++n;
    }
    ASSERT_EQ(n, v4 ? 5u : 4u);  // echo, (timestamp: IPv4 only), SYN, ACK, UDP
    const uint32_t now = auth::epoch_of(time(nullptr));
    int tagged = 0;
    for (size_t i = 0; i < n; ++i) {
      net::ParsedPacket p;
      ASSERT_TRUE(net::parse_packet({frames[i], lengths[i]}, net::LinkType::Ethernet, p)) << i;
      EXPECT_TRUE(net::verify_l4_checksum({frames[i], lengths[i]}, p)) << i;
      if (v4) {
        EXPECT_TRUE(net::verify_ipv4_header_checksum({frames[i], lengths[i]}, p)) << i;
      }
      detect::PacketEvent ev;
      ASSERT_EQ(detect::make_event(frames[i], lengths[i], detect::link::kEthernet, 0, ev),
                detect::Decode::Ok);
      const bool timestamp = ev.is_icmp() && ev.icmp_type == net::icmp::kTimestamp;
      EXPECT_EQ(ev.has_announce, !timestamp) << i;
      if (!ev.has_announce) continue;
      ++tagged;
      EXPECT_EQ(ev.announce.handle, key.handle);
      const uint32_t e = auth::nearest_epoch(ev.announce.epoch_lo, now);
      EXPECT_LE(now - e, 1u);
      EXPECT_EQ(ev.announce.tag, key.tag(r.source, dst, ev.proto, ev.dport, e)) << i;
      if (ev.is_tcp() && ev.has(detect::tcpf::kAck)) {
        EXPECT_EQ(ev.dport, 80);
      }
      if (ev.is_icmp()) {
        EXPECT_EQ(ev.dport, 0);
      }
    }
    EXPECT_EQ(tagged, 4);
    // The UDP ping's port unreachable, quoting the tagged datagram, says the host is up; a quote
    // with another checksum does not.
    const uint8_t* udp = frames[n - 1];
    const size_t ulen = lengths[n - 1];
    net::ParsedPacket sent;
    ASSERT_TRUE(net::parse_packet({udp, ulen}, net::LinkType::Ethernet, sent));
    ASSERT_TRUE(sent.is_udp());
    std::vector<uint8_t> err(udp, udp + 14);  // Ethernet, then swap the MACs
    std::swap_ranges(err.begin(), err.begin() + 6, err.begin() + 6);
    const std::vector<uint8_t> quote(udp + 14, udp + sent.l4_offset + 8);
    const size_t icmp_len = 8 + quote.size();
    if (v4) {
      std::vector<uint8_t> h = {0x45, 0, 0, 0, 0, 0, 0, 0, 64, net::ipproto::kIcmp, 0, 0};
      net::store_be16(&h[2], static_cast<uint16_t>(20 + icmp_len));
      const auto d = dst.bytes(), s = r.source.bytes();
      h.insert(h.end(), d.begin(), d.begin() + 4);
      h.insert(h.end(), s.begin(), s.begin() + 4);
      err.insert(err.end(), h.begin(), h.end());
      err.insert(err.end(), {net::icmp::kDestUnreach, net::icmp::kPortUnreach, 0, 0, 0, 0, 0, 0});
    } else {
      std::vector<uint8_t> h = {0x60, 0, 0, 0, 0, 0, net::ipproto::kIcmpv6, 64};
      net::store_be16(&h[4], static_cast<uint16_t>(icmp_len));
      const auto d = dst.bytes(), s = r.source.bytes();
      h.insert(h.end(), d.begin(), d.end());
      h.insert(h.end(), s.begin(), s.end());
      err.insert(err.end(), h.begin(), h.end());
      err.insert(err.end(), {net::icmp6::kDestUnreach, net::icmp6::kPortUnreach, 0, 0, 0, 0, 0, 0});
    }
    err.insert(err.end(), quote.begin(), quote.end());
    auto classify = [&](const std::vector<uint8_t>& f, ProbeVerdict& v) {
      net::ParsedPacket p;
      if (!net::parse_packet(f, net::LinkType::Ethernet, p)) return false;
      return probes.classify(RxFrame{f, LinkFraming::Ethernet, &p, {}}, v);
    };
    ProbeVerdict v;
    ASSERT_TRUE(classify(err, v));
    EXPECT_EQ(v.probe.addr, dst);
    EXPECT_EQ(v.reason, Reason::PortUnreach);
    err[err.size() - 1] ^= 0x10;  // the quoted checksum
    EXPECT_FALSE(classify(err, v));
  }
}

}  // namespace
}  // namespace gh
