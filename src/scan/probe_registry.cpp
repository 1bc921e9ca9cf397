#include "scan/probe_registry.h"

#include <stdexcept>
#include <string>

#include "scan/probe_ping_icmp.h"
#include "scan/probe_ping_link.h"
#include "scan/probe_ping_tcp.h"
#include "scan/probe_ping_udp.h"
#include "scan/probe_tcp_flags.h"
#include "scan/probe_tcp_syn.h"
#include "scan/probe_udp.h"

namespace gh {
namespace {

template <class M>
std::unique_ptr<ProbeModule> make(const ModuleKeys& keys) {
  return std::make_unique<M>(keys);
}

// One line per module.
constexpr ModuleEntry kModules[] = {
    {"tcp_syn", "TCP SYN to each port: SYN-ACK open, RST closed, silence filtered (-sS)",
     &make<TcpSynProbe>},
    {"tcp_fin", "TCP FIN: RST closed, silence open|filtered (-sF)", &make_tcp_fin},
    {"tcp_null", "TCP without flags: RST closed, silence open|filtered (-sN)", &make_tcp_null},
    {"tcp_xmas", "TCP FIN/PSH/URG: RST closed, silence open|filtered (-sX)", &make_tcp_xmas},
    {"tcp_maimon", "TCP FIN/ACK: RST closed, silence open|filtered (-sM)", &make_tcp_maimon},
    {"tcp_ack", "TCP ACK: RST unfiltered, silence filtered (-sA)", &make_tcp_ack},
    {"tcp_window", "TCP ACK: RST open if its window > 0, else closed (-sW)", &make_tcp_window},
    {"tcp_custom", "TCP with --scanflags, read as a SYN scan (-sS --scanflags)", &make_tcp_custom},
    {"udp",
     "UDP datagram to each port with its protocol's payload: reply open, ICMP port unreachable "
     "closed, other unreachables filtered, silence open|filtered (-sU)",
     &make<UdpProbe>},
    // Host discovery (scan/probe_ping.h): a reply says the host is up, silence says nothing.
    {"arp", "ARP request to each on-link IPv4 target: an ARP reply says up (-PR)", &make<ArpPing>},
    {"ndp",
     "IPv6 neighbor solicitation to each on-link IPv6 target: a solicited advertisement says up "
     "(-PR on IPv6)",
     &make<NdpPing>},
    {"icmp_echo", "ICMP/ICMPv6 echo request: an echo reply says up (-PE)", &make_icmp_echo},
    {"icmp_timestamp", "ICMP timestamp request (IPv4): a timestamp reply says up (-PP)",
     &make_icmp_timestamp},
    {"icmp_mask", "ICMP address mask request (IPv4): a mask reply says up (-PM)", &make_icmp_mask},
    {"tcp_syn_ping",
     "TCP SYN to each -PS port: a SYN-ACK, a RST or the target's ICMP error says up (-PS)",
     &make_tcp_syn_ping},
    {"tcp_ack_ping", "TCP ACK to each -PA port: a RST or the target's ICMP error says up (-PA)",
     &make_tcp_ack_ping},
    {"udp_ping",
     "UDP datagram to each -PU port: the target's port unreachable (or any ICMP error from it) "
     "or a UDP reply says up (-PU)",
     &make<UdpPing>},
};

constexpr ScanTypeEntry kScanTypes[] = {
    {ScanType::Syn, "-sS", "--syn", "syn", 1, EngineKind::Raw, "tcp_syn", true, true,
     "-sS: SYN scan with raw packets (default with CAP_NET_RAW)"},
    {ScanType::Connect, "-sT", "--connect", "connect", 2, EngineKind::Connect, "", false, false,
     "-sT: connect() scan (default otherwise; needs no privilege)"},
    {ScanType::List, "-sL", "--list", "list", 3, EngineKind::List, "", false, false,
     "-sL: list the targets and send nothing"},
    // The TCP flag scans (scan/probe_tcp_flags.h): checkpoint codes 10-15.
    {ScanType::Fin, "-sF", "--fin", "fin", 10, EngineKind::Raw, "tcp_fin", true, true,
     "-sF: FIN scan (RST closed, silence open|filtered)"},
    {ScanType::Null, "-sN", "--null", "null", 11, EngineKind::Raw, "tcp_null", true, true,
     "-sN: NULL scan, no flags (RST closed, silence open|filtered)"},
    {ScanType::Xmas, "-sX", "--xmas", "xmas", 12, EngineKind::Raw, "tcp_xmas", true, true,
     "-sX: Xmas scan, FIN/PSH/URG (RST closed, silence open|filtered)"},
    {ScanType::Ack, "-sA", "--ack", "ack", 13, EngineKind::Raw, "tcp_ack", true, true,
     "-sA: ACK scan (RST unfiltered, silence filtered)"},
    {ScanType::Window, "-sW", "--window", "window", 14, EngineKind::Raw, "tcp_window", true, true,
     "-sW: Window scan (RST with a window open, without closed)"},
    {ScanType::Maimon, "-sM", "--maimon", "maimon", 15, EngineKind::Raw, "tcp_maimon", true, true,
     "-sM: Maimon scan, FIN/ACK (RST closed, silence open|filtered)"},
    {ScanType::Udp, "-sU", "--udp", "udp", 16, EngineKind::Raw, "udp", true, true,
     "-sU: UDP scan with protocol payloads (raw packets)"},
};

}  // namespace

std::span<const ModuleEntry> probe_modules() {
  return kModules;
}

const ModuleEntry* find_probe_module(std::string_view name) {
  for (const auto& m : kModules)
    if (m.name == name) return &m;
  return nullptr;
}

std::unique_ptr<ProbeModule> make_probe_module(std::string_view name, const ModuleKeys& keys) {
  const ModuleEntry* m = find_probe_module(name);
  if (m == nullptr) throw std::invalid_argument("no probe module named " + std::string(name));
  return m->make(keys);
}

std::string_view raw_port_module(const ScanConfig& config) {
  const ScanTypeEntry& t = scan_type_entry(config.type);
  if (config.scan_flags && t.port_module == "tcp_syn") return "tcp_custom";
  return t.port_module;
}

std::vector<ScanConfig> stage_configs(const ScanConfig& config) {
  if (!config.also_udp) return {config};
  std::vector<ScanConfig> out;
  if (!config.ports.tcp.empty()) {
    ScanConfig tcp = config;
    tcp.also_udp = false;
    tcp.ports.udp.clear();
    out.push_back(std::move(tcp));
  }
  if (!config.ports.udp.empty()) {
    ScanConfig udp = config;
    udp.also_udp = false;
    udp.type = ScanType::Udp;
    udp.scan_flags.reset();  // --scanflags is the TCP stage's
    udp.ports.tcp.clear();
    out.push_back(std::move(udp));
  }
  return out;
}

bool stages_need_raw(const ScanConfig& config) {
  return scan_type_entry(config.type).needs_raw ||
         (config.also_udp && scan_type_entry(ScanType::Udp).needs_raw);
}

std::span<const ScanTypeEntry> scan_types() {
  return kScanTypes;
}

const ScanTypeEntry& scan_type_entry(ScanType type) {
  for (const auto& t : kScanTypes)
    if (t.type == type) return t;
  throw std::invalid_argument("scan type missing from the registry");
}

const ScanTypeEntry* scan_type_by_flag(std::string_view flag) {
  for (const auto& t : kScanTypes)
    if (t.flag == flag || t.long_flag == flag) return &t;
  return nullptr;
}

const ScanTypeEntry* scan_type_by_code(uint8_t code) {
  for (const auto& t : kScanTypes)
    if (t.checkpoint_code == code) return &t;
  return nullptr;
}

}  // namespace gh
