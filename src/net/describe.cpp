#include "net/describe.h"

#include <fmt/format.h>

#include <iterator>

#include "net/headers.h"

namespace gh::net {
namespace {

using Out = std::back_insert_iterator<std::string>;

void endpoint(Out out, const IpAddress& a, uint16_t port) {
  if (a.is_v6())
    fmt::format_to(out, "[{}]:{}", a.to_string(), port);
  else
    fmt::format_to(out, "{}:{}", a.to_string(), port);
}

std::string_view ip_proto_name(uint8_t proto) {
  switch (proto) {
    case ipproto::kTcp:
      return "TCP";
    case ipproto::kUdp:
      return "UDP";
    case ipproto::kIcmp:
      return "ICMP";
    case ipproto::kIcmpv6:
      return "ICMP6";
    default:
      return {};
  }
}

std::string_view unreach_v4(uint8_t code) {
  static constexpr std::string_view kNames[] = {"net",
                                                "host",
                                                "protocol",
                                                "port",
                                                "frag-needed",
                                                "srcroute",
                                                "net-unknown",
                                                "host-unknown",
                                                "isolated",
                                                "net-prohibited",
                                                "host-prohibited",
                                                "net-tos",
                                                "host-tos",
                                                "admin-prohibited",
                                                "precedence",
                                                "precedence-cutoff"};
  return code < std::size(kNames) ? kNames[code] : std::string_view{};
}

std::string_view unreach_v6(uint8_t code) {
  static constexpr std::string_view kNames[] = {
      "no-route", "admin-prohibited", "beyond-scope", "address", "port", "policy", "reject-route"};
  return code < std::size(kNames) ? kNames[code] : std::string_view{};
}

void tcp_options(Out out, const ParsedPacket::TcpOptions& o) {
  if (o.has_mss) fmt::format_to(out, " mss={}", o.mss);
  if (o.has_wscale) fmt::format_to(out, " ws={}", o.wscale);
  if (o.sack_permitted) fmt::format_to(out, " sackOK");
  if (o.has_sack) fmt::format_to(out, " sack");
  if (o.has_timestamp) fmt::format_to(out, " ts={}/{}", o.ts_val, o.ts_ecr);
  if (o.malformed) fmt::format_to(out, " bad-options");
}

}  // namespace

std::string tcp_flags_string(uint8_t flags) {
  static constexpr struct {
    uint8_t bit;
    char letter;
  } kLetters[] = {{tcpflag::kFin, 'F'}, {tcpflag::kSyn, 'S'}, {tcpflag::kRst, 'R'},
                  {tcpflag::kPsh, 'P'}, {tcpflag::kAck, '.'}, {tcpflag::kUrg, 'U'},
                  {tcpflag::kEce, 'E'}, {tcpflag::kCwr, 'W'}};
  std::string s;
  for (const auto& l : kLetters)
    if (flags & l.bit) s += l.letter;
  return s.empty() ? "none" : s;
}

std::string icmp_description(uint8_t ip_version, uint8_t type, uint8_t code) {
  std::string_view name, detail;
  if (ip_version == 4) {
    switch (type) {
      case icmp::kEchoReply:
        name = "echo-reply";
        break;
      case icmp::kEchoRequest:
        name = "echo-request";
        break;
      case icmp::kDestUnreach:
        name = "unreachable";
        detail = unreach_v4(code);
        break;
      case icmp::kSourceQuench:
        name = "source-quench";
        break;
      case icmp::kRedirect:
        name = "redirect";
        break;
      case icmp::kTimeExceeded:
        name = "time-exceeded";
        detail = code == icmp::kTtlExceeded ? "ttl" : code == 1 ? "reassembly" : "";
        break;
      case icmp::kParamProblem:
        name = "param-problem";
        break;
      case icmp::kTimestamp:
        name = "timestamp-request";
        break;
      case icmp::kTimestampReply:
        name = "timestamp-reply";
        break;
      default:
        break;
    }
  } else {
    switch (type) {
      case icmp6::kDestUnreach:
        name = "unreachable";
        detail = unreach_v6(code);
        break;
      case icmp6::kPacketTooBig:
        name = "packet-too-big";
        break;
      case icmp6::kTimeExceeded:
        name = "time-exceeded";
        detail = code == icmp6::kHopLimitExceeded ? "hop-limit" : code == 1 ? "reassembly" : "";
        break;
      case icmp6::kParamProblem:
        name = "param-problem";
        break;
      case icmp6::kEchoRequest:
        name = "echo-request";
        break;
      case icmp6::kEchoReply:
        name = "echo-reply";
        break;
      case icmp6::kRouterSolicit:
        name = "router-solicitation";
        break;
      case icmp6::kRouterAdvert:
        name = "router-advertisement";
        break;
      case icmp6::kNeighborSolicit:
        name = "neighbor-solicitation";
        break;
      case icmp6::kNeighborAdvert:
        name = "neighbor-advertisement";
        break;
      case icmp6::kRedirect:
        name = "redirect";
        break;
      default:
        break;
    }
  }
  if (name.empty()) return fmt::format("type={} code={}", type, code);
  if (detail.empty()) return std::string(name);
  return fmt::format("{} {}", name, detail);
}

std::string describe_packet(const ParsedPacket& p) {
  std::string s;
  auto out = std::back_inserter(s);
  if (p.is_tcp() || p.is_udp()) {
    const bool tcp = p.is_tcp();
    endpoint(out, p.src, tcp ? p.tcp.sport : p.udp.sport);
    s += " > ";
    endpoint(out, p.dst, tcp ? p.tcp.dport : p.udp.dport);
    if (tcp) {
      const auto& t = p.tcp;
      fmt::format_to(out, " TCP [{}] seq={}", tcp_flags_string(t.flags), t.seq);
      if (t.flags & tcpflag::kAck) fmt::format_to(out, " ack={}", t.ack);
      fmt::format_to(out, " win={}", t.window);
      tcp_options(out, t.options);
      if (p.payload_len) fmt::format_to(out, " len={}", p.payload_len);
    } else {
      fmt::format_to(out, " UDP len={}", p.payload_len);
    }
  } else {
    fmt::format_to(out, "{} > {}", p.src.to_string(), p.dst.to_string());
    if (p.is_icmp()) {
      fmt::format_to(out, " {} {}", p.ip_version == 4 ? "ICMP" : "ICMP6",
                     icmp_description(p.ip_version, p.icmp.type, p.icmp.code));
      const auto& q = p.quoted;
      if (q.valid) {
        s += " [";
        const auto proto = ip_proto_name(q.protocol);
        const bool ports = q.has_l4 && (q.protocol == ipproto::kTcp || q.protocol == ipproto::kUdp);
        if (ports) {
          endpoint(out, q.src, q.sport);
          s += " > ";
          endpoint(out, q.dst, q.dport);
        } else {
          fmt::format_to(out, "{} > {}", q.src.to_string(), q.dst.to_string());
        }
        if (proto.empty())
          fmt::format_to(out, " proto={}", q.protocol);
        else
          fmt::format_to(out, " {}", proto);
        if (q.has_l4 && q.protocol == ipproto::kTcp) fmt::format_to(out, " seq={}", q.seq);
        s += "]";
      } else if (p.icmp.type == icmp::kEchoRequest || p.icmp.type == icmp::kEchoReply ||
                 p.icmp.type == icmp6::kEchoRequest || p.icmp.type == icmp6::kEchoReply) {
        fmt::format_to(out, " id={} seq={}", p.icmp.id(), p.icmp.seq());
      }
    } else {
      fmt::format_to(out, " IPv{} proto={}", p.ip_version, p.l4_protocol);
      if (p.is_fragment) {
        fmt::format_to(out, " frag id={} off={}", p.ip_version == 4 ? p.ip_id : p.frag_id,
                       p.frag_offset);
        if (p.more_fragments) s += " MF";
      }
    }
  }
  fmt::format_to(out, " ttl={}", p.ttl);
  return s;
}

}  // namespace gh::net
