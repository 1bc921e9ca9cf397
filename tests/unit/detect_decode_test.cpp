// Frames -> PacketEvents from byte fixtures, and `watch -r` end to end over pcap files that the
// tests write themselves.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "cli/watch_command.h"
#include "detect/decode.h"

namespace gh::detect {
namespace {

using Bytes = std::vector<uint8_t>;

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put32(Bytes& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}
void put_addr(Bytes& b, const char* a) {
  auto bytes = IpAddress::parse(a)->bytes();
  b.insert(b.end(), bytes.begin(), bytes.begin() + (IpAddress::parse(a)->is_v4() ? 4 : 16));
}

Bytes ethernet(uint16_t type) {
  Bytes b = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2};
  put16(b, type);
  return b;
}

Bytes ipv4(const char* src, const char* dst, uint8_t proto, const Bytes& l4, uint16_t id = 0x1234,
           uint8_t ttl = 64) {
  Bytes b = {0x45, 0};
  put16(b, static_cast<uint16_t>(20 + l4.size()));
  put16(b, id);
  put16(b, 0x4000);  // DF
  b.push_back(ttl);
  b.push_back(proto);
  put16(b, 0);  // checksum: not verified by the detector
  put_addr(b, src);
  put_addr(b, dst);
  b.insert(b.end(), l4.begin(), l4.end());
  return b;
}

Bytes ipv6(const char* src, const char* dst, uint8_t next, const Bytes& l4) {
  Bytes b = {0x60, 0, 0, 0};
  put16(b, static_cast<uint16_t>(l4.size()));
  b.push_back(next);
  b.push_back(64);
  put_addr(b, src);
  put_addr(b, dst);
  b.insert(b.end(), l4.begin(), l4.end());
  return b;
}

Bytes tcp_hdr(uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack,
              uint16_t window, const Bytes& options = {}) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put32(b, seq);
  put32(b, ack);
  b.push_back(static_cast<uint8_t>(((20 + options.size()) / 4) << 4));
  b.push_back(flags);
  put16(b, window);
  put16(b, 0);
  put16(b, 0);
  b.insert(b.end(), options.begin(), options.end());
  return b;
}

Bytes udp_hdr(uint16_t sport, uint16_t dport, size_t payload = 0) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put16(b, static_cast<uint16_t>(8 + payload));
  put16(b, 0);
  b.resize(b.size() + payload, 0xAB);
  return b;
}

const Bytes kMssOnly = {2, 4, 0x05, 0xB4};  // nmap / masscan
const Bytes kLinuxOpts = {2, 4, 0x05, 0xB4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7};

Bytes eth_v4(const char* src, const char* dst, uint8_t proto, const Bytes& l4, uint16_t id = 0x1234,
             uint8_t ttl = 64) {
  Bytes f = ethernet(0x0800);
  Bytes ip = ipv4(src, dst, proto, l4, id, ttl);
  f.insert(f.end(), ip.begin(), ip.end());
  return f;
}

TEST(Decode, EthernetIpv4TcpSynWithNmapOptions) {
  Bytes f = eth_v4("198.18.0.2", "198.18.1.1", 6,
                   tcp_hdr(40000, 22, 0x02, 0xAABBCCDD, 0, 1024, kMssOnly), 777);
  PacketEvent ev;
  ASSERT_EQ(make_event(f.data(), f.size(), link::kEthernet, 5, ev), Decode::Ok);
  EXPECT_EQ(ev.ts_us, 5);
  EXPECT_EQ(ev.src.to_string(), "198.18.0.2");
  EXPECT_EQ(ev.dst.to_string(), "198.18.1.1");
  EXPECT_EQ(ev.proto, kProtoTcp);
  EXPECT_EQ(ev.sport, 40000);
  EXPECT_EQ(ev.dport, 22);
  EXPECT_EQ(ev.tcp_flags, tcpf::kSyn);
  EXPECT_EQ(ev.seq, 0xAABBCCDDu);
  EXPECT_EQ(ev.window, 1024);
  EXPECT_EQ(ev.ip_id, 777);
  EXPECT_EQ(ev.ttl, 64);
  EXPECT_EQ(ev.options.count, 1);
  EXPECT_EQ(ev.options.mss, 1460);
  EXPECT_FALSE(ev.options.sack_permitted);
}

