// The kernel's fast path (src/detect/kernel_fastpath.h, bpf/fastpath.bpf.c), run on crafted frames
// with BPF_PROG_TEST_RUN: the walk, the challenge it writes over our refusal (byte for byte the
// frame Challenger builds, its cookie checked by Challenger), the one guess per challenge, late
// and wrong-path answers, exempt sources, and the drop of a source both proven and detected.
// Loading BPF programs needs root (CAP_BPF, CAP_NET_ADMIN): skipped otherwise; as root, a load
// failure fails.
#include <unistd.h>

#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "detect/challenge.h"
#include "detect/decode.h"
#include "detect/kernel_fastpath.h"

namespace gh::detect {
namespace {

constexpr uint64_t kK0 = 0x0123456789abcdefull, kK1 = 0xfedcba9876543210ull;
constexpr int kPass = 0, kDrop = 2;  // TC_ACT_OK, TC_ACT_SHOT

const net::MacAddress kOurMac{{0x02, 0, 0, 0, 0, 0x02}};
const net::MacAddress kPeerMac{{0x02, 0, 0, 0, 0, 0x10}};
const net::MacAddress kOtherMac{{0x02, 0, 0, 0, 0, 0x66}};

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

struct Frame {
  std::vector<uint8_t> b;
  void u8(uint8_t v) { b.push_back(v); }
  void u16(uint16_t v) {
    u8(static_cast<uint8_t>(v >> 8));
    u8(static_cast<uint8_t>(v));
  }
  void u32(uint32_t v) {
    u16(static_cast<uint16_t>(v >> 16));
    u16(static_cast<uint16_t>(v));
  }
  void addr(const IpAddress& a) {
    auto x = a.bytes();
    for (int i = 0; i < (a.is_v4() ? 4 : 16); ++i) u8(x[static_cast<size_t>(i)]);
  }
  void mac(const net::MacAddress& m) {
    for (uint8_t v : m) u8(v);
  }
};

// Ethernet + IP header from `src` to `dst` (payload length `plen`, protocol `proto`).
Frame ip_frame(const net::MacAddress& smac, const net::MacAddress& dmac, const IpAddress& src,
               const IpAddress& dst, uint8_t proto, uint16_t plen) {
  Frame f;
  f.mac(dmac);
  f.mac(smac);
  if (src.is_v4()) {
    f.u16(0x0800);
    f.u8(0x45);
    f.u8(0);
    f.u16(static_cast<uint16_t>(20 + plen));
    f.u32(0x40000000);  // id 0, DF
    f.u8(64);
    f.u8(proto);
    f.u16(0);  // not checked by the program
  } else {
    f.u16(0x86dd);
    f.u32(0x60000000);
    f.u16(plen);
    f.u8(proto);
    f.u8(64);
  }
  f.addr(src);
  f.addr(dst);
  return f;
}

Frame tcp_frame(const net::MacAddress& smac, const net::MacAddress& dmac, const IpAddress& src,
                uint16_t sport, const IpAddress& dst, uint16_t dport, uint8_t flags,
                uint32_t seq = 0, uint32_t ack = 0) {
  Frame f = ip_frame(smac, dmac, src, dst, kProtoTcp, 20);
  f.u16(sport);
  f.u16(dport);
  f.u32(seq);
  f.u32(ack);
  f.u8(5 << 4);
  f.u8(flags);
  f.u16(64240);
  f.u32(0);
  return f;
}

// Our refusals and successes, leaving (egress): from us (local) to the remote source.
Frame refusal(const IpAddress& remote, uint16_t rport, const IpAddress& local, uint16_t lport) {
  return tcp_frame(kOurMac, kPeerMac, local, lport, remote, rport, tcpf::kRst | tcpf::kAck, 0,
                   1001);
}
Frame success(const IpAddress& remote, uint16_t rport, const IpAddress& local, uint16_t lport) {
  return tcp_frame(kOurMac, kPeerMac, local, lport, remote, rport, tcpf::kSyn | tcpf::kAck, 77,
                   1001);
}
Frame port_unreachable(const IpAddress& remote, uint16_t rport, const IpAddress& local,
                       uint16_t lport) {
  const bool v4 = remote.is_v4();
  const uint16_t quoted = static_cast<uint16_t>((v4 ? 20 : 40) + 8);
  Frame f = ip_frame(kOurMac, kPeerMac, local, remote, v4 ? kProtoIcmp : kProtoIcmp6,
                     static_cast<uint16_t>(8 + quoted));
  f.u8(v4 ? 3 : 1);
  f.u8(v4 ? 3 : 4);
  f.u16(0);
  f.u32(0);
  Frame q = ip_frame(kPeerMac, kOurMac, remote, local, kProtoUdp, 8);
  f.b.insert(f.b.end(), q.b.begin() + 14, q.b.end());
  f.u16(rport);
  f.u16(lport);
  f.u16(8);
  f.u16(0);
  return f;
}
// The source's answer, arriving (ingress).
Frame answer(const IpAddress& remote, uint16_t rport, const IpAddress& local, uint16_t lport,
             uint32_t seq, const net::MacAddress& from = kPeerMac) {
  return tcp_frame(from, kOurMac, remote, rport, local, lport, tcpf::kRst, seq, 0);
}
Frame probe(const IpAddress& remote, uint16_t rport, const IpAddress& local, uint16_t lport) {
  return tcp_frame(kPeerMac, kOurMac, remote, rport, local, lport, tcpf::kSyn, 1000, 0);
}

class KernelFastpathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (CAP_BPF)";
    cfg_.k0 = kK0;
    cfg_.k1 = kK1;
    cfg_.rate = 1000;
  }
  void load() {
    std::string err;
    prog_ = FastpathProgram::load(cfg_, err);
    ASSERT_NE(prog_, nullptr) << err;
  }
  // Runs `f` through a program; the frame as it left in `out_`.
  int run(bool egress, const Frame& f) {
    out_.assign(256, 0);
    size_t n = out_.size();
    int rc = prog_->test_run(egress, f.b.data(), f.b.size(), out_.data(), n);
    out_.resize(n);
    return rc;
  }
  PacketEvent left() {
    PacketEvent ev;
    EXPECT_EQ(make_event(out_.data(), out_.size(), link::kEthernet, 1'000'000, ev), Decode::Ok);
    return ev;
  }
  // Four failures from the remote source: challenged at the second, detected at the fourth.
  // Returns the challenge as it left.
  PacketEvent scan(const IpAddress& remote, const IpAddress& local) {
    PacketEvent chal;
    for (uint16_t port = 1; port <= 4; ++port) {
      EXPECT_EQ(run(true, refusal(remote, 40000, local, port)), kPass);
      if (port == 2) chal = left();
    }
    return chal;
  }

