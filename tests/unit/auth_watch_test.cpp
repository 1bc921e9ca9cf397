// The owner's side: loading signed scopes for watch, and the monitor's verdicts on tagged SYNs
// (authorized, forged, replayed, violation) built as PacketEvents.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "auth/owner_key.h"
#include "auth/signed_scope.h"
#include "auth/watch_auth.h"
#include "core/error.h"

namespace gh::auth {
namespace {

std::string scope_text(const std::string& id, const std::string& extra = "") {
  return "[engagement]\nid = \"" + id +
         "\"\nauthorized_by = \"Lab Owner\"\ncontact = \"soc@lab.example\"\n"
         "not_before = 2020-01-01\nnot_after = 2099-12-31\n"
         "[targets]\ninclude = [\"198.18.0.0/24\"]\nexclude = [\"198.18.0.9\"]\n"
         "ports = \"1-1024\"\n[limits]\nmax_rate = 100\n" +
         extra;
}
const std::string kSecretA =
    "[announce]\nsecret = \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"\n";
const std::string kSecretB =
    "[announce]\nsecret = \"ff112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"\n";

class WatchAuth : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/gh-watch-auth-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    owner_pub_ = write("owner.pub", to_pem(owner_.public_key()));
    stranger_pub_ = write("stranger.pub", to_pem(stranger_.public_key()));
    scope_a_ = write("a.toml", sign_scope_text(scope_text("ENG-A") + kSecretA, owner_, "a"));
    scope_b_ = write("b.toml", sign_scope_text(scope_text("ENG-B") + kSecretB, owner_, "b"));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::string p = dir_ + "/" + name;
    std::ofstream(p) << text;
    return p;
  }

  detect::PacketEvent syn(const char* src, const char* dst, uint16_t port, int64_t ts_s) {
    detect::PacketEvent ev;
    ev.ts_us = ts_s * 1'000'000;
    ev.src = *IpAddress::parse(src);
    ev.dst = *IpAddress::parse(dst);
    ev.proto = detect::kProtoTcp;
    ev.tcp_flags = detect::tcpf::kSyn;
    ev.sport = 40000;
    ev.dport = port;
    return ev;
  }
  // A SYN carrying the tag `key` makes for it (at ts_s).
  detect::PacketEvent tagged(const AnnounceKey& key, const char* src, const char* dst,
                             uint16_t port, int64_t ts_s) {
    detect::PacketEvent ev = syn(src, dst, port, ts_s);
    uint32_t epoch = epoch_of(ts_s);
    ev.has_announce = true;
    ev.announce.version = 1;
    ev.announce.epoch_lo = static_cast<uint8_t>(epoch);
    ev.announce.handle = key.handle;
    ev.announce.tag = key.tag(ev.src, ev.dst, 6, port, epoch);
    return ev;
  }

  PrivateKey owner_ = PrivateKey::generate(), stranger_ = PrivateKey::generate();
  std::string dir_, owner_pub_, stranger_pub_, scope_a_, scope_b_;
};

TEST_F(WatchAuth, LoadsOnlyScopesTheOwnerSigned) {
  auto all = load_watched_scopes({dir_}, {owner_pub_});  // the directory: a.toml and b.toml
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].scope.engagement.id, "ENG-A");
  EXPECT_EQ(all[0].signer, owner_.public_key().fingerprint());
  EXPECT_THROW(load_watched_scopes({scope_a_}, {stranger_pub_}), UsageError);
  EXPECT_THROW(load_watched_scopes({scope_a_}, {}), UsageError);
  EXPECT_THROW(load_watched_scopes({}, {owner_pub_}), UsageError);
  std::string unsigned_scope = write("u.toml", scope_text("ENG-U") + kSecretA);
  EXPECT_THROW(load_watched_scopes({unsigned_scope}, {owner_pub_}), UsageError);
  std::string no_secret = write("n.toml", sign_scope_text(scope_text("ENG-N"), owner_, "n"));
  EXPECT_THROW(load_watched_scopes({no_secret}, {owner_pub_}), UsageError);
}