TEST(Decode, LinuxStackOptions) {
  Bytes f =
      eth_v4("198.18.0.2", "198.18.1.1", 6, tcp_hdr(40000, 22, 0x02, 1, 0, 64240, kLinuxOpts));
  PacketEvent ev;
  ASSERT_EQ(make_event(f.data(), f.size(), link::kEthernet, 0, ev), Decode::Ok);
  EXPECT_TRUE(ev.options.sack_permitted);
  EXPECT_TRUE(ev.options.timestamps);
  EXPECT_TRUE(ev.options.window_scale);
  EXPECT_EQ(ev.options.count, 4);
}

TEST(Decode, Ipv6TcpOnRawLink) {
  Bytes f = ipv6("2001:db8::2", "2001:db8:1::1", 6, tcp_hdr(1, 80, 0x29, 5, 0, 1024));  // Xmas
  PacketEvent ev;
  ASSERT_EQ(make_event(f.data(), f.size(), link::kRaw, 0, ev), Decode::Ok);
  EXPECT_EQ(ev.src.to_string(), "2001:db8::2");
  EXPECT_EQ(ev.dport, 80);
  EXPECT_EQ(ev.tcp_flags, 0x29);
}

TEST(Decode, IcmpPortUnreachableQuotesTheUdpProbe) {
  Bytes probe = ipv4("198.18.0.2", "198.18.1.1", 17, udp_hdr(55000, 161));
  Bytes icmp = {3, 3, 0, 0, 0, 0, 0, 0};
  icmp.insert(icmp.end(), probe.begin(), probe.begin() + 28);
  Bytes f = eth_v4("198.18.1.1", "198.18.0.2", 1, icmp);
  PacketEvent ev;
  ASSERT_EQ(make_event(f.data(), f.size(), link::kEthernet, 0, ev), Decode::Ok);
  EXPECT_EQ(ev.icmp_type, 3);
  EXPECT_EQ(ev.icmp_code, 3);
  ASSERT_TRUE(ev.quote.present);
  EXPECT_EQ(ev.quote.proto, kProtoUdp);
  EXPECT_EQ(ev.quote.src.to_string(), "198.18.0.2");
  EXPECT_EQ(ev.quote.dst.to_string(), "198.18.1.1");
  EXPECT_EQ(ev.quote.sport, 55000);
  EXPECT_EQ(ev.quote.dport, 161);
}

TEST(Decode, RejectsWhatItCannotRead) {
  Bytes good = eth_v4("198.18.0.2", "198.18.1.1", 6, tcp_hdr(1, 2, 0x02, 0, 0, 1024));
  PacketEvent ev;
  for (size_t cut = 0; cut < 14 + 20 + 20; ++cut)
    EXPECT_NE(make_event(good.data(), cut, link::kEthernet, 0, ev), Decode::Ok) << cut;
  Bytes arp = ethernet(0x0806);
  arp.resize(42);
  EXPECT_EQ(make_event(arp.data(), arp.size(), link::kEthernet, 0, ev), Decode::Rejected);
  EXPECT_EQ(make_event(good.data(), good.size(), 147, 0, ev), Decode::Unsupported);
  Bytes frag = good;
  frag[14 + 6] = 0x00;
  frag[14 + 7] = 0x10;  // fragment offset 128: no transport header here
  EXPECT_NE(make_event(frag.data(), frag.size(), link::kEthernet, 0, ev), Decode::Ok);
  Bytes bad_opts =
      eth_v4("198.18.0.2", "198.18.1.1", 6, tcp_hdr(1, 2, 0x02, 0, 0, 1024, {2, 9, 0, 0}));
  ASSERT_EQ(make_event(bad_opts.data(), bad_opts.size(), link::kEthernet, 0, ev), Decode::Ok);
  EXPECT_TRUE(ev.options.malformed);
}

// ---- pcap files ----------------------------------------------------------------------------