  FastpathConfig cfg_;
  std::unique_ptr<FastpathProgram> prog_;
  std::vector<uint8_t> out_;
};

TEST_F(KernelFastpathTest, TheChallengeIsChallengersFrameAndCookie) {
  load();
  const IpAddress remote = ip("198.18.0.10"), local = ip("198.18.0.2");
  Frame first = refusal(remote, 40000, local, 23);
  ASSERT_EQ(run(true, first), kPass);
  EXPECT_EQ(out_, first.b);  // the first failure leaves as it was
  ASSERT_EQ(run(true, refusal(remote, 40001, local, 25)), kPass);
  ASSERT_EQ(out_.size(), 14u + 20 + 24);
  PacketEvent ev = left();
  EXPECT_EQ(ev.tcp_flags, tcpf::kSyn | tcpf::kAck);
  EXPECT_EQ(ev.src, local);
  EXPECT_EQ(ev.dst, remote);
  EXPECT_EQ(ev.sport, 25);
  EXPECT_EQ(ev.dport, 40001);
  EXPECT_EQ(ev.seq & 1, 0u);  // a TCP refusal replaced

  ChallengeConfig cc;
  cc.kernel_challenges = true;
  Challenger ch(cc, kK0, kK1, nullptr);
  ChallengePacket p;
  p.to = {remote, local, 40001, 25, true, kPeerMac, kOurMac};
  p.seq = ev.seq;
  EXPECT_EQ(ev.ack, static_cast<uint32_t>(ch.kernel_hash(p.to, ev.seq)));
  p.ack = ev.ack;
  uint8_t frame[kChallengeFrameMax];
  size_t n = build_challenge_frame(p, frame);
  ASSERT_EQ(n, out_.size());
  EXPECT_EQ(std::memcmp(frame, out_.data(), n), 0);  // same bytes, checksums included

  IpAddress proven;
  EXPECT_FALSE(ch.kernel_challenged(remote));
  EXPECT_EQ(ch.on_packet(ev, proven), Answer::Kernel);
  EXPECT_EQ(ch.stats().kernel, 1u);
  EXPECT_TRUE(ch.kernel_challenged(remote));
  EXPECT_TRUE(ch.kernel_outstanding(remote, 1'000'050));
  EXPECT_FALSE(ch.kernel_outstanding(remote, 1'000'000 + cc.timeout_us + 1));
  // The same SYN-ACK with a cookie that does not check is not ours.
  PacketEvent forged = ev;
  forged.dst = ip("198.18.0.11");
  EXPECT_EQ(ch.on_packet(forged, proven), Answer::None);
  EXPECT_EQ(ch.cookie_of(remote), ev.ack);
  PacketEvent r = kernel_refusal(ev);
  EXPECT_EQ(r.proto, kProtoTcp);
  EXPECT_EQ(r.tcp_flags, tcpf::kRst | tcpf::kAck);
  PacketEvent rst;
  Frame a = answer(remote, 40001, local, 25, ev.ack);
  ASSERT_EQ(make_event(a.b.data(), a.b.size(), link::kEthernet, 1'000'100, rst), Decode::Ok);
  EXPECT_EQ(ch.on_packet(rst, proven), Answer::Proven);
  EXPECT_EQ(proven, remote);
}