// UDP probes (scan -sU --announce): the tag binds the protocol, and a UDP probe is judged against
// the scope's UDP ports ("1-1024" is TCP only; "U:53,161" adds UDP ports).
TEST_F(WatchAuth, UdpProbes) {
  std::string text = scope_text("ENG-U") + kSecretA;
  text.replace(text.find("\"1-1024\""), 8, "\"1-1024,U:53,161\"");
  std::string udp_scope = write("u.toml", sign_scope_text(text, owner_, "u"));
  auto e = load_watched_scopes({udp_scope, scope_a_}, {owner_pub_});
  const AnnounceKey ku = e[0].key, ka = e[1].key;
  detect::PrefixSet local;
  local.add(*detect::Prefix::parse("198.18.0.0/16"));
  std::vector<AuthRecord> recs;
  AuthMonitor mon(std::move(e), local, [&](const AuthRecord& r) { recs.push_back(r); });
  const int64_t t0 = 1'800'000'000;
  auto udp = [&](const AnnounceKey& k, const char* src, uint16_t port, uint8_t tag_proto) {
    detect::PacketEvent ev = tagged(k, src, "198.18.0.2", port, t0);
    ev.proto = detect::kProtoUdp;
    ev.tcp_flags = 0;
    ev.announce.tag = k.tag(ev.src, ev.dst, tag_proto, port, epoch_of(t0));
    return ev;
  };
  auto verdict = [&](const char* src) {
    const auto* v = mon.source(*IpAddress::parse(src));
    return v == nullptr ? AuthVerdict::None : v->verdict;
  };
  mon.on_packet(udp(ku, "198.19.1.1", 53, detect::kProtoUdp));
  mon.on_packet(udp(ku, "198.19.1.1", 161, detect::kProtoUdp));
  EXPECT_EQ(verdict("198.19.1.1"), AuthVerdict::Authorized);
  EXPECT_NE(to_json(recs.back()).find("\"probe\":\"198.18.0.2:53/udp\""), std::string::npos)
      << to_json(recs.back());
  // A UDP port outside the signed UDP ports, though inside the TCP ones: a violation.
  mon.on_packet(udp(ku, "198.19.1.1", 123, detect::kProtoUdp));
  EXPECT_EQ(verdict("198.19.1.1"), AuthVerdict::Violation);
  EXPECT_NE(recs.back().evidence.find("UDP port 123"), std::string::npos) << recs.back().evidence;
  // Untagged UDP datagrams from an authorized source are counted, not judged (a reply or another
  // flow from a shared address uses any port); a tagged one that strays is a violation.
  mon.on_packet(udp(ku, "198.19.1.2", 53, detect::kProtoUdp));
  detect::PacketEvent plain = udp(ku, "198.19.1.2", 5000, detect::kProtoUdp);
  plain.has_announce = false;
  mon.on_packet(plain);
  EXPECT_EQ(verdict("198.19.1.2"), AuthVerdict::Authorized);
  EXPECT_EQ(mon.source(plain.src)->untagged, 1u);
  mon.on_packet(udp(ku, "198.19.1.2", 5000, detect::kProtoUdp));
  EXPECT_EQ(verdict("198.19.1.2"), AuthVerdict::Violation);
  // A scope with TCP ports only: every UDP probe strays.
  mon.on_packet(udp(ka, "198.19.1.3", 53, detect::kProtoUdp));
  EXPECT_EQ(verdict("198.19.1.3"), AuthVerdict::Violation);
  // The TCP tag of the same port carried over UDP does not verify (the tag binds the protocol).
  mon.on_packet(udp(ku, "198.19.1.4", 53, detect::kProtoTcp));
  EXPECT_EQ(verdict("198.19.1.4"), AuthVerdict::Forged);
  // Another key: forged; a valid UDP tag replayed to another port: replayed.
  AnnounceKey other = AnnounceKey::derive(std::vector<uint8_t>(32, 7), std::string(64, 'c'));
  mon.on_packet(udp(other, "198.19.1.5", 53, detect::kProtoUdp));
  EXPECT_EQ(verdict("198.19.1.5"), AuthVerdict::Forged);
  detect::PacketEvent good = udp(ku, "198.19.1.6", 53, detect::kProtoUdp);
  mon.on_packet(good);
  detect::PacketEvent replay = udp(ku, "198.19.1.7", 161, detect::kProtoUdp);
  replay.announce = good.announce;
  mon.on_packet(replay);
  EXPECT_EQ(verdict("198.19.1.7"), AuthVerdict::Replayed);
  EXPECT_NE(recs.back().evidence.find("198.18.0.2:53/udp"), std::string::npos)
      << recs.back().evidence;
}