class PcapFile {
 public:
  explicit PcapFile(uint32_t linktype = 1) {
    put_le32(0xA1B2C3D4);
    put_le16(2);
    put_le16(4);
    put_le32(0);
    put_le32(0);
    put_le32(65535);
    put_le32(linktype);
  }
  void add(const Bytes& frame, int64_t ts_us) {
    put_le32(static_cast<uint32_t>(ts_us / 1000000));
    put_le32(static_cast<uint32_t>(ts_us % 1000000));
    put_le32(static_cast<uint32_t>(frame.size()));
    put_le32(static_cast<uint32_t>(frame.size()));
    data_.insert(data_.end(), frame.begin(), frame.end());
  }
  std::string save(const std::string& name) const {
    std::string path = ::testing::TempDir() + name;
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(data_.data()),
               static_cast<std::streamsize>(data_.size()));
    return path;
  }

 private:
  void put_le16(uint16_t v) {
    data_.push_back(static_cast<uint8_t>(v));
    data_.push_back(static_cast<uint8_t>(v >> 8));
  }
  void put_le32(uint32_t v) {
    put_le16(static_cast<uint16_t>(v));
    put_le16(static_cast<uint16_t>(v >> 16));
  }
  Bytes data_;
};

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

int run_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "watch");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return run_watch_command(static_cast<int>(argv.size()), argv.data());
}

constexpr int64_t kT0 = 1'700'000'000'000'000;  // 2023-11-14T22:13:20Z

TEST(WatchOffline, SynScanInAPcapRaisesOneAlertThatIsUpdatedAndClosed) {
  PcapFile pcap;
  int64_t t = kT0;
  for (uint16_t port = 1; port <= 100; ++port) {
    pcap.add(eth_v4("198.18.0.2", "198.18.1.1", 6,
                    tcp_hdr(40000, port, 0x02, 1000 + port, 0, 1024, kMssOnly), port, 45),
             t);
    if (port == 22) {
      pcap.add(eth_v4("198.18.1.1", "198.18.0.2", 6, tcp_hdr(22, 40000, 0x12, 9999, 1023, 64240)),
               t + 50);
    } else {
      pcap.add(
          eth_v4("198.18.1.1", "198.18.0.2", 6, tcp_hdr(port, 40000, 0x14, 0, 1001u + port, 0)),
          t + 50);
    }
    t += 20'000;
  }
  std::string in = pcap.save("gh_watch_syn.pcap");
  std::string out = ::testing::TempDir() + "gh_watch_syn.jsonl";
  std::remove(out.c_str());
  ASSERT_EQ(run_cli({"-r", in, "--local", "198.18.1.0/24", "--alerts", out, "-q"}), 0);
  auto lines = read_lines(out);
  ASSERT_GE(lines.size(), 2u);
  EXPECT_NE(lines.front().find(R"("event":"new")"), std::string::npos) << lines.front();
  EXPECT_NE(lines.front().find(R"("src":"198.18.0.2")"), std::string::npos);
  EXPECT_NE(lines.front().find(R"("type":"syn")"), std::string::npos);
  EXPECT_NE(lines.front().find(R"("shape":"vertical")"), std::string::npos);
  EXPECT_NE(lines.front().find(R"("name":"nmap")"), std::string::npos);
  EXPECT_NE(lines.front().find(R"("first_seen":"2023-11-14T22:13:20.000000Z")"), std::string::npos);
  const std::string& last = lines.back();
  EXPECT_NE(last.find(R"("event":"end")"), std::string::npos) << last;
  EXPECT_NE(last.find(R"("probes":100)"), std::string::npos) << last;
  EXPECT_NE(last.find(R"("ports":100)"), std::string::npos) << last;
  EXPECT_NE(last.find(R"("successes":1)"), std::string::npos) << last;
  // Every record carries the same id.
  std::string id = lines.front().substr(0, lines.front().find(R"(","event")"));
  for (const auto& l : lines) EXPECT_EQ(l.substr(0, id.size()), id);
}

TEST(WatchOffline, BlockOnACaptureIsADryRunThatSimulatesTheChallenge) {
  PcapFile pcap;
  int64_t t = kT0;
  for (uint16_t port = 1; port <= 20; ++port) {
    pcap.add(eth_v4("198.18.0.2", "198.18.1.1", 6,
                    tcp_hdr(40000, port, 0x02, 1000 + port, 0, 1024, kMssOnly), port, 45),
             t);
    pcap.add(eth_v4("198.18.1.1", "198.18.0.2", 6, tcp_hdr(port, 40000, 0x14, 0, 1001u + port, 0)),
             t + 50);
    t += 20'000;
  }
  std::string in = pcap.save("gh_watch_dry.pcap");
  std::string out = ::testing::TempDir() + "gh_watch_dry.jsonl";
  std::remove(out.c_str());
  ASSERT_EQ(run_cli({"-r", in, "--local", "198.18.1.0/24", "--block", "--alerts", out, "-q"}), 0);
  auto lines = read_lines(out);
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.front().find(R"("direction":"inbound")"), std::string::npos) << lines.front();
  EXPECT_NE(lines.front().find(R"("challenge":"simulated")"), std::string::npos) << lines.front();
  for (const auto& l : lines) EXPECT_NE(l.find(R"("blocked":false)"), std::string::npos) << l;
}