TEST_F(KernelFastpathTest, UdpRefusalsAndIpv6) {
  load();
  const IpAddress remote = ip("2001:db8::10"), local = ip("2001:db8::2");
  ASSERT_EQ(run(true, port_unreachable(remote, 50000, local, 161)), kPass);
  ASSERT_EQ(run(true, port_unreachable(remote, 50000, local, 137)), kPass);
  ASSERT_EQ(out_.size(), 14u + 40 + 24);
  PacketEvent ev = left();
  EXPECT_EQ(ev.tcp_flags, tcpf::kSyn | tcpf::kAck);
  EXPECT_EQ(ev.sport, 137);
  EXPECT_EQ(ev.dport, 50000);
  EXPECT_EQ(ev.seq & 1, 1u);  // a UDP refusal replaced
  ChallengeConfig cc;
  cc.kernel_challenges = true;
  Challenger ch(cc, kK0, kK1, nullptr);
  ChallengePacket p;
  p.to = {remote, local, 50000, 137, true, kPeerMac, kOurMac};
  p.seq = ev.seq;
  p.ack = ev.ack;
  uint8_t frame[kChallengeFrameMax];
  ASSERT_EQ(build_challenge_frame(p, frame), out_.size());
  EXPECT_EQ(std::memcmp(frame, out_.data(), out_.size()), 0);
  IpAddress proven;
  ASSERT_EQ(ch.on_packet(ev, proven), Answer::Kernel);
  PacketEvent r = kernel_refusal(ev);
  EXPECT_EQ(r.proto, kProtoIcmp6);
  EXPECT_EQ(r.icmp_type, 1);
  EXPECT_EQ(r.icmp_code, 4);
  EXPECT_EQ(r.quote.src, remote);
  EXPECT_EQ(r.quote.dport, 137);
  // Answered, and detected at the fourth refusal: dropped.
  ASSERT_EQ(run(false, answer(remote, 50000, local, 137, ev.ack)), kPass);
  ASSERT_EQ(run(true, port_unreachable(remote, 50000, local, 123)), kPass);
  EXPECT_EQ(run(false, probe(remote, 50000, local, 80)), kPass);  // three failures: not yet
  ASSERT_EQ(run(true, port_unreachable(remote, 50000, local, 138)), kPass);
  EXPECT_EQ(run(false, probe(remote, 50000, local, 80)), kDrop);
  EXPECT_EQ(prog_->stats().proven, 1u);
}

