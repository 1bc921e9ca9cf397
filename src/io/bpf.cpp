#include "io/bpf.h"

#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <netinet/in.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "core/error.h"

namespace gh {

namespace {

// A tiny assembler: instructions may name labels as jump targets; finish() turns them into the
// relative offsets classic BPF wants and refuses any that do not fit.
class Assembler {
 public:
  static constexpr int kNext = -1;  // fall through to the next instruction

  int label() {
    positions_.push_back(-1);
    return static_cast<int>(positions_.size()) - 1;
  }
  void bind(int label) { positions_[label] = static_cast<int>(code_.size()); }

  void stmt(uint16_t code, uint32_t k) { code_.push_back({{code, 0, 0, k}, kNext, kNext}); }
  void jeq(uint32_t k, int jt, int jf) { jump(BPF_JEQ, k, jt, jf); }
  void jump(uint16_t op, uint32_t k, int jt, int jf) {
    code_.push_back({{static_cast<uint16_t>(BPF_JMP | op | BPF_K), 0, 0, k}, jt, jf});
  }

  std::vector<sock_filter> finish() const {
    std::vector<sock_filter> out;
    out.reserve(code_.size());
    for (size_t i = 0; i < code_.size(); ++i) {
      sock_filter f = code_[i].insn;
      f.jt = offset(i, code_[i].jt);
      f.jf = offset(i, code_[i].jf);
      out.push_back(f);
    }
    if (out.size() > BPF_MAXINSNS) throw std::invalid_argument("BPF program too long");
    return out;
  }

 private:
  struct Insn {
    sock_filter insn;
    int jt, jf;
  };

  uint8_t offset(size_t from, int label) const {
    if (label == kNext) return 0;
    long d = static_cast<long>(positions_.at(label)) - static_cast<long>(from) - 1;
    if (positions_.at(label) < 0 || d < 0 || d > 255)
      throw std::invalid_argument("BPF filter: too many addresses for classic BPF jumps");
    return static_cast<uint8_t>(d);
  }

