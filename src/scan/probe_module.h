// The contract between the raw-packet engine and a probe type (zmap's probe_modules.h idea).
//
// Who does what
// -------------
// The engine is two parts (docs/ARCHITECTURE.md, "The raw engine"):
//   * the driver (scan/driver.h) owns the index space, the permutation, the answered bits, the
//     passes and retries, the rate, the probe gate and the checkpoints;
//   * the transport (scan/transport.h) owns the routes, the sockets, the receive ring, the
//     sendmmsg batches and the next-hop MACs.
// A probe module knows only its packets: how to write one probe, and how to recognise a reply to
// one without any per-probe state. One module per probe type: for ports `tcp_syn` (-sS), the TCP
// flag scans (scan/probe_tcp_flags.h) and `udp` (-sU); for hosts (discovery, scan/discovery.h)
// `arp` (-PR), `ndp` (IPv6 neighbor solicitation), `icmp_echo` (-PE, ICMP and ICMPv6),
// `icmp_timestamp` (-PP), `icmp_mask` (-PM), `tcp_syn_ping` (-PS), `tcp_ack_ping` (-PA) and
// `udp_ping` (-PU) (scan/probe_ping_*.h). Modules are listed in the registry
// (scan/probe_registry.h).
//
// Lifecycle and threads
// ---------------------
//   make(keys)          the registry's factory: one instance per scan, given the scan's secret
//                       keys (the cookie). Cheap; no socket, no route.
//   static facts        name(), protocol(), frame_kind(), silence(), receive(), max_frame():
//                       constant for the life of the instance; read from any thread.
//   prepare(path)       once per address family the scan probes, on the thread that called the
//                       driver, before any thread starts and before the first build(): make the
//                       templates for that path (our address, our MAC, the next hop's MAC,
//                       framing). Returns false when the module cannot probe through this path
//                       (an ARP module on a routed path or a non-Ethernet link; a family it does
//                       not speak): the caller then does not use it for that family (a note, not
//                       an error; the discovery stage falls back to routed probes).
//   build(out, probe, args)  per probe, on a send thread (several may call it at once: build
//                       is const and must not write shared state). Writes one whole frame to
//                       out[0, n) and returns n, or 0 to skip the probe (nothing is sent; it is
//                       not retried and gets no verdict). out.size() >= max_frame(). No
//                       allocation, no throw, no system call.
//   classify(frame, out) per received frame, on the receive thread, for every frame the
//                       transport's filter let through (see receive()); frames other modules
//                       own come by too. Returns true iff the frame answers a probe this module
//                       (this scan's keys) sent, and then fills `out`. Any bytes are valid
//                       input: never reads outside the frame, never throws, never allocates.
//   describe(frame)     --dry-run: one line for a built frame.
//
// Who fills which bytes of a frame
// --------------------------------
// build() writes every byte from offset 0, the link-layer header included:
//   * path.framing == Ethernet: a 14-byte Ethernet header (src = path.src_mac; dst: the route's
//     next hop path.dst_mac for IP frames (zeros on loopback), broadcast for ARP, the
//     solicited-node multicast MAC for NDP), then the packet;
//   * path.framing == RawIp: the IP header first (the IPv4 loopback path, sent through a raw IP
//     socket: io/raw_ip_socket.h).
// The transport then changes exactly one thing: for FrameKind::Ip frames on an Ethernet path
// whose targets are on-link, it overwrites bytes [0, 6) (the destination MAC) with the target's
// own MAC (learnt from its ARP/NDP reply in the discovery stage, or from the kernel's neighbour
// table). No checksum covers those bytes. It never touches Arp or Ndp frames.
// Host modules prepared on an on-link Ethernet path (discovery with --send-ip, where no target's
// MAC is known yet) address their IP frames to the Ethernet broadcast (IPv4) or the target's
// solicited-node multicast MAC (IPv6) instead: the target receives and accepts them, and its
// reply comes back unicast.
// The transport sends the frame as built, in batches; a frame it could not send is simply
// unanswered (the driver's retries resend it through build() again).
//
// Stateless validation
// --------------------
// Nothing is remembered per probe. A module puts a keyed cookie in fields the reply must echo
// (net/cookie.h, SipHash-2-4 under the scan's random keys): TCP source port and sequence number,
// ICMP echo id and sequence, a UDP source port. classify() recomputes it from the reply and
// accepts only a match. A reply that cannot carry a cookie (ARP, NDP) is accepted when it is a
// reply to our address from an address we probe (the driver then checks the address is in the
// scan, and the answered bit drops duplicates and unsolicited repeats). classify() also says
// which attempt a reply answers (ProbeVerdict::attempt) when the packets of different attempts
// differ (the TCP SYN module gives each attempt its own source port); otherwise 0, and a host
// module sets ProbeVerdict::attempt_unknown (ARP, NDP: the driver then takes the latest send).
//
// What silence means
// ------------------
// A probe that no attempt got a reply for ends as silence() says: a port `filtered`
// (Reason::NoResponse), a port `open|filtered` (UDP, the FIN/NULL/Xmas scans), or, for a host
// module, a host that this probe did not find up (the host is `down` when no discovery probe
// found it). The driver applies it; modules never produce "no reply" verdicts themselves.
//
// Stability: this header is what other developers build modules against. Add fields at the end
// of structs and new enum values; do not change the meaning of existing ones.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.h"
#include "core/types.h"
#include "io/bpf.h"
#include "io/route.h"
#include "net/packet.h"
#include "output/result.h"
#include "targets/probe_space.h"