TEST_F(KernelFastpathTest, TheRightAnswerProvesAndADetectedSourceIsDropped) {
  load();
  const IpAddress remote = ip("198.18.0.10"), local = ip("198.18.0.2");
  ASSERT_EQ(run(true, refusal(remote, 40000, local, 1)), kPass);
  ASSERT_EQ(run(true, refusal(remote, 40000, local, 2)), kPass);
  PacketEvent chal = left();
  // Proven, not yet detected (two failures): nothing dropped.
  EXPECT_EQ(run(false, answer(remote, 40000, local, 2, chal.ack)), kPass);
  EXPECT_EQ(run(false, probe(remote, 40000, local, 3)), kPass);
  ASSERT_EQ(run(true, refusal(remote, 40000, local, 3)), kPass);
  ASSERT_EQ(run(true, refusal(remote, 40000, local, 4)), kPass);
  EXPECT_EQ(run(false, probe(remote, 40000, local, 5)), kDrop);
  FastpathStats s = prog_->stats();
  EXPECT_EQ(s.challenges, 1u);  // a proven source is not challenged again
  EXPECT_EQ(s.proven, 1u);
  EXPECT_EQ(s.wrong, 0u);
  EXPECT_EQ(s.dropped, 1u);
  // Another source is untouched.
  EXPECT_EQ(run(false, probe(ip("198.18.0.11"), 40000, local, 5)), kPass);
}

TEST_F(KernelFastpathTest, AWrongSequenceNumberIsTheOneGuess) {
  load();
  const IpAddress remote = ip("198.18.0.10"), local = ip("198.18.0.2");
  PacketEvent chal = scan(remote, local);
  EXPECT_EQ(run(false, answer(remote, 40000, local, 2, chal.ack + 1)), kPass);
  EXPECT_EQ(run(false, answer(remote, 40000, local, 2, chal.ack)), kPass);  // too late: one guess
  EXPECT_EQ(run(false, probe(remote, 40000, local, 9)), kPass);
  FastpathStats s = prog_->stats();
  EXPECT_EQ(s.proven, 0u);
  EXPECT_EQ(s.wrong, 1u);
  EXPECT_EQ(s.dropped, 0u);
}

TEST_F(KernelFastpathTest, OtherFourTuplesAndLinkAddressesProveNothing) {
  load();
  const IpAddress remote = ip("198.18.0.10"), local = ip("198.18.0.2");
  PacketEvent chal = scan(remote, local);
  // The cookie on another four-tuple is not a guess at all; from another link address it is.
  EXPECT_EQ(run(false, answer(remote, 40001, local, 2, chal.ack)), kPass);
  EXPECT_EQ(run(false, answer(remote, 40000, local, 3, chal.ack)), kPass);
  EXPECT_EQ(run(false, answer(remote, 40000, local, 2, chal.ack, kOtherMac)), kPass);
  EXPECT_EQ(run(false, answer(remote, 40000, local, 2, chal.ack)), kPass);
  EXPECT_EQ(run(false, probe(remote, 40000, local, 9)), kPass);
  FastpathStats s = prog_->stats();
  EXPECT_EQ(s.proven, 0u);
  EXPECT_EQ(s.wrong, 1u);
}

TEST_F(KernelFastpathTest, ALateAnswerProvesNothing) {
  cfg_.timeout_us = 2'000;
  load();
  const IpAddress remote = ip("198.18.0.10"), local = ip("198.18.0.2");
  PacketEvent chal = scan(remote, local);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(run(false, answer(remote, 40000, local, 2, chal.ack)), kPass);
  EXPECT_EQ(run(false, probe(remote, 40000, local, 9)), kPass);
  EXPECT_EQ(prog_->stats().proven, 0u);
}