TEST(WatchOffline, BenignTrafficRaisesNothing) {
  PcapFile pcap;
  int64_t t = kT0;
  const uint16_t ports[] = {22, 80, 443};
  for (int i = 0; i < 300; ++i) {
    uint16_t sport = static_cast<uint16_t>(40000 + i), port = ports[i % 3];
    pcap.add(
        eth_v4("198.18.0.9", "198.18.1.1", 6, tcp_hdr(sport, port, 0x02, 5, 0, 64240, kLinuxOpts)),
        t);
    pcap.add(
        eth_v4("198.18.1.1", "198.18.0.9", 6, tcp_hdr(port, sport, 0x12, 70, 6, 65160, kLinuxOpts)),
        t + 80);
    pcap.add(eth_v4("198.18.0.9", "198.18.1.1", 6, tcp_hdr(sport, port, 0x11, 6, 71, 502)),
             t + 3000);
    pcap.add(eth_v4("198.18.1.1", "198.18.0.9", 6, tcp_hdr(port, sport, 0x11, 71, 7, 509)),
             t + 3100);
    t += 7'000;
  }
  std::string in = pcap.save("gh_watch_benign.pcap");
  std::string out = ::testing::TempDir() + "gh_watch_benign.jsonl";
  std::remove(out.c_str());
  ASSERT_EQ(run_cli({"-r", in, "--local", "198.18.1.1", "--alerts", out, "-q"}), 0);
  EXPECT_TRUE(read_lines(out).empty());
}

TEST(WatchOffline, UsageErrorsReturnTwo) {
  EXPECT_EQ(run_cli({}), 2);                           // neither -i nor -r
  EXPECT_EQ(run_cli({"-r", "/nonexistent.pcap"}), 2);  // -r without --local
  EXPECT_EQ(run_cli({"-r", "/nonexistent.pcap", "--local", "198.18.1.0/24"}), 2);  // unreadable
  EXPECT_EQ(run_cli({"-r", "x.pcap", "--local", "198.18.1.0/33"}), 2);
  EXPECT_EQ(run_cli({"-r", "x.pcap", "--local", "198.18.1.1", "--window", "fast"}), 2);
  EXPECT_EQ(run_cli({"-r", "x.pcap", "--local", "198.18.1.1", "--theta1", "0.9"}), 2);
  EXPECT_EQ(run_cli({"-r", "x.pcap", "--local", "198.18.1.1", "--block-internal"}), 2);
  EXPECT_EQ(run_cli({"-r", "x.pcap", "--local", "198.18.1.1", "--block", "--worm-ports", "1,x"}),
            2);
  EXPECT_EQ(run_cli({"-r", "x.pcap", "-i", "lo", "--local", "198.18.1.1"}), 2);
  EXPECT_EQ(run_cli({"--no-such-option"}), 2);
}

}  // namespace
}  // namespace gh::detect