namespace gh {
namespace auth {
class ProbeAnnouncer;
}

using SteadyTime = std::chrono::steady_clock::time_point;

// What a module's frames are; decides how the transport frames and addresses them.
enum class FrameKind : uint8_t {
  Ip,   // an IPv4/IPv6 packet to the target (routed or on-link): TCP, UDP, ICMP, ICMPv6
  Arp,  // an ARP request (EtherType 0x0806), broadcast: IPv4 on-link targets, Ethernet only
  Ndp,  // an IPv6 Neighbor Solicitation to the target's solicited-node multicast group: IPv6
        // on-link targets, Ethernet only (IP, but not addressed to the target)
};

// What a probe without any reply (after every attempt) means.
enum class Silence : uint8_t {
  PortFiltered,      // port `filtered`, reason no-response (TCP SYN, ACK)
  PortOpenFiltered,  // port `open|filtered`, reason no-response (UDP, FIN/NULL/Xmas)
  HostDown,          // a discovery probe: no evidence the host is up (down when no probe finds it)
};

// ReceiveSpec (io/bpf.h): what the receive filter must let through for a module (classic BPF
// built from receive_union() below: by the port engine's transport over its modules, by the
// discovery sweep over the modules each interface's paths were prepared with): TCP, UDP,
// ICMP/ICMPv6 to our addresses, optionally only TCP/UDP to a span of our ports (the source ports
// the module sends from), ARP replies to our IPv4 addresses. IP packets are only ever passed when
// addressed to one of our source addresses. A spec too narrow loses replies silently: it must
// pass every frame classify() can accept.

// The path probes of one family leave through, as the transport set it up (prepare()).
struct PathInfo {
  Family family = Family::V4;
  IpAddress source;                             // our address: the packets' source
  LinkFraming framing = LinkFraming::Ethernet;  // how build()'s frames begin (see above)
  MacAddress src_mac{};                         // Ethernet: our interface's MAC
  MacAddress dst_mac{};  // Ethernet: the route's next hop (gateway; zeros on loopback)
  bool on_link = false;  // the targets are on the link (no gateway): ARP/NDP can reach them
  bool loopback = false;
  int ifindex = 0;
  int mtu = 0;  // the largest IP packet the path carries
  // -S (scan/source_pool.h): this family's pool of our addresses, each checked to be assigned to
  // the path's interface; port modules send each probe from the one source_slot() picks (through
  // PathTemplates::emplace_pool). Empty: every probe from `source`. Host (discovery) modules
  // ignore it and keep `source`.
  std::vector<IpAddress> sources;
};

// Per-probe arguments of build(), chosen by the driver.
struct BuildArgs {
  uint16_t ip_id = 0;   // a random IPv4 identification (modules may ignore it)
  uint8_t attempt = 0;  // 0: the first send; k: the k-th retry (below net::Cookie::kMaxAttempts)
};

// One received frame, as classify() sees it.
struct RxFrame {
  std::span<const uint8_t> bytes;               // from the link-layer header on
  LinkFraming framing = LinkFraming::Ethernet;  // of the receiving interface
  const net::ParsedPacket* ip = nullptr;        // the parsed IP packet; null if not IP (ARP)
  SteadyTime at;                                // when the receive thread read it
  // When the kernel received it (on the steady clock), where the transport knows it: RTTs to it
  // leave out our own receive latency. Zero: unknown (use `at`).
  SteadyTime arrived{};
};

// HostState (Down, Up) is in core/types.h: the result model's HostResult uses it too.

// A reply turned into a verdict for one probe. Port modules fill a port verdict; host
// (discovery) modules a host verdict; the driver reads `host` to tell them apart.
struct ProbeVerdict {
  Probe probe;  // which probe it answers (addr, proto, port: exactly as build() got it)
  PortState state = PortState::Filtered;  // port verdicts
  Reason reason = Reason::NoResponse;     // why (port or host reasons: core/types.h)
  uint8_t ttl = 0;
  uint8_t attempt = 0;  // which try it answers (0: the first send, k: the k-th retry)
  bool host = false;    // true: a host verdict (below); false: a port verdict (state)
  HostState host_state = HostState::Down;
  bool has_mac = false;  // the replier's link-layer address is in `mac` (ARP/NDP replies; any
                         // Ethernet reply from an on-link target may fill it too)
  MacAddress mac{};
  // Round-trip time when the module can tell it from the reply (a timestamp it echoes); zero
  // when unknown: the driver then fills in what it measured, if anything.
  std::chrono::nanoseconds latency{0};
  // A SYN-ACK's window, TTL and options (port modules that see SYN-ACKs: the -O hint's evidence,
  // scan/os_hint.h); empty otherwise.
  std::optional<SynAckFacts> syn_ack;
  // The reply does not say which attempt it answers (ARP and NDP replies): `attempt` is 0 and
  // means nothing. The discovery sweep then times it from the latest pass that probed the host.
  bool attempt_unknown = false;
};

// The scan's secret keys (random per scan; shared by the send and receive sides).
struct ModuleKeys {
  uint64_t k0 = 0;
  uint64_t k1 = 0;
};

class ProbeModule {
 public:
  virtual ~ProbeModule() = default;
  // Static facts (constant per instance).
  virtual std::string_view name() const = 0;  // the registry's name: "tcp_syn", "arp", ...
  // The Probe::proto of the probes it is given. A port module probes the ports of this protocol
  // in the scan's port list. A host module gets Probe{addr, protocol(), port}, with port from
  // its -PS/-PA/-PU list; modules without ports (ICMP, ARP, NDP) say Protocol::Tcp and get 0.
  virtual Protocol protocol() const = 0;
  virtual FrameKind frame_kind() const = 0;
  virtual Silence silence() const = 0;
  virtual ReceiveSpec receive() const = 0;
  virtual size_t max_frame() const = 0;  // the longest frame build() writes, link header included
  bool host_module() const { return silence() == Silence::HostDown; }