class Monitor : public WatchAuth {
 protected:
  void SetUp() override {
    WatchAuth::SetUp();
    auto e = load_watched_scopes({scope_a_, scope_b_}, {owner_pub_});
    key_a_ = e[0].key;
    key_b_ = e[1].key;
    detect::PrefixSet local;
    local.add(*detect::Prefix::parse("198.18.0.0/16"));
    mon_ = std::make_unique<AuthMonitor>(std::move(e), local,
                                         [this](const AuthRecord& r) { records_.push_back(r); });
  }
  AuthVerdict verdict(const char* src) {
    const auto* v = mon_->source(*IpAddress::parse(src));
    return v == nullptr ? AuthVerdict::None : v->verdict;
  }
  AnnounceKey key_a_, key_b_;
  std::unique_ptr<AuthMonitor> mon_;
  std::vector<AuthRecord> records_;
  const int64_t t0_ = 1'800'000'000;  // 2027-01-15, inside the window
};

TEST_F(Monitor, AuthorizedInScope) {
  for (uint16_t p : {22, 80, 443})
    mon_->on_packet(tagged(key_a_, "198.19.5.5", "198.18.0.2", p, t0_));
  EXPECT_EQ(verdict("198.19.5.5"), AuthVerdict::Authorized);
  ASSERT_EQ(records_.size(), 1u);  // one record per verdict
  EXPECT_EQ(records_[0].engagement->scope.engagement.id, "ENG-A");
  std::string json = to_json(records_[0]);
  EXPECT_NE(json.find("\"verdict\":\"authorized\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"contact\":\"soc@lab.example\""), std::string::npos) << json;
  detect::Alert a;
  a.src = *IpAddress::parse("198.19.5.5");
  mon_->annotate(a);
  EXPECT_EQ(a.authorization, "authorized");
  EXPECT_EQ(a.engagement, "ENG-A");
  EXPECT_EQ(a.authorized_by, "Lab Owner");
  // An untagged scan from elsewhere is not the monitor's business.
  mon_->on_packet(syn("198.19.6.6", "198.18.0.2", 22, t0_));
  EXPECT_EQ(mon_->source(*IpAddress::parse("198.19.6.6")), nullptr);
}

