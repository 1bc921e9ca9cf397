// Packet capture for the detector: one class for a live interface and for a pcap file, so that
// `watch -r FILE` runs exactly the code `watch -i IFACE` runs after the frame is in memory.
//
// Live capture uses libpcap: on Linux a TPACKET_V3 memory-mapped ring of AF_PACKET (16 MiB,
// packets delivered in blocks, at most 50 ms late; or, with `immediate`, a TPACKET_V2 ring that
// hands over every frame at once), non-blocking, with the kernel-side BPF filter
// kDefaultFilter so that bulk data segments never reach user space, and whole packets (the
// parser rejects a cut IP packet). Offline reading accepts pcap and pcapng files.
#pragma once

#include <cstdint>
#include <string>

struct pcap;

namespace gh::detect {

// What the detector needs: every UDP and ICMP packet, TCP segments with SYN, FIN or RST set or
// without ACK (probes, and the replies to them), and all IPv6 TCP (libpcap cannot index TCP
// flags behind an IPv6 header). Pure ACKs and data segments of IPv4 flows are left in the kernel.
inline constexpr const char* kDefaultFilter =
    "(ip and (udp or icmp or (tcp and (tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0 "
    "or tcp[tcpflags] & tcp-ack == 0)))) or (ip6 and (tcp or udp or icmp6))";

struct CaptureStats {
  uint64_t received = 0;    // packets the kernel passed the filter (live) or records read (file)
  uint64_t dropped = 0;     // dropped by the kernel for lack of buffer space
  uint64_t if_dropped = 0;  // dropped by the interface or driver
};

struct LiveOptions {
  std::string interface;
  std::string filter = kDefaultFilter;
  int snaplen = 65535;  // whole packets: the parser rejects a cut IP packet
  int buffer_bytes = 16 << 20;
  int block_timeout_ms = 50;  // the longest a captured packet waits in the kernel
  bool promiscuous = false;
  // Immediate delivery (watch --block): every frame is handed over as soon as it is captured, a
  // TPACKET_V2 ring with one fixed-size slot per frame instead of V3's blocks (whose retire
  // timer counts in jiffies: 1 ms asked is 4 ms at HZ=250). The slots are sized by the
  // interface's MTU (snaplen = MTU + 22, so a 16 MiB ring holds 8,192 frames, not the 128 of
  // 64 KiB slots): a larger frame, i.e. a GRO/TSO aggregate of data segments, arrives cut and
  // is counted undecodable; probes and their answers are single frames.
  bool immediate = false;
};

class Capture {
 public:
  // Throws UsageError when the file cannot be opened or is not a capture.
  static Capture open_file(const std::string& path, const std::string& filter = "");
  // Throws RuntimeError (interface missing, no permission, filter rejected).
  static Capture open_live(const LiveOptions& opt);

  Capture(Capture&& o) noexcept : p_(o.p_), live_(o.live_), link_(o.link_), records_(o.records_) {
    o.p_ = nullptr;
  }
  Capture& operator=(Capture&&) = delete;
  Capture(const Capture&) = delete;
  ~Capture();

  int link_type() const { return link_; }
  bool live() const { return live_; }
  // A descriptor to poll() for readability (live only; -1 for a file).
  int selectable_fd() const;

  enum class Next { Packet, None, End };
  // Next packet: Packet (data/len/ts_us filled), None (live: nothing ready now), End (file: no
  // more). Throws RuntimeError on a read error.
  Next next(const uint8_t*& data, size_t& len, int64_t& ts_us);
  CaptureStats stats() const;

 private:
  Capture(pcap* p, bool live);
  pcap* p_;
  bool live_;
  int link_;
  uint64_t records_ = 0;
};

}  // namespace gh::detect
