#include "scan/os_hint.h"

#include <fmt/format.h>

#include "net/headers.h"

namespace gh {

SynAckFacts syn_ack_facts(const net::ParsedPacket& p, uint16_t port) {
  SynAckFacts f;
  f.ttl = p.ttl;
  f.window = p.tcp.window;
  f.port = port;
  const auto& o = p.tcp.options;
  if (o.has_mss) f.mss = o.mss;
  if (o.has_wscale) f.wscale = static_cast<int8_t>(o.wscale);
  // Walk the raw bytes for the order (the parser already bounded them to the header).
  for (size_t i = 0; i < o.len && f.option_count < f.options.size();) {
    const uint8_t kind = o.raw[i];
    f.options[f.option_count++] = kind;
    if (kind == net::tcpopt::kEol) break;
    if (kind == net::tcpopt::kNop) {
      ++i;
      continue;
    }
    if (i + 1 >= o.len || o.raw[i + 1] < 2) break;  // malformed: stop, keep what came before
    i += o.raw[i + 1];
  }
  return f;
}

uint8_t initial_ttl_guess(uint8_t ttl) {
  for (uint8_t guess : {uint8_t{32}, uint8_t{64}, uint8_t{128}})
    if (ttl <= guess) return guess;
  return 255;
}

std::string tcp_option_order(const SynAckFacts& f) {
  std::string out;
  for (size_t i = 0; i < f.option_count; ++i) {
    if (!out.empty()) out += ',';
    switch (f.options[i]) {
      case net::tcpopt::kEol:
        out += "EOL";
        break;
      case net::tcpopt::kNop:
        out += "NOP";
        break;
      case net::tcpopt::kMss:
        out += "MSS";
        break;
      case net::tcpopt::kWScale:
        out += "WS";
        break;
      case net::tcpopt::kSackPermitted:
        out += "SACK";
        break;
      case net::tcpopt::kTimestamp:
        out += "TS";
        break;
      default:
        out += fmt::format("OPT{}", f.options[i]);
    }
  }
  return out.empty() ? "none" : out;
}

namespace {

struct Row {
  uint8_t initial_ttl;  // 0: any
  const char* options;  // nullptr: any
  const char* name;
};

// Our own table (see the header); first match wins.
constexpr Row kTable[] = {
    {64, "MSS,SACK,TS,NOP,WS", "Linux 2.6+"},
    {64, "MSS,NOP,NOP,SACK,NOP,WS", "Linux 2.6+"},
    {64, "MSS,NOP,WS,NOP,NOP,TS,SACK,EOL", "macOS or BSD"},
    {64, "MSS,NOP,WS,NOP,NOP,TS,SACK", "macOS or BSD"},
    {64, "MSS,NOP,WS,SACK,TS", "FreeBSD"},
    {128, "MSS,NOP,WS,NOP,NOP,SACK", "Windows"},
    {128, "MSS,NOP,WS,SACK,TS", "Windows"},
    {128, "MSS,NOP,WS,NOP,NOP,TS,NOP,NOP,SACK", "Windows"},
    {255, nullptr, "network device or Solaris (initial TTL 255)"},
};

}  // namespace

OsHint make_os_hint(const SynAckFacts& f) {
  OsHint h;
  h.facts = f;
  const uint8_t ittl = initial_ttl_guess(f.ttl);
  const std::string order = tcp_option_order(f);
  h.name = "unknown";
  for (const Row& r : kTable)
    if ((r.initial_ttl == 0 || r.initial_ttl == ittl) &&
        (r.options == nullptr || order == r.options)) {
      h.name = r.name;
      break;
    }
  h.evidence = fmt::format("initial TTL {}, window {}, options {}", ittl, f.window, order);
  if (f.mss != 0) h.evidence += fmt::format(", MSS {}", f.mss);
  if (f.wscale >= 0) h.evidence += fmt::format(", wscale {}", f.wscale);
  return h;
}
}  // namespace gh