  // See the file comment for when and on which thread each is called.
  virtual bool prepare(const PathInfo& path) = 0;
  virtual size_t build(std::span<uint8_t> out, const Probe& probe, const BuildArgs& args) const = 0;
  virtual bool classify(const RxFrame& frame, ProbeVerdict& out) const = 0;
  // --announce (auth/announce.h, docs/AUTHORIZATION.md): called before prepare() with the
  // scan's announcer (outliving the module), or null. A module that can carry the tag puts it in
  // every probe it builds; the default carries none (the CLI refuses --announce for scan types
  // whose module cannot: only -sS so far).
  virtual void set_announcer(const auth::ProbeAnnouncer* /*announcer*/) {}
  // --scanflags (nmap's): the TCP flags of every probe, set before prepare(). Modules that send
  // TCP with settable flags (scan/probe_tcp_flags.h) honour it; the default ignores it (the CLI
  // pairs --scanflags only with scan types whose module honours it).
  virtual void set_tcp_flags(uint8_t /*flags*/) {}
  // -O/-A: offer the TCP options a stack answers in its own order (SACK, timestamps, window
  // scale besides MSS), so that the SYN-ACK carries the OS hint's evidence (scan/os_hint.h). Set
  // before prepare(); modules that send no SYN ignore it.
  virtual void set_offer_options(bool /*offer*/) {}
  // --dry-run: one line for a frame build() wrote. The default parses it as an IP packet
  // (net/describe.h); modules whose frames are not IP (ARP) override it.
  virtual std::string describe(std::span<const uint8_t> frame, LinkFraming framing) const;
  // True when the answers that tell a port closed are ICMP errors, which targets rate-limit per
  // destination (UDP): the driver then paces its retries to each live host at the rate the
  // host answers (scan/host_pacer.h) instead of retrying everything in passes.
  virtual bool icmp_paced() const { return false; }
  // -S: which address of its family's pool the probe leaves from (0 without a pool, and for
  // modules that ignore the pool). Stable per (addr, port): every attempt uses the same. The
  // driver paces each (host, source address) pair of icmp_paced() modules on its own, since the
  // target keeps one ICMP limiter per address it answers to. Any thread, after prepare().
  virtual size_t source_slot(const Probe& /*probe*/) const { return 0; }
};

// The union of the modules' receive() (ReceiveSpec::operator|=): what one receive filter must
// pass for all of them. `modules`: any range of (const) ProbeModule pointers.
template <class Modules>
ReceiveSpec receive_union(const Modules& modules) {
  ReceiveSpec want;
  for (const ProbeModule* m : modules) want |= m->receive();
  return want;
}

}  // namespace gh
