// -S, --source-ip (scan/source_pool.h): the parser, the choice of a probe's source address from
// the pool (stable per (target, port), spread over the pool), and the port modules built on it
// (scan/path_templates.h): each probe leaves from its slot's address, replies are accepted when
// they come back to that address and refused when they come to another one.
#include "scan/source_pool.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "cli/scan_options.h"
#include "core/error.h"
#include "net/bytes.h"
#include "net/headers.h"
#include "net/packet.h"
#include "net/udp_payloads.h"
#include "scan/probe_registry.h"
#include "scan/probe_udp.h"

namespace gh {
namespace {

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

std::vector<IpAddress> ips(std::initializer_list<const char*> l) {
  std::vector<IpAddress> out;
  for (const char* s : l) out.push_back(ip(s));
  return out;
}

TEST(SourcePoolParse, AddressesRangesAndBlocks) {
  EXPECT_EQ(parse_source_pool("198.18.0.9"), ips({"198.18.0.9"}));
  EXPECT_EQ(parse_source_pool("198.18.0.8/30"),
            ips({"198.18.0.8", "198.18.0.9", "198.18.0.10", "198.18.0.11"}));
  EXPECT_EQ(parse_source_pool("198.18.0.20-198.18.0.22"),
            ips({"198.18.0.20", "198.18.0.21", "198.18.0.22"}));
  EXPECT_EQ(parse_source_pool("198.18.1.1-2"), ips({"198.18.1.1", "198.18.1.2"}));
  // A list: sorted, duplicates once, both families (IPv4 first).
  EXPECT_EQ(parse_source_pool("2001:db8::2,198.18.0.3,198.18.0.1,198.18.0.3"),
            ips({"198.18.0.1", "198.18.0.3", "2001:db8::2"}));
  EXPECT_EQ(parse_source_pool("198.18.0.0/25").size(), kMaxSources);
  EXPECT_EQ(parse_source_pool("2001:db8::/124").size(), kMaxSources6);
}

TEST(SourcePoolParse, RefusesWhatIsNotAListOfAddresses) {
  for (const char* bad : {"", ",", "198.18.0.1,", ",198.18.0.1", "198.18.0.1,,198.18.0.2",
                          "localhost", "scanner.example", "198.18.0.300", "198.18.0.5-198.18.0.1",
                          "198.18.0.0/24", "198.18.0.0/25,198.18.1.1", "2001:db8::/120"}) {
    EXPECT_THROW(parse_source_pool(bad), UsageError) << bad;
  }
}

TEST(SourcePoolParse, TheCommandLineTakesDashS) {
  // -S and --source-ip fill the pool (checked against the route at run time, not here).
  auto parsed = parse_scan_args({"-sU", "-Pn", "-S", "198.18.0.8/31", "-p", "53", "198.18.1.2"},
                                /*raw_allowed=*/true);
  EXPECT_EQ(parsed.config.source_ips, ips({"198.18.0.8", "198.18.0.9"}));
  parsed = parse_scan_args({"-sS", "--source-ip=198.18.0.7", "-p", "22", "198.18.1.2"}, true);
  EXPECT_EQ(parsed.config.source_ips, ips({"198.18.0.7"}));
  EXPECT_THROW(parse_scan_args({"-sT", "-S", "198.18.0.7", "198.18.1.2"}, true), UsageError);
  EXPECT_THROW(parse_scan_args({"-sn", "-S", "198.18.0.7", "198.18.1.2"}, true), UsageError);
  EXPECT_THROW(parse_scan_args({"-sS", "-S", "nohost.invalid", "198.18.1.2"}, true), UsageError);
}

TEST(SourcePoolSlot, StablePerTargetAndPortAndSpreadOverThePool) {
  const auto key = source_pool_key(0x1111, 0x2222);
  EXPECT_EQ(source_slot(key, ip("198.18.1.2"), 53, 1), 0u);
  EXPECT_EQ(source_slot(key, ip("198.18.1.2"), 53, 0), 0u);
  std::set<size_t> seen;
  for (uint16_t port = 1; port <= 400; ++port) {
    const size_t s = source_slot(key, ip("198.18.1.2"), port, 16);
    ASSERT_LT(s, 16u);
    EXPECT_EQ(s, source_slot(key, ip("198.18.1.2"), port, 16));  // the same every time
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 16u);  // 400 ports reach every address of 16
  // Keyed: another scan's keys pick differently for some probe.
  const auto other = source_pool_key(0x3333, 0x4444);
  bool differs = false;
  for (uint16_t port = 1; port <= 64 && !differs; ++port)
    differs = source_slot(key, ip("198.18.1.2"), port, 16) !=
              source_slot(other, ip("198.18.1.2"), port, 16);
  EXPECT_TRUE(differs);
}

TEST(SourcePoolCheck, EveryAddressMustBeAssigned) {
  const auto assigned = ips({"198.18.0.1", "198.18.0.8", "198.18.0.9"});
  EXPECT_NO_THROW(check_sources_assigned(ips({"198.18.0.8", "198.18.0.9"}), assigned, "veth0"));
  EXPECT_THROW(check_sources_assigned(ips({"198.18.0.8", "198.18.0.10"}), assigned, "veth0"),
               UsageError);
}

// --- the modules with a pool ------------------------------------------------------------------

PathInfo pool_path(std::vector<IpAddress> sources) {
  PathInfo path;
  path.family = Family::V4;
  path.source = ip("198.18.0.1");
  path.framing = LinkFraming::RawIp;
  path.sources = std::move(sources);
  return path;
}

const ModuleKeys kKeys{0x1111, 0x2222};
const auto kPool = ips({"198.18.0.8", "198.18.0.9", "198.18.0.10", "198.18.0.11"});

std::vector<uint8_t> build(const ProbeModule& m, const char* dst, Protocol proto, uint16_t port,
                           uint8_t attempt = 0) {
  std::vector<uint8_t> out(m.max_frame());
  out.resize(m.build(out, Probe{ip(dst), proto, port}, BuildArgs{7, attempt}));
  return out;
}

net::ParsedPacket parse(const std::vector<uint8_t>& raw) {
  net::ParsedPacket p;
  EXPECT_TRUE(net::parse_packet(raw, net::LinkType::RawIp, p));
  return p;
}

bool classify(const ProbeModule& m, const std::vector<uint8_t>& raw, ProbeVerdict& v) {
  net::ParsedPacket p;
  if (!net::parse_packet(raw, net::LinkType::RawIp, p)) return false;
  RxFrame f{raw, LinkFraming::RawIp, &p, {}};
  return m.classify(f, v);
}

// The same packet with its IPv4 destination changed (the header checksum is not checked).
std::vector<uint8_t> readdressed(std::vector<uint8_t> b, const IpAddress& to) {
  net::store_be32(&b[16], to.v4_value());
  return b;
}

// The ICMP port unreachable the target sends for a UDP probe (raw IPv4).
std::vector<uint8_t> port_unreachable(const std::vector<uint8_t>& sent) {
  auto p = parse(sent);
  std::vector<uint8_t> quote(sent.begin(), sent.begin() + p.l4_offset + 8);
  std::vector<uint8_t> b = {0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, net::ipproto::kIcmp, 0, 0};
  net::store_be16(&b[2], static_cast<uint16_t>(20 + 8 + quote.size()));
  b.resize(20);
  net::store_be32(&b[12], p.dst.v4_value());
  net::store_be32(&b[16], p.src.v4_value());
  b.insert(b.end(), {net::icmp::kDestUnreach, net::icmp::kPortUnreach, 0, 0, 0, 0, 0, 0});
  b.insert(b.end(), quote.begin(), quote.end());
  return b;
}

// The RST|ACK a closed TCP port sends for a SYN (raw IPv4).
std::vector<uint8_t> reset_for(const std::vector<uint8_t>& syn) {
  auto p = parse(syn);
  std::vector<uint8_t> b = {0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, net::ipproto::kTcp, 0, 0};
  b.resize(40);
  net::store_be32(&b[12], p.dst.v4_value());
  net::store_be32(&b[16], p.src.v4_value());
  net::store_be16(&b[20], p.tcp.dport);
  net::store_be16(&b[22], p.tcp.sport);
  net::store_be32(&b[28], p.tcp.seq + 1);
  b[32] = 0x50;
  b[33] = 0x14;
  return b;
}

TEST(SourcePoolUdp, EachProbeLeavesFromItsSlotAndOnlyRepliesToThatAddressCount) {
  auto table = net::UdpPayloads::builtin();
  UdpProbe m(kKeys, table);
  ASSERT_TRUE(m.prepare(pool_path(kPool)));
  const auto key = source_pool_key(kKeys.k0, kKeys.k1);
  std::set<IpAddress> used;
  for (uint16_t port : {7, 53, 123, 161, 500, 1900, 5353, 40000, 40001, 40002, 40003, 40004}) {
    auto sent = build(m, "198.18.1.2", Protocol::Udp, port);
    ASSERT_FALSE(sent.empty());
    const IpAddress& src = kPool[source_slot(key, ip("198.18.1.2"), port, kPool.size())];
    EXPECT_EQ(parse(sent).src, src) << port;
    EXPECT_EQ(m.source_slot(Probe{ip("198.18.1.2"), Protocol::Udp, port}),
              source_slot(key, ip("198.18.1.2"), port, kPool.size()));
    used.insert(src);
    // Every retry leaves from the same address.
    for (uint8_t attempt = 1; attempt < 4; ++attempt)
      EXPECT_EQ(parse(build(m, "198.18.1.2", Protocol::Udp, port, attempt)).src, src);
    // The port unreachable to that address: closed. The same error to another pool address,
    // or to an address outside the pool: not ours.
    ProbeVerdict v;
    auto err = port_unreachable(sent);
    ASSERT_TRUE(classify(m, err, v)) << port;
    EXPECT_EQ(v.state, PortState::Closed);
    EXPECT_EQ(v.probe.port, port);
    for (const IpAddress& other : kPool)
      if (other != src) {
        EXPECT_FALSE(classify(m, readdressed(err, other), v)) << port;
      }
    EXPECT_FALSE(classify(m, readdressed(err, ip("198.18.0.1")), v));
    EXPECT_FALSE(classify(m, readdressed(err, ip("198.18.0.12")), v));
  }
  EXPECT_GE(used.size(), 3u);  // the probes are spread over the pool
}

TEST(SourcePoolUdp, OneAddressPoolBuildsTheFramesOfNoPool) {
  auto table = net::UdpPayloads::builtin();
  UdpProbe plain(kKeys, table), pooled(kKeys, table);
  PathInfo path = pool_path({});
  ASSERT_TRUE(plain.prepare(path));
  path.sources = {path.source};
  ASSERT_TRUE(pooled.prepare(path));
  for (uint16_t port : {53, 161, 40000})
    EXPECT_EQ(build(plain, "198.18.1.2", Protocol::Udp, port),
              build(pooled, "198.18.1.2", Protocol::Udp, port));
}

TEST(SourcePoolTcp, SynAndFlagScansSendFromTheSlotAndCheckTheReplysAddress) {
  for (const char* name : {"tcp_syn", "tcp_fin"}) {
    auto m = make_probe_module(name, kKeys);
    ASSERT_TRUE(m->prepare(pool_path(kPool)));
    const auto key = source_pool_key(kKeys.k0, kKeys.k1);
    for (uint16_t port : {22, 80, 443, 8080, 9999}) {
      auto sent = build(*m, "198.18.1.2", Protocol::Tcp, port);
      ASSERT_FALSE(sent.empty());
      const IpAddress& src = kPool[source_slot(key, ip("198.18.1.2"), port, kPool.size())];
      EXPECT_EQ(parse(sent).src, src) << name << " " << port;
      EXPECT_EQ(parse(build(*m, "198.18.1.2", Protocol::Tcp, port, 2)).src, src);
      ProbeVerdict v;
      auto rst = reset_for(sent);
      ASSERT_TRUE(classify(*m, rst, v)) << name << " " << port;
      EXPECT_EQ(v.state, PortState::Closed);
      for (const IpAddress& other : kPool)
        if (other != src) {
          EXPECT_FALSE(classify(*m, readdressed(rst, other), v));
        }
      EXPECT_FALSE(classify(*m, readdressed(rst, ip("198.18.0.1")), v));
    }
  }
}

}  // namespace
}  // namespace gh
