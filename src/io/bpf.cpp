#include "io/bpf.h"

#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <netinet/in.h>

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
  void jeq(uint32_t k, int jt, int jf) {
    code_.push_back({{BPF_JMP | BPF_JEQ | BPF_K, 0, 0, k}, jt, jf});
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

// Appends: "if the dst address (at `dst_off`) is one of `addrs` and the protocol byte (at
// `proto_off`) is one of `protos`, accept, else reject". Ends in its own returns.
void address_section(Assembler& a, const std::vector<IpAddress>& addrs, uint32_t dst_off,
                     uint32_t proto_off, const std::vector<uint8_t>& protos) {
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
  a.stmt(BPF_LD | BPF_B | BPF_ABS, proto_off);
  size_t i = 0;
  for (uint8_t p : protos) {
    bool last = ++i == protos.size();
    a.jeq(p, accept, last ? reject : Assembler::kNext);
  }
  a.bind(accept);
  a.stmt(BPF_RET | BPF_K, kAcceptBytes);
  a.bind(reject);
  a.stmt(BPF_RET | BPF_K, 0);
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

std::vector<sock_filter> receive_filter(LinkFraming framing,
                                        std::span<const IpAddress> destinations,
                                        const ReceiveSpec& spec) {
  std::vector<IpAddress> v4, v6;
  for (const auto& d : destinations) (d.is_v4() ? v4 : v6).push_back(d);
  if (v4.empty() && v6.empty()) throw std::invalid_argument("BPF filter: no destination address");
  if (!spec.tcp && !spec.udp && !spec.icmp)
    throw std::invalid_argument("BPF filter: no IP protocol to receive");
  std::vector<uint8_t> p4, p6;
  if (spec.tcp) p4.push_back(IPPROTO_TCP), p6.push_back(IPPROTO_TCP);
  if (spec.udp) p4.push_back(IPPROTO_UDP), p6.push_back(IPPROTO_UDP);
  if (spec.icmp) p4.push_back(IPPROTO_ICMP), p6.push_back(IPPROTO_ICMPV6);
  const bool arp = spec.arp && framing == LinkFraming::Ethernet && !v4.empty();

  // Offsets of the IP header and of the fields we read within it.
  const uint32_t ip = framing == LinkFraming::Ethernet ? ETH_HLEN : 0;
  constexpr uint32_t kV4Proto = 9, kV4Dst = 16, kV6Next = 6, kV6Dst = 24;
  // ARP over Ethernet: the opcode and the target protocol address.
  constexpr uint32_t kArpOp = ETH_HLEN + 6, kArpTpa = ETH_HLEN + 24;

  Assembler a;
  int l4 = a.label(), l6 = a.label(), la = a.label();
  if (framing == LinkFraming::Ethernet) {
    a.stmt(BPF_LD | BPF_H | BPF_ABS, 12);  // EtherType
    if (!v4.empty()) a.jeq(ETH_P_IP, l4, Assembler::kNext);
    if (!v6.empty()) a.jeq(ETH_P_IPV6, l6, Assembler::kNext);
    if (arp) a.jeq(ETH_P_ARP, la, Assembler::kNext);
  } else {
    a.stmt(BPF_LD | BPF_B | BPF_ABS, 0);  // version nibble
    a.stmt(BPF_ALU | BPF_AND | BPF_K, 0xf0);
    if (!v4.empty()) a.jeq(0x40, l4, Assembler::kNext);
    if (!v6.empty()) a.jeq(0x60, l6, Assembler::kNext);
  }
  a.stmt(BPF_RET | BPF_K, 0);
  if (!v4.empty()) {
    a.bind(l4);
    address_section(a, v4, ip + kV4Dst, ip + kV4Proto, p4);
  }
  if (!v6.empty()) {
    a.bind(l6);
    address_section(a, v6, ip + kV6Dst, ip + kV6Next, p6);
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