TEST_F(Monitor, StrayingIsAViolation) {
  mon_->on_packet(tagged(key_a_, "198.19.5.5", "198.18.0.2", 22, t0_));
  mon_->on_packet(tagged(key_a_, "198.19.5.5", "198.18.0.2", 2000, t0_));  // port outside
  EXPECT_EQ(verdict("198.19.5.5"), AuthVerdict::Violation);
  EXPECT_NE(records_.back().evidence.find("outside the signed ports"), std::string::npos);
  mon_->on_packet(tagged(key_a_, "198.19.5.6", "198.18.0.9", 22, t0_));  // excluded target
  EXPECT_EQ(verdict("198.19.5.6"), AuthVerdict::Violation);
  mon_->on_packet(tagged(key_a_, "198.19.5.7", "198.18.1.1", 22, t0_));  // outside the include
  EXPECT_EQ(verdict("198.19.5.7"), AuthVerdict::Violation);
  // Outside the window: 2100 (a valid tag for that minute).
  const int64_t late = 4'110'000'000;
  mon_->on_packet(tagged(key_a_, "198.19.5.8", "198.18.0.2", 22, late));
  EXPECT_EQ(verdict("198.19.5.8"), AuthVerdict::Violation);
  EXPECT_NE(records_.back().evidence.find("window"), std::string::npos);
  // Above the signed rate (100/s; 2x + 10 tolerated).
  for (int i = 0; i < 211; ++i)
    mon_->on_packet(
        tagged(key_a_, "198.19.5.9", "198.18.0.2", static_cast<uint16_t>(1 + i % 1000), t0_));
  EXPECT_EQ(verdict("198.19.5.9"), AuthVerdict::Violation);
  EXPECT_NE(records_.back().evidence.find("max_rate"), std::string::npos);
  // Untagged probes from an authorized source that stray are violations too.
  mon_->on_packet(tagged(key_a_, "198.19.5.10", "198.18.0.2", 22, t0_));
  mon_->on_packet(syn("198.19.5.10", "198.18.0.2", 3000, t0_));
  EXPECT_EQ(verdict("198.19.5.10"), AuthVerdict::Violation);
  // A verdict never improves.
  mon_->on_packet(tagged(key_a_, "198.19.5.5", "198.18.0.2", 22, t0_));
  EXPECT_EQ(verdict("198.19.5.5"), AuthVerdict::Violation);
}

// Announced host discovery: a tagged ACK ping and a tagged ICMP echo request are probes too.
TEST_F(Monitor, TaggedDiscoveryProbes) {
  detect::PacketEvent echo = tagged(key_a_, "198.19.4.4", "198.18.0.2", 0, t0_);
  echo.proto = detect::kProtoIcmp;
  echo.tcp_flags = 0;
  echo.icmp_type = 8;
  echo.announce.tag = key_a_.tag(echo.src, echo.dst, detect::kProtoIcmp, 0, epoch_of(t0_));
  mon_->on_packet(echo);
  EXPECT_EQ(verdict("198.19.4.4"), AuthVerdict::Authorized);
  EXPECT_NE(to_json(records_.back()).find("(ICMP echo)"), std::string::npos);
  detect::PacketEvent ack = tagged(key_a_, "198.19.4.5", "198.18.0.2", 80, t0_);
  ack.tcp_flags = detect::tcpf::kAck;
  mon_->on_packet(ack);
  EXPECT_EQ(verdict("198.19.4.5"), AuthVerdict::Authorized);
  // An echo request carrying the tag of a TCP probe does not verify.
  detect::PacketEvent bad = echo;
  bad.src = *IpAddress::parse("198.19.4.6");
  bad.announce.tag = key_a_.tag(bad.src, bad.dst, detect::kProtoTcp, 0, epoch_of(t0_));
  mon_->on_packet(bad);
  EXPECT_EQ(verdict("198.19.4.6"), AuthVerdict::Forged);
  // Untagged ICMP and ACKs are not the monitor's business.
  detect::PacketEvent plain = ack;
  plain.src = *IpAddress::parse("198.19.4.7");
  plain.has_announce = false;
  mon_->on_packet(plain);
  EXPECT_EQ(mon_->source(plain.src), nullptr);
}

// A scanner behind NAT: its tags were made for its inside address. Authorized, said to be
// translated (a lower confidence); the same tag then seen from a second source is a copy.
TEST_F(Monitor, NatTranslatedSourceIsAuthorized) {
  detect::PacketEvent ev = tagged(key_a_, "198.19.3.3", "198.18.0.2", 22, t0_);
  ev.announce.tag = key_a_.tag(*IpAddress::parse("10.0.0.5"), ev.dst, 6, 22, epoch_of(t0_));
  mon_->on_packet(ev);
  mon_->on_packet(ev);  // a retransmission
  EXPECT_EQ(verdict("198.19.3.3"), AuthVerdict::Authorized);
  EXPECT_NE(records_.back().evidence.find("translated on the path (NAT)"), std::string::npos)
      << records_.back().evidence;
  const auto* v = mon_->source(ev.src);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->translated, 2u);
  EXPECT_EQ(v->invalid, 0u);
  detect::PacketEvent copy = ev;
  copy.src = *IpAddress::parse("198.19.3.4");
  mon_->on_packet(copy);
  EXPECT_EQ(verdict("198.19.3.4"), AuthVerdict::Replayed);
  EXPECT_NE(records_.back().evidence.find("198.19.3.3"), std::string::npos);
  // Its own source's tag: no translation said.
  mon_->on_packet(tagged(key_a_, "198.19.3.5", "198.18.0.2", 22, t0_));
  EXPECT_EQ(records_.back().evidence.find("translated"), std::string::npos);
}

