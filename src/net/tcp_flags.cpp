#include "net/tcp_flags.h"

#include <cctype>
#include <charconv>

#include "net/headers.h"

namespace gh::net {
namespace {

struct FlagName {
  std::string_view name;
  int value;  // -1: NONE (clears everything)
};

// Longer names first, so that "RESET" is not read as "RES..." nor "PUSH" as "PUS...".
constexpr FlagName kNames[] = {
    {"RESET", tcpflag::kRst},
    {"PUSH", tcpflag::kPsh},
    {"NONE", -1},
    {"ALL", 0xFF},
    {"URG", tcpflag::kUrg},
    {"ACK", tcpflag::kAck},
    {"PSH", tcpflag::kPsh},
    {"RST", tcpflag::kRst},
    {"SYN", tcpflag::kSyn},
    {"FIN", tcpflag::kFin},
    {"ECE", tcpflag::kEce},
    {"CWR", tcpflag::kCwr},
};

bool starts_with_ci(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  return true;
}

bool is_separator(char c) {
  return c == ',' || c == '|' || c == '+' || c == ' ';
}

}  // namespace

std::optional<uint8_t> parse_tcp_flags(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (std::isdigit(static_cast<unsigned char>(text[0]))) {
    unsigned value = 0;
    int base = 10;
    std::string_view digits = text;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
      base = 16;
      digits.remove_prefix(2);
    }
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
    if (ec != std::errc() || end != digits.data() + digits.size() || value > 255)
      return std::nullopt;
    return static_cast<uint8_t>(value);
  }
  unsigned flags = 0;
  bool any = false;
  while (!text.empty()) {
    if (is_separator(text.front())) {
      text.remove_prefix(1);
      continue;
    }
    const FlagName* hit = nullptr;
    for (const auto& n : kNames)
      if (starts_with_ci(text, n.name)) {
        hit = &n;
        break;
      }
    if (hit == nullptr) return std::nullopt;
    flags = hit->value < 0 ? 0 : flags | static_cast<unsigned>(hit->value);
    any = true;
    text.remove_prefix(hit->name.size());
  }
  if (!any) return std::nullopt;
  return static_cast<uint8_t>(flags);
}

std::string tcp_flags_text(uint8_t flags) {
  static constexpr std::pair<uint8_t, std::string_view> kOrder[] = {
      {tcpflag::kCwr, "CWR"}, {tcpflag::kEce, "ECE"}, {tcpflag::kUrg, "URG"},
      {tcpflag::kAck, "ACK"}, {tcpflag::kPsh, "PSH"}, {tcpflag::kRst, "RST"},
      {tcpflag::kSyn, "SYN"}, {tcpflag::kFin, "FIN"},
  };
  std::string out;
  for (const auto& [bit, name] : kOrder)
    if (flags & bit) {
      if (!out.empty()) out += ',';
      out += name;
    }
  return out.empty() ? "none" : out;
}

bool validate_tcp_flag_reply(const Cookie& cookie, const ParsedPacket& reply,
                             const IpAddress& our_addr, uint16_t base, uint16_t range,
                             uint8_t probe_flags, FlagReply& out) {
  if (reply.dst != our_addr) return false;
  if (reply.is_tcp()) {
    const auto& t = reply.tcp;
    auto attempt = cookie.attempt_of(reply.src, t.sport, t.dport, base, range);
    if (!attempt) return false;
    const uint32_t seq = cookie.tcp_seq(our_addr, reply.src, t.dport, t.sport);
    ReplyKind kind;
    if (t.flags & tcpflag::kRst) {
      if (probe_flags & tcpflag::kAck) {
        if (t.seq != seq) return false;
      } else {
        const uint32_t len =
            ((probe_flags & tcpflag::kSyn) ? 1u : 0u) + ((probe_flags & tcpflag::kFin) ? 1u : 0u);
        if (!(t.flags & tcpflag::kAck) || t.ack != seq + len) return false;
      }
      kind = ReplyKind::Reset;
    } else if ((t.flags & (tcpflag::kSyn | tcpflag::kAck)) == (tcpflag::kSyn | tcpflag::kAck)) {
      if (!(probe_flags & tcpflag::kSyn) || (probe_flags & tcpflag::kAck) || t.ack != seq + 1u)
        return false;
      kind = ReplyKind::SynAck;
    } else {
      return false;
    }
    out.match = ProbeReply{kind, reply.src, t.sport, t.dport, *attempt, reply.src, 0, 0};
    out.window = t.window;
    out.tcp_flags = t.flags;
    return true;
  }
  // An ICMP error quotes our header: the source port and seq checks of a SYN apply as they are.
  if (!reply.is_icmp_error()) return false;
  if (!cookie.validate_tcp_reply(reply, our_addr, base, range, out.match)) return false;
  out.window = 0;
  out.tcp_flags = 0;
  return true;
}

}  // namespace gh::net