  std::vector<Insn> code_;
  std::vector<int> positions_;
};

constexpr uint32_t kAcceptBytes = 256 * 1024;

// One IP protocol a section passes, and the destination ports it keeps (TCP, UDP).
struct ProtoRule {
  uint8_t proto = 0;
  PortSpan ports{};
};

std::vector<ProtoRule> proto_rules(const ReceiveSpec& spec, bool v6) {
  std::vector<ProtoRule> out;
  if (spec.tcp) out.push_back({IPPROTO_TCP, spec.tcp_ports});
  if (spec.udp) out.push_back({IPPROTO_UDP, spec.udp_ports});
  if (spec.icmp)
    out.push_back({static_cast<uint8_t>(v6 ? int{IPPROTO_ICMPV6} : int{IPPROTO_ICMP}), {}});
  return out;
}

// Appends: "if the dst address (at ip + the family's offset) is one of `addrs` and the protocol
// is one of `rules` (with its destination port in the rule's span), accept, else reject". Ends
// in its own returns. `ip`: where the IP header starts.
void address_section(Assembler& a, const std::vector<IpAddress>& addrs, uint32_t ip, bool v6,
                     const std::vector<ProtoRule>& rules) {
  constexpr uint32_t kV4Proto = 9, kV4Frag = 6, kV4Dst = 16, kV6Next = 6, kV6Dst = 24;
  constexpr uint32_t kDstPort = 2;  // in the TCP and UDP headers
  const uint32_t dst_off = ip + (v6 ? kV6Dst : kV4Dst);
  int check_proto = a.label();
  for (const auto& addr : addrs) {
    auto b = addr.bytes();
    int words = addr.is_v4() ? 1 : 4;
    int next_addr = a.label();
    for (int w = 0; w < words; ++w) {
      uint32_t k = static_cast<uint32_t>(b[4 * w]) << 24 |
                   static_cast<uint32_t>(b[4 * w + 1]) << 16 |
                   static_cast<uint32_t>(b[4 * w + 2]) << 8 | b[4 * w + 3];
      a.stmt(BPF_LD | BPF_W | BPF_ABS, dst_off + 4 * w);
      a.jeq(k, w == words - 1 ? check_proto : Assembler::kNext, next_addr);
    }
    a.bind(next_addr);
  }
  a.stmt(BPF_RET | BPF_K, 0);

  a.bind(check_proto);
  int accept = a.label(), reject = a.label();
  std::vector<int> port_checks(rules.size(), -1);
  a.stmt(BPF_LD | BPF_B | BPF_ABS, ip + (v6 ? kV6Next : kV4Proto));
  for (size_t i = 0; i < rules.size(); ++i) {
    bool last = i + 1 == rules.size();
    if (!rules[i].ports.all()) port_checks[i] = a.label();
    a.jeq(rules[i].proto, port_checks[i] >= 0 ? port_checks[i] : accept,
          last ? reject : Assembler::kNext);
  }
  for (size_t i = 0; i < rules.size(); ++i) {
    if (port_checks[i] < 0) continue;
    a.bind(port_checks[i]);
    if (v6) {
      // The fixed header only (extension headers were refused above: next header is TCP/UDP).
      a.stmt(BPF_LD | BPF_H | BPF_ABS, ip + 40 + kDstPort);
    } else {
      // A later fragment has no port to check; X = the IPv4 header's length.
      a.stmt(BPF_LD | BPF_H | BPF_ABS, ip + kV4Frag);
      a.jump(BPF_JSET, 0x1fff, reject, Assembler::kNext);
      a.stmt(BPF_LDX | BPF_B | BPF_MSH, ip);
      a.stmt(BPF_LD | BPF_H | BPF_IND, ip + kDstPort);
    }
    a.jump(BPF_JGE, rules[i].ports.first, Assembler::kNext, reject);
    a.jump(BPF_JGT, rules[i].ports.last, reject, accept);
  }
  a.bind(accept);
  a.stmt(BPF_RET | BPF_K, kAcceptBytes);
  a.bind(reject);
  a.stmt(BPF_RET | BPF_K, 0);
}

PortSpan join(bool a, const PortSpan& pa, bool b, const PortSpan& pb) {
  if (!a) return pb;
  if (!b) return pa;
  return {std::min(pa.first, pb.first), std::max(pa.last, pb.last)};
}

}  // namespace

LinkFraming framing_for(uint16_t arp_type) {
  switch (arp_type) {
    case ARPHRD_ETHER:
    case ARPHRD_LOOPBACK:
      return LinkFraming::Ethernet;
    case ARPHRD_NONE:
      return LinkFraming::RawIp;
    default:
      throw RuntimeError("unsupported link type (ARPHRD " + std::to_string(arp_type) + ")");
  }
}

std::vector<sock_filter> destination_filter(LinkFraming framing,
                                            std::span<const IpAddress> destinations) {
  return receive_filter(framing, destinations, ReceiveSpec{.tcp = true, .icmp = true});
}

ReceiveSpec& ReceiveSpec::operator|=(const ReceiveSpec& o) {
  tcp_ports = join(tcp, tcp_ports, o.tcp, o.tcp_ports);
  udp_ports = join(udp, udp_ports, o.udp, o.udp_ports);
  tcp |= o.tcp;
  udp |= o.udp;
  icmp |= o.icmp;
  arp |= o.arp;
  return *this;
}

std::vector<sock_filter> receive_filter(LinkFraming framing,
                                        std::span<const IpAddress> destinations,
                                        const ReceiveSpec& spec) {
  return receive_filter(framing, destinations, spec, spec);
}

std::vector<sock_filter> receive_filter(LinkFraming framing,
                                        std::span<const IpAddress> destinations,
                                        const ReceiveSpec& spec4, const ReceiveSpec& spec6) {
  std::vector<IpAddress> v4, v6;
  for (const auto& d : destinations) (d.is_v4() ? v4 : v6).push_back(d);
  if (v4.empty() && v6.empty()) throw std::invalid_argument("BPF filter: no destination address");
  const bool ip4 = !v4.empty() && spec4.any_ip(), ip6 = !v6.empty() && spec6.any_ip();
  const bool arp = spec4.arp && framing == LinkFraming::Ethernet && !v4.empty();
  if (!ip4 && !ip6 && !arp) throw std::invalid_argument("BPF filter: nothing to receive");

  // Where the IP header starts.
  const uint32_t ip = framing == LinkFraming::Ethernet ? ETH_HLEN : 0;
  // ARP over Ethernet: the opcode and the target protocol address.
  constexpr uint32_t kArpOp = ETH_HLEN + 6, kArpTpa = ETH_HLEN + 24;

  Assembler a;
  int l4 = a.label(), l6 = a.label(), la = a.label();
  if (framing == LinkFraming::Ethernet) {
    a.stmt(BPF_LD | BPF_H | BPF_ABS, 12);  // EtherType
    if (ip4) a.jeq(ETH_P_IP, l4, Assembler::kNext);
    if (ip6) a.jeq(ETH_P_IPV6, l6, Assembler::kNext);
    if (arp) a.jeq(ETH_P_ARP, la, Assembler::kNext);
  } else {
    a.stmt(BPF_LD | BPF_B | BPF_ABS, 0);  // version nibble
    a.stmt(BPF_ALU | BPF_AND | BPF_K, 0xf0);
    if (ip4) a.jeq(0x40, l4, Assembler::kNext);
    if (ip6) a.jeq(0x60, l6, Assembler::kNext);
  }
  a.stmt(BPF_RET | BPF_K, 0);
  if (ip4) {
    a.bind(l4);
    address_section(a, v4, ip, false, proto_rules(spec4, false));
  }
  if (ip6) {
    a.bind(l6);
    address_section(a, v6, ip, true, proto_rules(spec6, true));
  }
  if (arp) {
    // A reply (opcode 2) whose target protocol address is ours.
    a.bind(la);
    int check_addr = a.label(), reject = a.label(), accept = a.label();
    a.stmt(BPF_LD | BPF_H | BPF_ABS, kArpOp);
    a.jeq(2, check_addr, reject);
    a.bind(check_addr);
    a.stmt(BPF_LD | BPF_W | BPF_ABS, kArpTpa);
    for (size_t i = 0; i < v4.size(); ++i) {
      auto b = v4[i].bytes();
      uint32_t k = static_cast<uint32_t>(b[0]) << 24 | static_cast<uint32_t>(b[1]) << 16 |
                   static_cast<uint32_t>(b[2]) << 8 | b[3];
      a.jeq(k, accept, i + 1 == v4.size() ? reject : Assembler::kNext);
    }
    a.bind(accept);
    a.stmt(BPF_RET | BPF_K, kAcceptBytes);
    a.bind(reject);
    a.stmt(BPF_RET | BPF_K, 0);
  }
  return a.finish();
}

}  // namespace gh
