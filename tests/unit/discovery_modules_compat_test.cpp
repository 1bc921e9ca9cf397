// Transitional: the host probe modules (scan/discovery_modules.h over scan/probe_ping_*.h) build
// exactly the frames the monolithic DiscoveryProbes built, byte for byte, for every probe kind,
// IPv4 and IPv6, routed / on-link ARP-NDP / on-link --send-ip / no link header, plain and
// --announce; and they read the same replies the same way (address, reason, attempt, MAC, TTL).
#include <gtest/gtest.h>

#include <time.h>

#include <vector>

#include "auth/announce.h"
#include "ping_replies.h"
#include "scan/discovery_modules.h"
#include "scan/discovery_probes.h"

namespace gh {
namespace {

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

struct Case {
  const char* name;
  bool v4;
  bool on_link;
  bool arp;
  bool link_header;
};

Route route_for(const Case& c) {
  Route r;
  r.source = c.v4 ? ip("198.18.0.1") : ip("2001:db8::1");
  r.src_mac = MacAddress{2, 0, 0, 0, 0, 1};
  r.ifindex = 3;
  r.arp_type = 1;
  if (!c.on_link) {
    r.gateway = c.v4 ? ip("198.18.0.254") : ip("2001:db8::fe");
    if (c.link_header) r.next_hop_mac = MacAddress{2, 0, 0, 0, 0, 2};
  }
  return r;
}

DiscoveryPlan plan_for(const Case& c) {
  DiscoveryPlan plan;
  plan.arp = c.arp;
  plan.echo = plan.timestamp = plan.mask = true;
  plan.syn_ports = {443, 22};
  plan.ack_ports = {80};
  plan.udp_ports = {40125, 53};
  return plan;
}

std::vector<std::vector<uint8_t>> old_frames(DiscoveryProbes& old, const IpAddress& dst,
                                             bool on_link, unsigned attempt, uint16_t ip_id) {
  uint8_t frames[16][DiscoveryProbes::kMaxFrame];
  size_t lengths[16];
  size_t n = old.build(frames, lengths, dst, on_link, attempt, ip_id);
  std::vector<std::vector<uint8_t>> out;
  for (size_t i = 0; i < n; ++i) out.emplace_back(frames[i], frames[i] + lengths[i]);
  return out;
}

std::vector<std::vector<uint8_t>> new_frames(const DiscoveryModules& mods, const IpAddress& dst,
                                             bool on_link, unsigned attempt, uint16_t ip_id) {
  std::vector<std::vector<uint8_t>> out;
  for (const auto& e : mods.probes(dst.family, on_link)) {
    std::vector<uint8_t> b(128);
    size_t len = e.module->build(b, e.probe(dst), BuildArgs{ip_id, static_cast<uint8_t>(attempt)});
    if (len == 0) continue;
    b.resize(len);
    out.push_back(std::move(b));
  }
  return out;
}

// The replies a target or a router could send to `frame`.
std::vector<std::vector<uint8_t>> replies_to(const std::vector<uint8_t>& frame,
                                             const IpAddress& dst, const Route& r) {
  using namespace test;
  std::vector<std::vector<uint8_t>> out;
  net::ParsedPacket p;
  if (!net::parse_packet(frame, net::LinkType::Ethernet, p)) {
    out.push_back(arp_reply(dst, r.source, r.src_mac));
    out.push_back(arp_reply(ip("198.18.9.9"), r.source, r.src_mac));
    out.push_back(arp_reply(dst, r.source, r.src_mac, 1));
    return out;
  }
  const bool v4 = p.ip_version == 4;
  const uint8_t unreach = v4 ? net::icmp::kDestUnreach : net::icmp6::kDestUnreach;
  const uint8_t port_unreach = v4 ? net::icmp::kPortUnreach : net::icmp6::kPortUnreach;
  if (p.is_icmp()) {
    if (!v4 && p.icmp.type == net::icmp6::kNeighborSolicit) {
      out.push_back(neighbor_advert(dst, r.source, r.src_mac));
      out.push_back(neighbor_advert(dst, r.source, r.src_mac, 0));
      return out;
    }
    for (uint8_t t : {0, 14, 18, 129}) out.push_back(icmp_reply(frame, t));
    auto bad = icmp_reply(frame, v4 ? 0 : 129);
    bad[p.l4_offset + 5] ^= 1;  // the id
    out.push_back(bad);
    return out;
  }
  if (p.is_tcp()) {
    out.push_back(syn_answer(frame, 0x12));
    out.push_back(syn_answer(frame, 0x14));
    out.push_back(ack_answer(frame));
  }
  if (p.is_udp()) out.push_back(udp_answer(frame));
  out.push_back(icmp_error(frame, unreach, port_unreach));
  out.push_back(icmp_error(frame, unreach, 1));
  out.push_back(
      icmp_error(frame, unreach, port_unreach, v4 ? ip("198.18.7.7") : ip("2001:db8::7")));
  return out;
}

TEST(DiscoveryModulesCompat, SameFramesAndVerdictsAsDiscoveryProbes) {
  const std::vector<uint8_t> secret(32, 3);
  auth::AnnounceKey key = auth::AnnounceKey::derive(secret, std::string(64, 'd'));
  auth::ProbeAnnouncer announcer(key);
  const Case cases[] = {
      {"routed", true, false, false, true},
      {"routed", false, false, false, true},
      {"arp", true, true, true, true},
      {"ndp", false, true, true, true},
      {"send-ip", true, true, false, true},
      {"send-ip", false, true, false, true},
      {"no link header", true, false, false, false},
      {"no link header", false, false, false, false},
  };
  int frames = 0, verdicts = 0;
  for (const Case& c : cases)
    for (bool announce : {false, true}) {
      SCOPED_TRACE(std::string(c.name) + (c.v4 ? " v4" : " v6") + (announce ? " tagged" : ""));
      const Route r = route_for(c);
      const DiscoveryPlan plan = plan_for(c);
      const auth::ProbeAnnouncer* a = announce ? &announcer : nullptr;
      DiscoveryProbes old(plan, 0x1234, 0x5678);
      old.set_announcer(a);
      old.prepare(r, c.on_link);
      DiscoveryModules mods(plan, ModuleKeys{0x1234, 0x5678}, a);
      mods.prepare(discovery_path(r, c.on_link));
      for (const char* d : {"198.18.1.5", "198.18.200.77", "2001:db8:1::5", "2001:db8:ff::abcd"}) {
        const IpAddress dst = ip(d);
        if (dst.is_v4() != c.v4) continue;
        for (unsigned attempt : {0u, 1u, 5u}) {
          const uint16_t ip_id = static_cast<uint16_t>(0x4000 + attempt);
          auto want = old_frames(old, dst, c.on_link, attempt, ip_id);
          auto got = new_frames(mods, dst, c.on_link, attempt, ip_id);
          ASSERT_EQ(got.size(), want.size());
          ASSERT_FALSE(got.empty());
          for (size_t i = 0; i < want.size(); ++i) {
            EXPECT_EQ(got[i], want[i]) << d << " frame " << i << " attempt " << attempt;
            ++frames;
            if (!c.link_header) continue;  // the sweep reads Ethernet frames only
            auto targets = [&](const IpAddress& x) { return x == dst; };
            for (const auto& reply : replies_to(want[i], dst, r)) {
              auto hit = old.classify(reply, targets);
              net::ParsedPacket pp;
              const bool is_ip = net::parse_packet(reply, net::LinkType::Ethernet, pp);
              RxFrame rx{reply, LinkFraming::Ethernet, is_ip ? &pp : nullptr, {}};
              ProbeVerdict v;
              bool ok = mods.classify(rx, v) && v.probe.addr == dst;
              ASSERT_EQ(ok, hit.has_value()) << d << " frame " << i;
              if (!ok) continue;
              ++verdicts;
              EXPECT_TRUE(v.host);
              EXPECT_EQ(v.host_state, HostState::Up);
              EXPECT_EQ(v.reason, hit->reason);
              EXPECT_EQ(v.ttl, hit->ttl);
              EXPECT_EQ(v.attempt_unknown, !hit->attempt.has_value());
              if (hit->attempt) {
                EXPECT_EQ(v.attempt, *hit->attempt);
              }
              EXPECT_EQ(v.has_mac, hit->mac.has_value());
              if (hit->mac) {
                EXPECT_EQ(v.mac, *hit->mac);
              }
            }
          }
        }
      }
    }
  EXPECT_GT(frames, 200);
  EXPECT_GT(verdicts, 100);
}

}  // namespace
}  // namespace gh
