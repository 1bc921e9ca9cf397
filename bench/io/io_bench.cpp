// io_bench: packets per second through the AF_PACKET paths of src/io, for bench/io/run.sh.
// Not a test: it prints what it measured and judges nothing.
//
//   io_bench tx METHOD IFNAME SRC_IP DST_IP DST_MAC COUNT [FLUSH_EVERY]
//       METHOD: sendmmsg (PacketSocket::send_batch, 64 frames a call), or a TxRing: ring
//       (copy_frames, the default), ring-zc (zero-copy), and either with -bypass
//       (PACKET_QDISC_BYPASS); a flush every FLUSH_EVERY frames, default 64
//   io_bench rx METHOD IFNAME DST_IP SECONDS
//       METHOD: ring (RxRing::poll) or recv (PacketSocket::receive: poll + recvfrom a frame)
//       Counts, for SECONDS from the first frame, the frames the destination filter of DST_IP
//       lets through, reading one byte of each.
//   io_bench flood IFNAME SRC_IP DST_IP DST_MAC SECONDS
//       Sends through a TxRing for SECONDS, as fast as it goes.
//
// Frames: 60-byte TCP SYNs (Ethernet, IPv4, TCP with an MSS option, 2 bytes of padding) from a
// TcpSynTemplate built once, patched per frame (source port, sequence number, IP id), with the
// IPv4 header checksum then spoiled so that the peer's IP stack drops them at once: on veth the
// peer's receive path runs on the sender's CPU, and a cheap drop keeps it out of the figures.
//
// Network safety: SRC_IP and DST_IP must lie in 198.18.0.0/15 (the benchmark network), or
// io_bench refuses to start. run.sh runs it inside namespaces it made, joined by a veth pair.
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.h"
#include "core/error.h"
#include "io/bpf.h"
#include "io/fd.h"
#include "io/packet_socket.h"
#include "io/rx_ring.h"
#include "io/tx_ring.h"
#include "net/tcp_template.h"

