// The UDP probe module (-sU): payloads and their echo cookie, replies and ICMP errors built from
// the probe it sent, the payload table and nmap-payloads parsing, and the per-host pacer.
#include "scan/probe_udp.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

#include "auth/announce.h"
#include "core/error.h"
#include "net/announce_option.h"
#include "net/bytes.h"
#include "net/headers.h"
#include "net/packet.h"
#include "scan/host_pacer.h"
#include "scan/probe_registry.h"

namespace gh {
namespace {

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

std::unique_ptr<UdpProbe> udp_module(const net::UdpPayloads& payloads, Family f) {
  auto m = std::make_unique<UdpProbe>(ModuleKeys{0x1111, 0x2222}, payloads);
  PathInfo path;
  path.family = f;
  path.source = f == Family::V4 ? ip("198.18.0.1") : ip("2001:db8::1");
  path.framing = LinkFraming::RawIp;
  EXPECT_TRUE(m->prepare(path));
  return m;
}

std::vector<uint8_t> probe(const UdpProbe& m, const char* dst, uint16_t port, uint8_t attempt = 0) {
  std::vector<uint8_t> out(m.max_frame());
  size_t n = m.build(out, Probe{ip(dst), Protocol::Udp, port}, BuildArgs{7, attempt});
  out.resize(n);
  return out;
}

net::ParsedPacket parse(const std::vector<uint8_t>& raw) {
  net::ParsedPacket p;
  EXPECT_TRUE(net::parse_packet(raw, net::LinkType::RawIp, p));
  return p;
}

// An IP header from `src` to `dst` for `proto` with `len` bytes after it.
std::vector<uint8_t> ip_header(const IpAddress& src, const IpAddress& dst, uint8_t proto,
                               size_t len) {
  std::vector<uint8_t> b;
  const auto s = src.bytes(), d = dst.bytes();
  if (src.is_v4()) {
    b = {0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0};
    net::store_be16(&b[2], static_cast<uint16_t>(20 + len));
    b.insert(b.end(), s.begin(), s.begin() + 4);
    b.insert(b.end(), d.begin(), d.begin() + 4);
  } else {
    b = {0x60, 0, 0, 0, 0, 0, proto, 64};
    net::store_be16(&b[4], static_cast<uint16_t>(len));
    b.insert(b.end(), s.begin(), s.end());
    b.insert(b.end(), d.begin(), d.end());
  }
  return b;
}

// The UDP reply of the probed port: `payload` from (dst, dport) back to (src, sport).
std::vector<uint8_t> reply_to(const std::vector<uint8_t>& sent, std::vector<uint8_t> payload) {
  auto p = parse(sent);
  auto b = ip_header(p.dst, p.src, net::ipproto::kUdp, 8 + payload.size());
  size_t u = b.size();
  b.resize(u + 8);
  net::store_be16(&b[u], p.udp.dport);
  net::store_be16(&b[u + 2], p.udp.sport);
  net::store_be16(&b[u + 4], static_cast<uint16_t>(8 + payload.size()));
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

// An ICMP error from `from` quoting the probe's IP header and first 8 UDP bytes.
std::vector<uint8_t> icmp_error(const std::vector<uint8_t>& sent, const IpAddress& from,
                                uint8_t type, uint8_t code) {
  auto p = parse(sent);
  std::vector<uint8_t> quote(sent.begin(), sent.begin() + p.l4_offset + 8);
  const bool v4 = p.ip_version == 4;
  auto b =
      ip_header(from, p.src, v4 ? net::ipproto::kIcmp : net::ipproto::kIcmpv6, 8 + quote.size());
  b.insert(b.end(), {type, code, 0, 0, 0, 0, 0, 0});
  b.insert(b.end(), quote.begin(), quote.end());
  return b;
}

bool classify(const ProbeModule& m, const std::vector<uint8_t>& raw, ProbeVerdict& v) {
  net::ParsedPacket p;
  if (!net::parse_packet(raw, net::LinkType::RawIp, p)) return false;
  RxFrame f{raw, LinkFraming::RawIp, &p, {}};
  return m.classify(f, v);
}

TEST(UdpModule, RegisteredAsTheSuScanType) {
  ASSERT_NE(find_probe_module("udp"), nullptr);
  const ScanTypeEntry* t = scan_type_by_flag("-sU");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->type, ScanType::Udp);
  EXPECT_EQ(t->port_module, "udp");
  EXPECT_EQ(scan_type_by_code(16)->type, ScanType::Udp);
  auto m = make_probe_module("udp", ModuleKeys{1, 2});
  EXPECT_EQ(m->protocol(), Protocol::Udp);
  EXPECT_EQ(m->silence(), Silence::PortOpenFiltered);
  EXPECT_TRUE(m->icmp_paced());
}

TEST(UdpModule, DnsProbeCarriesTheCookieAndOnlyItsEchoIsAccepted) {
  auto table = net::UdpPayloads::builtin();
  auto m = udp_module(table, Family::V4);
  auto sent = probe(*m, "198.18.0.2", 53);
  auto p = parse(sent);
  ASSERT_TRUE(p.is_udp());
  EXPECT_EQ(p.udp.dport, 53);
  EXPECT_GE(p.udp.sport, UdpProbe::kPortBase);
  EXPECT_LT(p.udp.sport, UdpProbe::kPortBase + UdpProbe::kPortRange);
  ASSERT_GE(p.payload_len, 12);
  const uint8_t* dns = sent.data() + p.payload_offset;
  const uint16_t id = net::load_be16(dns);
  // A second scan (other keys) gives the same probe another id.
  UdpProbe other(ModuleKeys{9, 9}, table);
  PathInfo path;
  path.source = ip("198.18.0.1");
  path.framing = LinkFraming::RawIp;
  other.prepare(path);
  auto sent2 = probe(other, "198.18.0.2", 53);
  EXPECT_NE(net::load_be16(sent2.data() + parse(sent2).payload_offset), id);

  std::vector<uint8_t> answer(dns, dns + 12);
  answer[2] = 0x81;  // a response
  ProbeVerdict v;
  ASSERT_TRUE(classify(*m, reply_to(sent, answer), v));
  EXPECT_EQ(v.state, PortState::Open);
  EXPECT_EQ(v.reason, Reason::UdpResponse);
  EXPECT_EQ(v.probe.port, 53);
  EXPECT_EQ(v.probe.addr, ip("198.18.0.2"));
  EXPECT_EQ(v.attempt, 0);
  answer[1] ^= 1;  // another transaction id
  EXPECT_FALSE(classify(*m, reply_to(sent, answer), v));
  // The second attempt asks the other way (the NS query), from another source port.
  auto retry = probe(*m, "198.18.0.2", 53, 1);
  EXPECT_NE(parse(retry).udp.sport, p.udp.sport);
  std::vector<uint8_t> answer2(retry.begin() + parse(retry).payload_offset, retry.end());
  ASSERT_TRUE(classify(*m, reply_to(retry, answer2), v));
  EXPECT_EQ(v.attempt, 1);
}

TEST(UdpModule, IcmpErrorsAreMatchedThroughTheQuotedChecksum) {
  auto table = net::UdpPayloads::builtin();
  for (Family f : {Family::V4, Family::V6}) {
    auto m = udp_module(table, f);
    const bool v4 = f == Family::V4;
    const char* target = v4 ? "198.18.0.2" : "2001:db8::2";
    const uint8_t unreach = v4 ? net::icmp::kDestUnreach : net::icmp6::kDestUnreach;
    const uint8_t port_code = v4 ? net::icmp::kPortUnreach : net::icmp6::kPortUnreach;
    const uint8_t admin_code = v4 ? net::icmp::kCommProhibited : net::icmp6::kAdminProhibited;
    for (uint16_t port : {53, 123, 161, 9999}) {  // echo fields, none, empty payload
      auto sent = probe(*m, target, port);
      ProbeVerdict v;
      ASSERT_TRUE(classify(*m, icmp_error(sent, ip(target), unreach, port_code), v)) << port;
      EXPECT_EQ(v.state, PortState::Closed);
      EXPECT_EQ(v.reason, Reason::PortUnreach);
      EXPECT_EQ(v.probe.port, port);
      ASSERT_TRUE(classify(*m, icmp_error(sent, ip(target), unreach, admin_code), v));
      EXPECT_EQ(v.state, PortState::Filtered);
      EXPECT_EQ(v.reason, Reason::AdminProhibited);
      // A router's port unreachable does not say the target's port is closed.
      ASSERT_TRUE(classify(
          *m, icmp_error(sent, ip(v4 ? "198.18.0.9" : "2001:db8::9"), unreach, port_code), v));
      EXPECT_EQ(v.state, PortState::Filtered);
      // A quote whose checksum is not ours (another payload or cookie) is not ours.
      auto forged = icmp_error(sent, ip(target), unreach, port_code);
      forged[forged.size() - 1] ^= 0x40;
      EXPECT_FALSE(classify(*m, forged, v));
      // Truncated anywhere: never accepted with a wrong verdict, never a crash.
      auto good = icmp_error(sent, ip(target), unreach, port_code);
      for (size_t n = 0; n < good.size(); ++n) {
        std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
        ProbeVerdict w;
        if (classify(*m, cut, w)) {
          EXPECT_EQ(w.probe.port, port);
        }
      }
    }
  }
}

// --announce: an empty datagram carries the RFC 9511 URI, its NUL and the tag block; a payload
// whose servers ignore trailing bytes (DNS) is followed by the block; NTP's ends an RFC 7822
// extension field; one whose servers may drop a longer request (STUN, 3478) is sent untagged. The
// tag is the one for (source, target, UDP, port, now), and ICMP errors quoting a tagged datagram
// still match it.
TEST(UdpModule, AnnouncedProbesCarryTheTagAsTrailer) {
  auto table = net::UdpPayloads::builtin();
  const std::vector<uint8_t> secret(32, 9);
  auth::AnnounceKey key = auth::AnnounceKey::derive(secret, std::string(64, 'e'));
  auth::ProbeAnnouncer announcer(key, "https://lab.example/probing.txt");
  for (Family f : {Family::V4, Family::V6}) {
    const bool v4 = f == Family::V4;
    auto m = std::make_unique<UdpProbe>(ModuleKeys{0x1111, 0x2222}, table);
    m->set_announcer(&announcer);
    PathInfo path;
    path.family = f;
    path.source = v4 ? ip("198.18.0.1") : ip("2001:db8::1");
    path.framing = LinkFraming::RawIp;
    ASSERT_TRUE(m->prepare(path));
    auto plain = udp_module(table, f);
    const char* target = v4 ? "198.18.0.2" : "2001:db8::2";
    for (uint16_t port : {9999, 53, 123, 3478}) {
      auto sent = probe(*m, target, port);
      auto untagged = probe(*plain, target, port);
      auto p = parse(sent);
      ASSERT_TRUE(p.is_udp());
      const uint8_t* payload = sent.data() + p.payload_offset;
      net::AnnounceOption o;
      bool tagged = net::find_announce_trailer(payload, p.payload_len, o);
      if (port == 3478) {  // STUN: as it is
        EXPECT_FALSE(tagged);
        EXPECT_EQ(sent.size(), untagged.size());
        continue;
      }
      ASSERT_TRUE(tagged) << port;
      EXPECT_EQ(o.handle, key.handle);
      const uint32_t now = auth::ProbeAnnouncer::now_epoch();
      const uint32_t e = auth::nearest_epoch(o.epoch_lo, now);
      EXPECT_LE(now - e, 1u);
      EXPECT_EQ(o.tag, key.tag(path.source, ip(target), net::ipproto::kUdp, port, e)) << port;
      EXPECT_NE(o.tag, key.tag(path.source, ip(target), net::ipproto::kTcp, port, e)) << port;
      if (port == 9999) {
        const std::string uri = "https://lab.example/probing.txt";
        ASSERT_EQ(p.payload_len, uri.size() + 1 + net::kAnnounceLen);
        EXPECT_EQ(std::string(payload, payload + uri.size()), uri);
        EXPECT_EQ(payload[uri.size()], 0);
      } else if (port ==
                 123) {  // NTP: 48 bytes, then an extension field of 28 that ends in the tag
        ASSERT_EQ(p.payload_len, 48u + 28u);
        EXPECT_EQ(net::load_be16(payload + 48), 0x4748);
        EXPECT_EQ(net::load_be16(payload + 50), 28);
      } else {  // DNS: the query, unchanged but for its cookie id, then the block
        EXPECT_EQ(sent.size(), untagged.size() + net::kAnnounceLen);
        auto q = parse(untagged);
        EXPECT_TRUE(std::equal(payload + 2, payload + q.payload_len,
                               untagged.data() + q.payload_offset + 2));
      }
      EXPECT_TRUE(net::verify_l4_checksum(sent, p)) << port;
      // An ICMP port unreachable quoting the tagged datagram is matched; a changed tag is not.
      const uint8_t unreach = v4 ? net::icmp::kDestUnreach : net::icmp6::kDestUnreach;
      const uint8_t code = v4 ? net::icmp::kPortUnreach : net::icmp6::kPortUnreach;
      ProbeVerdict v;
      ASSERT_TRUE(classify(*m, icmp_error(sent, ip(target), unreach, code), v)) << port;
      EXPECT_EQ(v.state, PortState::Closed);
      EXPECT_FALSE(classify(*plain, icmp_error(sent, ip(target), unreach, code), v)) << port;
    }
  }
}

TEST(UdpModule, RepliesToOtherPortsOrAddressesAreNotOurs) {
  auto table = net::UdpPayloads::builtin();
  auto m = udp_module(table, Family::V4);
  auto sent = probe(*m, "198.18.0.2", 9999);
  auto r = reply_to(sent, {1, 2, 3});
  ProbeVerdict v;
  ASSERT_TRUE(classify(*m, r, v));
  auto wrong_port = r;
  net::store_be16(&wrong_port[20], 9998);  // the reply's source port: another port
  EXPECT_FALSE(classify(*m, wrong_port, v));
  auto to_other = r;
  to_other[19] = 77;  // not addressed to our source address
  EXPECT_FALSE(classify(*m, to_other, v));
}

TEST(UdpPayloads, BuiltinCoversTheWellKnownPorts) {
  auto t = net::UdpPayloads::builtin();
  for (uint16_t port : {53, 67, 69, 111, 123, 137, 161, 389, 443, 500, 520, 1194, 1434, 1900, 4500,
                        5060, 5353, 5683, 11211})
    EXPECT_GE(t.count(port), 1u) << port;
  EXPECT_EQ(t.count(161), 2u);  // v2c public, then v3 discovery
  EXPECT_NE(t.pick(161, 0), t.pick(161, 1));
  EXPECT_EQ(t.pick(161, 0), t.pick(161, 2));
  EXPECT_EQ(t.pick(9999, 0), nullptr);
  for (uint16_t port : {53, 123, 443, 500, 4500, 11211}) {
    const auto* p = t.pick(port, 0);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->echo_at % 2, 0) << port;
    EXPECT_LE(p->echo_at + p->echo_len, p->bytes.size()) << port;
  }
  EXPECT_EQ(t.pick(443, 0)->bytes.size(), 1200u);  // QUIC's minimum datagram
}

TEST(UdpPayloads, ReadsNmapFormatAndRefusesMalformedFiles) {
  auto t = net::UdpPayloads::builtin();
  std::istringstream good(
      "# a comment\n"
      "udp 7,9-10 \"\\x0D\\x0A\" # trailing comment\n"
      "udp 53 \"ours stay first\"\n"
      "udp 31337\n  \"a\\0b\"\n  \"c\\\"d\"\n  source 500\n");
  t.add_nmap_file(good, "test-payloads");
  EXPECT_EQ(t.count(9), 1u);
  EXPECT_EQ(t.count(10), 1u);
  EXPECT_EQ(t.pick(9, 0)->bytes, (std::vector<uint8_t>{0x0d, 0x0a}));
  EXPECT_EQ(t.count(53), 2u);  // ours only
  EXPECT_EQ(t.pick(31337, 0)->bytes, (std::vector<uint8_t>{'a', 0, 'b', 'c', '"', 'd'}));
  for (const char* bad : {"udp 53 \"unterminated\n", "tcp 53 \"x\"\n", "udp 99999 \"x\"\n",
                          "udp 5-3 \"x\"\n", "udp 53\n", "udp 53 \"\\q\"\n", "udp 53 \"\\x4\"\n",
                          "udp 53 \"x\" source\n", "\"x\"\n", "udp 53, \"x\"\n"}) {
    auto u = net::UdpPayloads::builtin();
    std::istringstream in(bad);
    EXPECT_THROW(u.add_nmap_file(in, "bad"), UsageError) << bad;
  }
  // The installed nmap-payloads, when there is one, parses.
  std::ifstream nmap("/usr/share/nmap/nmap-payloads");
  if (nmap) {
    auto u = net::UdpPayloads::builtin();
    EXPECT_NO_THROW(u.add_nmap_file(nmap, "nmap-payloads"));
    EXPECT_GT(u.ports(), t.ports());
  }
}

TEST(HostPacer, PacesEachHostAndGivesUpAfterTwoSilentCycles) {
  using namespace std::chrono;
  HostPacer pacer;
  auto t0 = steady_clock::now();
  std::vector<bool> done(10, false);
  pacer.add_host(1, {0, 1, 2}, true, t0);
  pacer.add_host(2, {5, 6}, false, t0);
  auto answered = [&](uint64_t k) { return done[k]; };
  // Both hosts are due at once; host 1 (rate-limited) then waits 1/4 s, host 2 1/100 s.
  auto a = pacer.next(t0, answered);
  auto b = pacer.next(t0, answered);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->host, b->host);
  EXPECT_FALSE(pacer.next(t0, answered));
  EXPECT_DOUBLE_EQ(pacer.rate_of(1, t0), 4.0);
  EXPECT_DOUBLE_EQ(pacer.rate_of(2, t0), 100.0);
  // Host 1 answers its ICMP errors quickly: its rate rises with them.
  for (int i = 0; i < 10; ++i) pacer.answered(1, true, t0);
  EXPECT_DOUBLE_EQ(pacer.rate_of(1, t0), 2 * 5.0 + 2);
  // Drain: every position answered on host 2 ends it; host 1 stays silent and ends after two
  // silent cycles (after the cycle its answers came in).
  done[5] = done[6] = true;
  std::vector<uint64_t> sent;
  auto t = t0;
  for (int i = 0; i < 1000 && pacer.due(); ++i) {
    t += milliseconds(10);
    while (auto s = pacer.next(t, answered)) sent.push_back(s->position);
  }
  EXPECT_FALSE(pacer.due());
  EXPECT_EQ(pacer.active(), 0u);
  // Host 1: cycle 1 (3 probes, with its answers), then two silent cycles (3 each); host 2: one.
  EXPECT_EQ(std::count(sent.begin(), sent.end(), 0) + std::count(sent.begin(), sent.end(), 1) +
                std::count(sent.begin(), sent.end(), 2),
            8);
  EXPECT_EQ(pacer.max_cycle(), 3u);
}

}  // namespace
}  // namespace gh