TEST_F(KernelFastpathTest, SpoofedSuspectsAreNeverProvenNorDropped) {
  cfg_.burst = 100;
  load();
  const IpAddress local = ip("198.18.0.2");
  // 50 detected sources that never answer (their addresses were forged): 50 challenges, nothing
  // proven, nothing dropped; a replayed RST with another source's cookie proves nothing either.
  std::vector<uint32_t> cookies;
  for (int i = 0; i < 50; ++i) {
    IpAddress remote = ip("198.19.0.0");
    remote.value += static_cast<unsigned>(i);
    cookies.push_back(scan(remote, local).ack);
  }
  for (int i = 0; i < 50; ++i) {
    IpAddress remote = ip("198.19.0.0");
    remote.value += static_cast<unsigned>(i);
    EXPECT_EQ(run(false, answer(remote, 40000, local, 2, cookies[(i + 1) % 50])), kPass);
    EXPECT_EQ(run(false, probe(remote, 40000, local, 9)), kPass);
  }
  FastpathStats s = prog_->stats();
  EXPECT_EQ(s.challenges, 50u);
  EXPECT_EQ(s.proven, 0u);
  EXPECT_EQ(s.dropped, 0u);
}

TEST_F(KernelFastpathTest, TheBucketAndTheIntervalBoundTheChallenges) {
  cfg_.rate = 0.01;  // the burst alone
  cfg_.burst = 5;
  load();
  const IpAddress local = ip("198.18.0.2");
  for (int i = 0; i < 20; ++i) {
    IpAddress remote = ip("198.19.0.0");
    remote.value += static_cast<unsigned>(i);
    scan(remote, local);
  }
  FastpathStats s = prog_->stats();
  EXPECT_EQ(s.challenges, 5u);
  // A refused challenge leaves the refusal as it was; the detected sources are retried at
  // their next failure (each of the 15 tried at failures 2, 3 and 4).
  EXPECT_EQ(s.limited, 45u);
  // One source: its second challenge waits for the interval even past the timeout.
  EXPECT_EQ(run(true, refusal(ip("198.19.0.0"), 40000, local, 30)), kPass);
  EXPECT_EQ(out_.size(), 54u);
}

TEST_F(KernelFastpathTest, SuccessesAndExemptSources) {
  load();
  const IpAddress local = ip("198.18.0.2");
  // A client of open services with the odd refused port: successes keep the walk down, so it is
  // challenged (its second failure) but never detected, hence never dropped even when proven.
  const IpAddress client = ip("198.18.0.20");
  ASSERT_EQ(run(true, success(client, 50000, local, 22)), kPass);
  ASSERT_EQ(run(true, success(client, 50001, local, 80)), kPass);
  ASSERT_EQ(run(true, success(client, 50002, local, 443)), kPass);
  ASSERT_EQ(run(true, refusal(client, 50003, local, 8080)), kPass);
  ASSERT_EQ(run(true, refusal(client, 50004, local, 8081)), kPass);
  PacketEvent chal = left();
  ASSERT_EQ(chal.tcp_flags, tcpf::kSyn | tcpf::kAck);
  EXPECT_EQ(run(false, answer(client, 50004, local, 8081, chal.ack)), kPass);
  ASSERT_EQ(run(true, refusal(client, 50005, local, 8082)), kPass);
  EXPECT_EQ(run(false, probe(client, 50006, local, 22)), kPass);
  EXPECT_EQ(prog_->stats().proven, 1u);
  // An exempt source is never tracked: its refusals leave as they are.
  ASSERT_TRUE(prog_->exempt(*Prefix::parse("198.18.7.0/24")));
  const IpAddress allowed = ip("198.18.7.9");
  for (uint16_t port = 1; port <= 10; ++port) {
    Frame f = refusal(allowed, 40000, local, port);
    ASSERT_EQ(run(true, f), kPass);
    EXPECT_EQ(out_, f.b);
  }
  EXPECT_EQ(prog_->stats().challenges, 1u);
}

}  // namespace
}  // namespace gh::detect
