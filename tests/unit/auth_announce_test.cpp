// Announced probes: key derivation, the tag's bindings (source, target, port, epoch, scope),
// the TCP option codec, the stamp's checksum, and a tagged SYN from the real probe module.
#include <gtest/gtest.h>

#include <array>
#include <set>
#include <vector>

#include "auth/announce.h"
#include "net/announce_option.h"
#include "net/packet.h"
#include "scan/probe_tcp_syn.h"

namespace gh::auth {
namespace {

const std::array<uint8_t, 32> kSecret = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                         12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                         23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
const std::string kBodyA(64, 'a');
const std::string kBodyB = std::string(63, 'a') + "b";

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

TEST(AnnounceKey, DerivationIsBoundToSecretAndScope) {
  AnnounceKey a = AnnounceKey::derive(kSecret, kBodyA);
  AnnounceKey a2 = AnnounceKey::derive(kSecret, kBodyA);
  EXPECT_EQ(a.k0, a2.k0);
  EXPECT_EQ(a.k1, a2.k1);
  EXPECT_EQ(a.handle, a2.handle);
  AnnounceKey b = AnnounceKey::derive(kSecret, kBodyB);  // same secret, another scope
  EXPECT_NE(a.k0, b.k0);
  EXPECT_NE(a.handle, b.handle);
  auto other_secret = kSecret;
  other_secret[0] ^= 1;
  AnnounceKey c = AnnounceKey::derive(other_secret, kBodyA);
  EXPECT_NE(a.k0, c.k0);
}

TEST(AnnounceKey, TagBindsEveryInput) {
  AnnounceKey k = AnnounceKey::derive(kSecret, kBodyA);
  const IpAddress src = ip("198.18.0.1"), dst = ip("198.18.0.2");
  uint64_t t = k.tag(src, dst, 6, 80, 1000);
  EXPECT_EQ(t, k.tag(src, dst, 6, 80, 1000));
  std::set<uint64_t> tags = {t,
                             k.tag(ip("198.18.0.3"), dst, 6, 80, 1000),         // another source
                             k.tag(src, ip("198.18.0.3"), 6, 80, 1000),         // another target
                             k.tag(src, dst, 6, 81, 1000),                      // another port
                             k.tag(src, dst, 17, 80, 1000),                     // another protocol
                             k.tag(src, dst, 6, 80, 1001),                      // another minute
                             k.tag(ip("::ffff:198.18.0.1"), dst, 6, 80, 1000),  // other family
                             AnnounceKey::derive(kSecret, kBodyB).tag(src, dst, 6, 80, 1000)};
  EXPECT_EQ(tags.size(), 8u);
}

// NAT: the probe MAC (bits 63..16) does not depend on the source address, the source check
// (bits 15..0) does; check() tells a tag seen from its own source (Valid) from one whose source
// was rewritten (Translated), and refuses any other target, port, protocol, minute or key.
TEST(AnnounceKey, SourceRewrittenIsTranslatedNotInvalid) {
  AnnounceKey k = AnnounceKey::derive(kSecret, kBodyA);
  using C = AnnounceKey::Check;
  const IpAddress inside = ip("10.0.0.5"), outside = ip("198.19.3.3"), dst = ip("198.18.0.2");
  const uint64_t t = k.tag(inside, dst, 6, 80, 1000);
  EXPECT_EQ(t >> 16, k.tag(outside, dst, 6, 80, 1000) >> 16);
  EXPECT_NE(t & 0xffff, k.tag(outside, dst, 6, 80, 1000) & 0xffff);
  EXPECT_EQ(k.check(t, inside, dst, 6, 80, 1000), C::Valid);
  EXPECT_EQ(k.check(t, outside, dst, 6, 80, 1000), C::Translated);
  EXPECT_EQ(k.check(t, ip("2001:db8::5"), dst, 6, 80, 1000), C::Translated);
  EXPECT_EQ(k.check(t, inside, ip("198.18.0.3"), 6, 80, 1000), C::Invalid);  // another target
  EXPECT_EQ(k.check(t, inside, dst, 6, 81, 1000), C::Invalid);               // another port
  EXPECT_EQ(k.check(t, inside, dst, 17, 80, 1000), C::Invalid);              // another protocol
  EXPECT_EQ(k.check(t, inside, dst, 6, 80, 1001), C::Invalid);               // another minute
  EXPECT_EQ(AnnounceKey::derive(kSecret, kBodyB).check(t, inside, dst, 6, 80, 1000),
            C::Invalid);  // another engagement
  EXPECT_EQ(k.check(t ^ (uint64_t{1} << 40), inside, dst, 6, 80, 1000), C::Invalid);
}

TEST(AnnounceKey, NearestEpoch) {
  EXPECT_EQ(nearest_epoch(0x10, 0x1210), 0x1210u);
  EXPECT_EQ(nearest_epoch(0x0f, 0x1210), 0x120fu);
  EXPECT_EQ(nearest_epoch(0xff, 0x1200), 0x11ffu);  // across the byte boundary
  EXPECT_EQ(nearest_epoch(0x01, 0x12ff), 0x1301u);
  EXPECT_EQ(epoch_of(120), 2u);
}

TEST(AnnounceOption, CodecAndBadInput) {
  auto o = net::announce_option_template(0xdeadbeef);
  EXPECT_EQ(o[0], 253);
  EXPECT_EQ(o[1], 18);
  EXPECT_EQ(o[2], 0x47);
  EXPECT_EQ(o[3], 0x48);
  std::array<uint8_t, 40> opts{};
  opts[0] = 2;  // MSS
  opts[1] = 4;
  std::copy(o.begin(), o.end(), opts.begin() + 4);
  net::AnnounceOption got;
  ASSERT_TRUE(net::find_announce_option(opts.data(), 24, got));
  EXPECT_EQ(got.handle, 0xdeadbeefu);
  EXPECT_EQ(got.version, 1);
  EXPECT_FALSE(net::find_announce_option(opts.data(), 21, got));  // cut short
  auto bad = opts;
  bad[6] = 0x49;  // another ExID
  EXPECT_FALSE(net::find_announce_option(bad.data(), 24, got));
  bad = opts;
  bad[5] = 17;  // another length
  EXPECT_FALSE(net::find_announce_option(bad.data(), 24, got));
  bad = opts;
  bad[1] = 0;  // a zero length stops the walk
  EXPECT_FALSE(net::find_announce_option(bad.data(), 24, got));
}

// The real SYN module with an announcer: the frame parses, its checksum verifies, and the option
// carries the tag for (source, target, port, now).
TEST(AnnounceProbe, TaggedSynIsValid) {
  AnnounceKey k = AnnounceKey::derive(kSecret, kBodyA);
  ProbeAnnouncer announcer(k);
  for (const char* fam : {"v4", "v6"}) {
    bool v4 = std::string(fam) == "v4";
    TcpSynProbe probe(ModuleKeys{1, 2});
    probe.set_announcer(&announcer);
    PathInfo r;
    r.family = v4 ? Family::V4 : Family::V6;
    r.source = v4 ? ip("198.18.0.1") : ip("2001:db8::1");
    r.framing = LinkFraming::Ethernet;
    r.dst_mac = MacAddress{1, 2, 3, 4, 5, 6};
    ASSERT_TRUE(probe.prepare(r));
    IpAddress dst = v4 ? ip("198.18.0.2") : ip("2001:db8::2");
    std::vector<uint8_t> frame(probe.max_frame());
    size_t len = probe.build(frame, Probe{dst, Protocol::Tcp, 443}, BuildArgs{7, 0});
    ASSERT_GT(len, 0u);
    net::ParsedPacket p;
    ASSERT_TRUE(net::parse_packet({frame.data(), len}, net::LinkType::Ethernet, p));
    EXPECT_TRUE(net::verify_l4_checksum({frame.data(), len}, p)) << fam;
    EXPECT_TRUE(p.tcp.options.has_mss);
    EXPECT_EQ(p.tcp.options.mss, 1460);
    net::AnnounceOption o;
    ASSERT_TRUE(net::find_announce_option(p.tcp.options.raw.data(), p.tcp.options.len, o));
    EXPECT_EQ(o.handle, k.handle);
    uint32_t now = epoch_of(time(nullptr));
    uint32_t e = nearest_epoch(o.epoch_lo, now);
    EXPECT_LE(now - e, 1u);
    EXPECT_EQ(o.tag, k.tag(r.source, dst, 6, 443, e)) << fam;
    EXPECT_NE(o.tag, k.tag(r.source, dst, 6, 444, e));
    // Without an announcer: no option, 20 bytes shorter.
    TcpSynProbe plain(ModuleKeys{1, 2});
    ASSERT_TRUE(plain.prepare(r));
    size_t plain_len = plain.build(frame, Probe{dst, Protocol::Tcp, 443}, BuildArgs{7, 0});
    EXPECT_EQ(len, plain_len + 20);  // 18 option bytes, padded to 20
  }
}

}  // namespace
}  // namespace gh::auth