TEST_F(Monitor, ForgedTags) {
  // Another key: an unknown handle.
  AnnounceKey other = AnnounceKey::derive(std::vector<uint8_t>(32, 7), std::string(64, 'c'));
  mon_->on_packet(tagged(other, "198.19.7.7", "198.18.0.2", 22, t0_));
  EXPECT_EQ(verdict("198.19.7.7"), AuthVerdict::Forged);
  EXPECT_EQ(records_.back().engagement, nullptr);
  // A known handle with a wrong tag (a bit of its probe MAC; the low 16 bits are the source
  // check, which a NAT invalidates: NatTranslatedSourceIsAuthorized).
  detect::PacketEvent ev = tagged(key_a_, "198.19.7.8", "198.18.0.2", 22, t0_);
  ev.announce.tag ^= uint64_t{1} << 32;
  mon_->on_packet(ev);
  EXPECT_EQ(verdict("198.19.7.8"), AuthVerdict::Forged);
  EXPECT_NE(records_.back().evidence.find("does not verify"), std::string::npos);
}

TEST_F(Monitor, ReplayedTags) {
  detect::PacketEvent good = tagged(key_a_, "198.19.5.5", "198.18.0.2", 22, t0_);
  mon_->on_packet(good);
  // The same option on a probe to another port, another target, from another source.
  for (auto [src, dst, port] :
       {std::tuple{"198.19.5.5", "198.18.0.2", 23}, std::tuple{"198.19.5.5", "198.18.0.3", 22},
        std::tuple{"198.19.8.8", "198.18.0.2", 22}}) {
    detect::PacketEvent r = syn(src, dst, static_cast<uint16_t>(port), t0_);
    r.has_announce = true;
    r.announce = good.announce;
    size_t before = records_.size();
    mon_->on_packet(r);
    const auto* v = mon_->source(r.src);
    ASSERT_NE(v, nullptr);
    EXPECT_GE(v->invalid, 1u);
    if (records_.size() > before) {
      EXPECT_EQ(records_.back().verdict, AuthVerdict::Replayed);
    }
  }
  EXPECT_EQ(verdict("198.19.8.8"), AuthVerdict::Replayed);
  // Engagement A's tag relabelled with B's handle: does not verify under B.
  detect::PacketEvent x = tagged(key_a_, "198.19.9.9", "198.18.0.2", 22, t0_);
  x.announce.handle = key_b_.handle;
  mon_->on_packet(x);
  EXPECT_NE(verdict("198.19.9.9"), AuthVerdict::Authorized);
  // A valid tag, seen ten minutes after its minute: replayed (out of its time window).
  detect::PacketEvent old = tagged(key_a_, "198.19.5.11", "198.18.0.2", 22, t0_);
  old.ts_us += 600'000'000;
  mon_->on_packet(old);
  EXPECT_EQ(verdict("198.19.5.11"), AuthVerdict::Replayed);
  // Within two minutes of skew: fine.
  detect::PacketEvent skewed = tagged(key_a_, "198.19.5.12", "198.18.0.2", 22, t0_);
  skewed.ts_us += 90'000'000;
  mon_->on_packet(skewed);
  EXPECT_EQ(verdict("198.19.5.12"), AuthVerdict::Authorized);
}

}  // namespace
}  // namespace gh::auth
