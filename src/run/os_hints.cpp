#include "run/os_hints.h"

#include "scan/os_hint.h"
#include "scan/probe_registry.h"

namespace gh {

bool record_os_hint(const PortResult& r, ResultTable& table,
                    const std::vector<std::unique_ptr<Sink>>& sinks) {
  if (!r.syn_ack) return false;
  HostResult h;
  auto it = table.hosts().find(r.addr);
  if (it != table.hosts().end() && it->second.record) {
    if (it->second.record->os_hint) return false;
    h = *it->second.record;
  } else {
    h.addr = r.addr;
    h.state = HostState::Up;
    h.reason = Reason::UserSet;
    h.seen = r.seen;
  }
  h.os_hint = make_os_hint(*r.syn_ack);
  table.add_host(h);
  for (const auto& s : sinks) s->host(h);
  return true;
}

std::optional<std::string> os_hint_note(const ScanConfig& config) {
  if (!config.service.os_hint) return std::nullopt;
  const ScanTypeEntry& t = scan_type_entry(config.type);
  if (t.engine == EngineKind::Raw && raw_port_module(config) == "tcp_syn")
    return "-O/-A: an OS hint per host from its first SYN-ACK (initial TTL, window, TCP options "
           "in order; a small table of our own), labelled a hint. This is not nmap's OS "
           "detection: no OS probes are sent and nmap-os-db is not used";
  return "-O/-A: no OS hint with " + std::string(t.flag) +
         (t.engine == EngineKind::Connect
              ? ": the kernel makes the connections, so no SYN-ACK is seen (use -sS)"
              : ": only -sS sees the SYN-ACKs the hint is read from") +
         "; nmap's OS detection is not implemented";
}

}  // namespace gh