namespace gh {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr size_t kFrameSize = 60;

[[noreturn]] void usage() {
  std::fputs(
      "usage: io_bench tx sendmmsg|ring|ring-bypass|ring-zc|ring-zc-bypass IFNAME SRC_IP DST_IP "
      "DST_MAC COUNT "
      "[FLUSH_EVERY]\n"
      "       io_bench rx ring|recv IFNAME DST_IP SECONDS\n"
      "       io_bench flood IFNAME SRC_IP DST_IP DST_MAC SECONDS\n",
      stderr);
  std::exit(2);
}

IpAddress lab_address(const char* text) {
  auto a = IpAddress::parse(text);
  if (!a || !a->is_v4() || (a->v4_value() >> 17) != (0xC6120000u >> 17)) {
    std::fprintf(stderr, "io_bench: %s is not in 198.18.0.0/15; refusing\n", text);
    std::exit(2);
  }
  return *a;
}

net::MacAddress parse_mac(const char* text) {
  net::MacAddress m{};
  unsigned b[6];
  if (std::sscanf(text, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
    usage();
  for (int i = 0; i < 6; ++i) m[i] = static_cast<uint8_t>(b[i]);
  return m;
}

struct Interface {
  int index = 0;
  net::MacAddress mac{};
};

Interface interface(const char* name) {
  Interface i;
  i.index = static_cast<int>(::if_nametoindex(name));
  if (i.index == 0) throw system_error(errno, std::string("interface ") + name);
  FileDescriptor s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (::ioctl(s.get(), SIOCGIFHWADDR, &ifr) != 0) throw system_error(errno, "SIOCGIFHWADDR");
  std::memcpy(i.mac.data(), ifr.ifr_hwaddr.sa_data, 6);
  return i;
}

// Builds frame number i into `out` (kFrameSize bytes).
class Frames {
 public:
  Frames(const Interface& itf, IpAddress src, IpAddress dst, net::MacAddress dst_mac)
      : tmpl_(params(itf, src, dst_mac)), dst_(dst) {}
  void build(uint64_t i, uint8_t* out) const {
    tmpl_.build(out, dst_, static_cast<uint16_t>(32768 + (i & 0x7fff)), 80,
                static_cast<uint32_t>(i * 2654435761u), static_cast<uint16_t>(i));
    out[tmpl_.ip_offset() + 10] ^= 0xff;  // spoil the IPv4 header checksum (see above)
  }

 private:
  static net::SynTemplateParams params(const Interface& itf, IpAddress src,
                                       net::MacAddress dst_mac) {
    net::SynTemplateParams p;
    p.src = src;
    p.src_mac = itf.mac;
    p.dst_mac = dst_mac;
    return p;
  }
  net::TcpSynTemplate tmpl_;
  IpAddress dst_;
};

double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct TxResult {
  uint64_t sent = 0;
  uint64_t errors = 0;  // failed calls (the frames were sent again)
  uint64_t waits = 0;   // flush_and_wait calls (ring full after a flush)
};

TxResult send_sendmmsg(const Interface& itf, const Frames& frames, uint64_t count) {
  PacketSocket s = PacketSocket::open(itf.index, PacketSocketOptions::send_only());
  constexpr size_t kBatch = 64;
  std::vector<uint8_t> buf(kBatch * kFrameSize, 0);
  std::vector<std::span<const uint8_t>> spans;
  TxResult r;
  while (r.sent < count) {
    size_t n = std::min<uint64_t>(kBatch, count - r.sent);
    spans.clear();
    for (size_t j = 0; j < n; ++j) {
      frames.build(r.sent + j, &buf[j * kFrameSize]);
      spans.emplace_back(&buf[j * kFrameSize], kFrameSize);
    }
    auto res = s.send_batch(spans);
    r.sent += res.sent;
    if (res.error != 0) ++r.errors;  // the unsent rest is rebuilt and sent again
  }
  return r;
}

// Pushes frames until `done(sent)`, flushing every `flush_every` frames and whenever the ring is
// full; waits for the kernel only when a flush did not free the next slot.
template <class Done>
TxResult send_ring(const Interface& itf, const Frames& frames, std::string_view method,
                   size_t flush_every, Done done) {
  TxRingOptions o;
  o.qdisc_bypass = method.find("-bypass") != std::string_view::npos;
  o.copy_frames = method.find("-zc") == std::string_view::npos;
  TxRing ring = TxRing::open(itf.index, o);
  uint8_t frame[kFrameSize] = {};
  TxResult r;
  while (!done(r.sent)) {
    frames.build(r.sent, frame);
    while (!ring.try_push(frame)) {
      int err = ring.flush();
      if (err != 0) ++r.errors;
      if (ring.try_push(frame)) break;
      ++r.waits;
      if (ring.flush_and_wait() != 0) ++r.errors;
    }
    ++r.sent;
    if (ring.unflushed() >= flush_every && ring.flush() != 0) ++r.errors;
  }
  while (ring.flush_and_wait() != 0) ++r.errors;
  return r;
}

int run_tx(int argc, char** argv) {
  if (argc < 8 || argc > 9) usage();
  std::string_view method = argv[2];
  Interface itf = interface(argv[3]);
  Frames frames(itf, lab_address(argv[4]), lab_address(argv[5]), parse_mac(argv[6]));
  uint64_t count = std::strtoull(argv[7], nullptr, 10);
  size_t flush_every = argc == 9 ? std::strtoul(argv[8], nullptr, 10) : 64;
  if (count == 0 || flush_every == 0) usage();

  double cpu0 = cpu_seconds();
  auto t0 = Clock::now();
  TxResult r;
  if (method == "sendmmsg") {
    r = send_sendmmsg(itf, frames, count);
  } else if (method.starts_with("ring")) {
    r = send_ring(itf, frames, method, flush_every, [&](uint64_t sent) { return sent >= count; });
  } else {
    usage();
  }
  double wall = seconds_since(t0), cpu = cpu_seconds() - cpu0;
  std::printf(
      "tx %-14s flush_every=%-5zu frames=%llu wall=%.3fs cpu=%.3fs rate=%.0f/s "
      "per_cpu_s=%.0f errors=%llu waits=%llu\n",
      std::string(method).c_str(), method == "sendmmsg" ? size_t{64} : flush_every,
      static_cast<unsigned long long>(r.sent), wall, cpu, static_cast<double>(r.sent) / wall,
      static_cast<double>(r.sent) / cpu, static_cast<unsigned long long>(r.errors),
      static_cast<unsigned long long>(r.waits));
  return 0;
}

int run_flood(int argc, char** argv) {
  if (argc != 7) usage();
  Interface itf = interface(argv[2]);
  Frames frames(itf, lab_address(argv[3]), lab_address(argv[4]), parse_mac(argv[5]));
  double seconds = std::strtod(argv[6], nullptr);
  auto t0 = Clock::now();
  auto end =
      t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  TxResult r = send_ring(itf, frames, "ring", 256,
                         [&](uint64_t sent) { return (sent & 1023) == 0 && Clock::now() >= end; });
  std::printf("flood frames=%llu rate=%.0f/s\n", static_cast<unsigned long long>(r.sent),
              static_cast<double>(r.sent) / seconds_since(t0));
  return 0;
}

int run_rx(int argc, char** argv) {
  if (argc != 6) usage();
  std::string_view method = argv[2];
  Interface itf = interface(argv[3]);
  IpAddress dst = lab_address(argv[4]);
  double seconds = std::strtod(argv[5], nullptr);
  auto filter = destination_filter(LinkFraming::Ethernet, dst);

  uint64_t frames = 0, checksum = 0, drops = 0, kernel_packets = 0;
  Clock::time_point first{}, end{};
  double cpu0 = 0;
  auto start = [&] {
    first = Clock::now();
    end =
        first + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    cpu0 = cpu_seconds();
  };
  auto give_up = Clock::now() + 10s;  // no flood came
  if (method == "ring") {
    RxRingOptions o;
    o.filter = filter;
    RxRing ring = RxRing::open(itf.index, o);
    auto fn = [&](std::span<const uint8_t> f, uint8_t) {
      checksum += f.size() > 38 ? f[38] : 0;  // a byte of the sequence number
      ++frames;
    };
    while (frames == 0 && Clock::now() < give_up) ring.poll(100ms, fn);
    start();
    frames = 0;
    auto base = ring.stats();  // count from here on
    while (Clock::now() < end) ring.poll(100ms, fn);
    auto st = ring.stats();
    drops = st.drops - base.drops;
    kernel_packets = st.packets - base.packets;
  } else if (method == "recv") {
    PacketSocketOptions o;
    o.filter = filter;
    o.receive_buffer = 32 << 20;  // as the SYN engine asks
    PacketSocket s = PacketSocket::open(itf.index, o);
    std::vector<uint8_t> buf(2048);
    auto stats = [&] {
      tpacket_stats st{};
      socklen_t len = sizeof st;
      if (::getsockopt(s.fd(), SOL_PACKET, PACKET_STATISTICS, &st, &len) != 0)
        throw system_error(errno, "PACKET_STATISTICS");
      return st;
    };
    while (frames == 0 && Clock::now() < give_up)
      if (s.receive(buf, 100ms)) ++frames;
    start();
    frames = 0;
    stats();  // reset the kernel's counters
    while (Clock::now() < end) {
      auto f = s.receive(buf, 100ms);
      if (!f) continue;
      checksum += f->length > 38 ? buf[38] : 0;
      ++frames;
    }
    auto st = stats();
    drops = st.tp_drops;
    kernel_packets = st.tp_packets;
  } else {
    usage();
  }
  double wall = seconds_since(first), cpu = cpu_seconds() - cpu0;
  std::printf(
      "rx %-4s frames=%llu wall=%.3fs cpu=%.3fs rate=%.0f/s kernel_seen=%llu drops=%llu "
      "(checksum %llu)\n",
      std::string(method).c_str(), static_cast<unsigned long long>(frames), wall, cpu,
      static_cast<double>(frames) / wall, static_cast<unsigned long long>(kernel_packets),
      static_cast<unsigned long long>(drops), static_cast<unsigned long long>(checksum));
  return 0;
}

}  // namespace
}  // namespace gh

int main(int argc, char** argv) {
  if (argc < 2) gh::usage();
  std::string_view mode = argv[1];
  try {
    if (mode == "tx") return gh::run_tx(argc, argv);
    if (mode == "rx") return gh::run_rx(argc, argv);
    if (mode == "flood") return gh::run_flood(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "io_bench: %s\n", e.what());
    return 1;
  }
  gh::usage();
}
