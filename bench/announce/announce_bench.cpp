// bench/announce: the cost of `scan --announce` per probe (docs/BENCHMARKS.md, "announce").
//
// Builds N SYN frames through the real TCP SYN probe module, plain and tagged (the option
// stamped with a SipHash-2-4 tag and the checksum fixed), N UDP datagrams through the real -sU
// module, plain and tagged (the 18-byte trailer after an empty payload, then after a DNS query;
// the checksum computed over the whole datagram), and for comparison the tag computed as a
// truncated HMAC-SHA-256 through OpenSSL (the alternative docs/AUTHORIZATION.md rejects).
// Prints nanoseconds per probe and the ratios. Single thread; no packet is sent.
//
//   ninja -C build announce_bench && build/announce_bench [N]
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "auth/announce.h"
#include "net/udp_payloads.h"
#include "scan/probe_tcp_syn.h"
#include "scan/probe_udp.h"

using namespace gh;

namespace {

double ns_per(std::chrono::steady_clock::duration d, size_t n) {
  return std::chrono::duration<double, std::nano>(d).count() / static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 5'000'000;
  std::array<uint8_t, 32> secret{};
  for (size_t i = 0; i < secret.size(); ++i) secret[i] = static_cast<uint8_t>(i * 7 + 1);
  auth::AnnounceKey key = auth::AnnounceKey::derive(secret, std::string(64, 'a'));
  auth::ProbeAnnouncer announcer(key);

  PathInfo path;
  path.source = *IpAddress::parse("198.18.0.1");
  path.framing = LinkFraming::Ethernet;
  TcpSynProbe plain(ModuleKeys{1, 2}), tagged(ModuleKeys{1, 2});
  tagged.set_announcer(&announcer);
  plain.prepare(path);
  tagged.prepare(path);
  std::vector<uint8_t> frame(plain.max_frame());
  const uint32_t base = IpAddress::parse("198.18.0.0")->v4_value();
  uint64_t sink = 0;

  auto run = [&](const ProbeModule& m, Protocol proto = Protocol::Tcp, uint16_t fixed_port = 0) {
    auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < n; ++i) {
      Probe p{IpAddress::v4(base + static_cast<uint32_t>(i & 0xffff)), proto,
              fixed_port != 0 ? fixed_port : static_cast<uint16_t>(1 + (i >> 16) % 65535)};
      sink += m.build(frame, p, BuildArgs{static_cast<uint16_t>(i), 0});
      sink += frame[40];
    }
    return ns_per(std::chrono::steady_clock::now() - t0, n);
  };
  // Warm up, then measure each twice and keep the better.
  run(plain);
  run(tagged);
  double p = std::min(run(plain), run(plain));
  double t = std::min(run(tagged), run(tagged));

  // UDP: ports 20000 (no payload: the trailer alone) and 53 (a DNS query, then the trailer).
  const net::UdpPayloads table = net::UdpPayloads::builtin();
  UdpProbe uplain(ModuleKeys{1, 2}, table), utagged(ModuleKeys{1, 2}, table);
  utagged.set_announcer(&announcer);
  uplain.prepare(path);
  utagged.prepare(path);
  frame.resize(std::max(frame.size(), uplain.max_frame()));
  double ue[2], ud[2];
  for (int r = 0; r < 2; ++r) {  // warm up, then keep the better of two
    ue[0] = run(uplain, Protocol::Udp, 20000);
    ue[1] = run(utagged, Protocol::Udp, 20000);
    ud[0] = run(uplain, Protocol::Udp, 53);
    ud[1] = run(utagged, Protocol::Udp, 53);
  }
  const double up = std::min(ue[0], run(uplain, Protocol::Udp, 20000));
  const double ut = std::min(ue[1], run(utagged, Protocol::Udp, 20000));
  const double dp = std::min(ud[0], run(uplain, Protocol::Udp, 53));
  const double dt = std::min(ud[1], run(utagged, Protocol::Udp, 53));

  // The rejected alternative: HMAC-SHA-256 over the same 40 bytes, truncated to 64 bits.
  const size_t hn = n / 10;
  std::array<uint8_t, 40> msg{};
  unsigned char out[32];
  unsigned len = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < hn; ++i) {
    msg[0] = static_cast<uint8_t>(i);
    msg[1] = static_cast<uint8_t>(i >> 8);
    HMAC(EVP_sha256(), secret.data(), secret.size(), msg.data(), msg.size(), out, &len);
    sink += out[0];
  }
  double h = ns_per(std::chrono::steady_clock::now() - t0, hn);

  std::printf("probes: %zu (HMAC: %zu)\n", n, hn);
  std::printf("plain SYN build      %7.1f ns/probe\n", p);
  std::printf("tagged SYN build     %7.1f ns/probe  (%.2fx plain; tag + stamp %.1f ns)\n", t, t / p,
              t - p);
  std::printf("plain UDP (empty)    %7.1f ns/probe\n", up);
  std::printf("tagged UDP (empty)   %7.1f ns/probe  (%.2fx plain; tag + trailer %.1f ns)\n", ut,
              ut / up, ut - up);
  std::printf("plain UDP (DNS)      %7.1f ns/probe\n", dp);
  std::printf("tagged UDP (DNS)     %7.1f ns/probe  (%.2fx plain; tag + trailer %.1f ns)\n", dt,
              dt / dp, dt - dp);
  std::printf("HMAC-SHA-256 tag     %7.1f ns/tag    (%.1fx the SipHash tag and stamp)\n", h,
              h / (t - p > 0 ? t - p : 1));
  std::printf("(checksum %llu)\n", static_cast<unsigned long long>(sink & 0xff));
  return 0;
}
