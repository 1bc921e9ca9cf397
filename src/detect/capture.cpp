#include "detect/capture.h"

#include <net/if.h>
#include <pcap/pcap.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include <algorithm>
#include <string>

#include "core/dynlib.h"
#include "core/error.h"
#include "detect/decode.h"

namespace gh::detect {

namespace {

// libpcap is loaded by the first capture (core/dynlib.h), not at start: it brings D-Bus, systemd,
// libgcrypt and three compressors, which no scan needs.
struct Pcap {
  DynLib lib{"libpcap.so.0.8", "libpcap0.8", "glasshouse watch (packet capture)"};
#define GH_PCAP(name) decltype(&::name) name = lib.fn<decltype(::name)>(#name)
  GH_PCAP(pcap_activate);
  GH_PCAP(pcap_close);
  GH_PCAP(pcap_compile);
  GH_PCAP(pcap_create);
  GH_PCAP(pcap_datalink);
  GH_PCAP(pcap_freecode);
  GH_PCAP(pcap_get_selectable_fd);
  GH_PCAP(pcap_geterr);
  GH_PCAP(pcap_next_ex);
  GH_PCAP(pcap_open_offline_with_tstamp_precision);
  GH_PCAP(pcap_set_buffer_size);
  GH_PCAP(pcap_set_immediate_mode);
  GH_PCAP(pcap_set_promisc);
  GH_PCAP(pcap_set_snaplen);
  GH_PCAP(pcap_set_timeout);
  GH_PCAP(pcap_setdirection);
  GH_PCAP(pcap_setfilter);
  GH_PCAP(pcap_setnonblock);
  GH_PCAP(pcap_stats);
#undef GH_PCAP
};

const Pcap& pc() {
  static const Pcap* api = new Pcap();
  return *api;
}

void apply_filter(pcap_t* p, const std::string& filter, bool live) {
  if (filter.empty()) return;
  bpf_program prog{};
  if (pc().pcap_compile(p, &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    std::string msg = "BPF filter '" + filter + "': " + pc().pcap_geterr(p);
    if (live) throw RuntimeError(msg);
    throw UsageError(msg);
  }
  int rc = pc().pcap_setfilter(p, &prog);
  pc().pcap_freecode(&prog);
  if (rc != 0)
    throw RuntimeError(std::string("cannot install the BPF filter: ") + pc().pcap_geterr(p));
}

// The interface's MTU, or 0 when it cannot be read.
int interface_mtu(const std::string& name) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  int mtu = ioctl(fd, SIOCGIFMTU, &ifr) == 0 ? ifr.ifr_mtu : 0;
  close(fd);
  return mtu;
}

}  // namespace

Capture::Capture(pcap* p, bool live) : p_(p), live_(live), link_(pc().pcap_datalink(p)) {}

Capture::~Capture() {
  if (p_) pc().pcap_close(p_);
}

Capture Capture::open_file(const std::string& path, const std::string& filter) {
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p =
      pc().pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, err);
  if (!p) throw UsageError("cannot read capture '" + path + "': " + err);
  Capture c(p, false);
  if (!link_type_supported(c.link_)) {
    throw UsageError("capture '" + path + "' has link type " + std::to_string(c.link_) +
                     ", which glasshouse watch does not read (Ethernet, raw IP, Linux cooked, "
                     "loopback)");
  }
  apply_filter(p, filter, false);
  return c;
}

Capture Capture::open_live(const LiveOptions& opt) {
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pc().pcap_create(opt.interface.c_str(), err);
  if (!p) throw RuntimeError("cannot capture on " + opt.interface + ": " + err);
  Capture c(p, true);
  int snaplen = opt.snaplen;
  if (opt.immediate) {
    // Immediate mode: libpcap uses TPACKET_V2, one slot of about snaplen bytes per frame (with
    // offloads on, it does not shrink the slot to the MTU itself): size the slots by the MTU
    // (+ Ethernet header, two VLAN tags, FCS), or 1,522 bytes if the MTU cannot be read.
    int mtu = interface_mtu(opt.interface);
    snaplen = std::min(snaplen, (mtu > 0 ? mtu : 1500) + 22);
  }
  pc().pcap_set_snaplen(p, snaplen);
  pc().pcap_set_promisc(p, opt.promiscuous ? 1 : 0);
  // Without `immediate`, libpcap uses TPACKET_V3, whose blocks pack frames by their real length;
  // the kernel hands over a block when it is full or after the timeout (rounded up to jiffies).
  // With it, TPACKET_V2: the kernel wakes the reader for every frame.
  pc().pcap_set_immediate_mode(p, opt.immediate ? 1 : 0);
  pc().pcap_set_timeout(p, opt.block_timeout_ms);
  pc().pcap_set_buffer_size(p, opt.buffer_bytes);
  int rc = pc().pcap_activate(p);
  if (rc < 0) {
    std::string why = rc == PCAP_ERROR_NO_SUCH_DEVICE ? "no such interface"
                      : rc == PCAP_ERROR_PERM_DENIED  ? "permission denied (run as root)"
                      : rc == PCAP_ERROR_IFACE_NOT_UP ? "interface is down"
                                                      : pc().pcap_geterr(p);
    throw RuntimeError("cannot capture on " + opt.interface + ": " + why);
  }
  c.link_ = pc().pcap_datalink(p);
  if (!link_type_supported(c.link_))
    throw RuntimeError("cannot capture on " + opt.interface + ": unsupported link type " +
                       std::to_string(c.link_));
  pc().pcap_setdirection(p, PCAP_D_INOUT);
  apply_filter(p, opt.filter, true);
  if (pc().pcap_setnonblock(p, 1, err) != 0)
    throw RuntimeError("cannot capture on " + opt.interface + ": " + err);
  return c;
}

int Capture::selectable_fd() const {
  return live_ ? pc().pcap_get_selectable_fd(p_) : -1;
}

Capture::Next Capture::next(const uint8_t*& data, size_t& len, int64_t& ts_us) {
  pcap_pkthdr* h = nullptr;
  const u_char* d = nullptr;
  int rc = pc().pcap_next_ex(p_, &h, &d);
  if (rc == 1) {
    ++records_;
    data = d;
    len = h->caplen;
    // A hostile capture can carry any timestamp: clamp it to 0 .. 2^40 s (35,000 years), so
    // that microseconds and the detector's windows added to them never overflow.
    constexpr int64_t kMaxSeconds = int64_t{1} << 40;
    int64_t sec = static_cast<int64_t>(h->ts.tv_sec);
    int64_t usec = static_cast<int64_t>(h->ts.tv_usec);
    sec = sec < 0 ? 0 : (sec > kMaxSeconds ? kMaxSeconds : sec);
    usec = usec < 0 ? 0 : (usec > 999999 ? 999999 : usec);
    ts_us = sec * 1000000 + usec;
    return Next::Packet;
  }
  if (rc == 0) return Next::None;
  if (rc == PCAP_ERROR_BREAK) return Next::End;
  throw RuntimeError(std::string("capture read failed: ") + pc().pcap_geterr(p_));
}

CaptureStats Capture::stats() const {
  CaptureStats s;
  if (!live_) {
    s.received = records_;
    return s;
  }
  pcap_stat ps{};
  if (pc().pcap_stats(p_, &ps) == 0) {
    s.received = ps.ps_recv;
    s.dropped = ps.ps_drop;
    s.if_dropped = ps.ps_ifdrop;
  }
  return s;
}

}  // namespace gh::detect
