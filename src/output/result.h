// The result model: what a scan found, independent of how it is printed. Producers (engines, host
// discovery, service detection) fill these records; the run layer (src/run/) passes each one to
// the ResultTable and then, as an event, to every sink (output/sink.h). Sinks format; they never
// reach into a producer, and none of them rebuilds what the model already knows (which ports got
// no reply, which hosts are down).
//
//   HostResult     a host's verdict: up or down, why (nmap's reason, with the reply's TTL), its
//                  MAC and the MAC's vendor (on-link hosts), the round trip of the reply that
//                  showed it up, its names. Sent once discovery settles the host; may be sent
//                  again for the same address with more facts (names at the end of the scan): the
//                  last one wins, names are merged.
//   PortResult     one port's verdict, exactly once per (address, protocol, port), silent ports
//                  included (filtered, reason no-response, after the last retry). Its `service`
//                  slot is empty from the engines; it is set when a producer already knows the
//                  service when it reports the verdict.
//   ServiceInfo    what answers on a port (-sV: service/version_scan.h), with its address,
//                  protocol and port; sent after that port's PortResult.
//
// Records are plain values: copy them, keep them; nothing points into a producer. Strings are
// UTF-8 as received (a sink escapes them for its format); empty means "not known".
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.h"
#include "core/types.h"

namespace gh {

using WallClock = std::chrono::system_clock;

// ---- services ----------------------------------------------------------------------------------

// -sV's answer for one open port (filled by src/service/version_scan.cpp, written by the sinks
// after the port records and before the end). Strings are printable ASCII (service bytes are
// escaped as \xNN by the matcher).
struct TlsInfo {
  std::string version;                // "TLSv1.3"
  std::string cipher;                 // "TLS_AES_256_GCM_SHA384"
  std::string subject, issuer;        // RFC 2253 ("CN=example,O=...")
  std::vector<std::string> sans;      // "DNS:example.org", "IP:198.18.0.1"
  std::string not_before, not_after;  // RFC 3339 UTC
  bool self_signed = false;
  std::string key;     // "rsa 2048", "ec 256", "ed25519 256"
  std::string sha256;  // certificate fingerprint, hex
};

struct HttpInfo {
  int status = 0;  // of the reply to GET /
  std::string server, title, location;
};

struct SshInfo {
  std::string protocol, software;     // from the identification line: "2.0", "OpenSSH_9.2p1 ..."
  std::string key_type, fingerprint;  // host key: "ssh-ed25519", "SHA256:..." (ssh-keygen -l)
};

struct ServiceInfo {
  IpAddress addr;
  Protocol proto = Protocol::Tcp;
  uint16_t port = 0;
  std::string name;  // "http", "ssh", "tcpwrapped", or the port table's name
  std::string product, version, extra_info, hostname, ostype, devicetype;
  std::vector<std::string> cpe;
  std::string method = "table";  // "probed": a match named it; "table": the port table did
  int confidence = 3;            // nmap's scale: 10 hard match, 8 soft match, 3 port table
  bool tls_tunnel = false;       // the service speaks inside TLS (nmap's "ssl/http")
  std::string starttls;          // "smtp", "imap", "pop3", "ftp" when STARTTLS succeeded
  std::optional<TlsInfo> tls;
  std::optional<HttpInfo> http;
  std::optional<SshInfo> ssh;
  std::string probe;  // the probe whose reply matched
  std::string note;   // why probing stopped early (budget, hostile bytes...), else empty
  // -sU -sV: an open|filtered UDP port that answered a -sV probe (service/udp_version.h). The
  // port is open (reason udp-response): the run layer reports it again (PortResult::previous)
  // before this record.
  bool promoted = false;
  uint8_t reply_ttl = 0;  // promoted: the TTL / hop limit of its reply (0: unknown)
};

// ---- the SYN-ACK and the OS hint (-O, -A: scan/os_hint.h) ---------------------------------------

// What a SYN-ACK showed of the stack that sent it: the evidence of an OS hint.
struct SynAckFacts {
  uint8_t ttl = 0;  // as received (the initial TTL minus the hops)
  uint16_t window = 0;
  uint16_t mss = 0;    // 0: no MSS option
  int8_t wscale = -1;  // -1: no window scale option
  uint8_t option_count = 0;
  std::array<uint8_t, 20> options{};  // the option kinds in the order sent (NOP 1 and EOL 0 too)
  uint16_t port = 0;                  // the port that answered
};

// A labelled guess at a host's OS from one SYN-ACK (a small table of our own: scan/os_hint.cpp),
// with its evidence. A hint, not nmap's OS fingerprinting.
struct OsHint {
  std::string name;      // "Linux 2.6+", "Windows", ... or "unknown"
  std::string evidence;  // "initial TTL 64, window 65160, options MSS,SACK,TS,NOP,WS, wscale 7"
  SynAckFacts facts;
};
// "OS hint: Linux 2.6+ (evidence: initial TTL 64, window 65160, options MSS,SACK,TS,NOP,WS, MSS
// 1460, wscale 7; SYN-ACK from port 22)": the text and XML outputs' line.
std::string os_hint_text(const OsHint& h);

// ---- ports -------------------------------------------------------------------------------------

// One port's verdict. Produced once per (address, proto, port): the engine never repeats one (the
// run layer may, once, after -sV: see `previous`).
// Engines fill the first seven fields (in this order: they use positional initialisation).
struct PortResult {
  IpAddress addr;
  Protocol proto = Protocol::Tcp;
  uint16_t port = 0;
  PortState state = PortState::Filtered;
  Reason reason = Reason::NoResponse;
  uint8_t reply_ttl = 0;                              // TTL / hop limit of the reply, 0 when none
  WallClock::time_point seen;                         // when the verdict was reached
  std::optional<ServiceInfo> service = std::nullopt;  // when known with the verdict (see above)
  std::optional<SynAckFacts> syn_ack = std::nullopt;  // -sS: the SYN-ACK that said open
  // Set on a port reported a second time with a new verdict: the state it had. The one case:
  // -sV found an open|filtered UDP port answering (open, udp-response; ServiceInfo::promoted).
  // The table replaces the entry (ResultTable::promote); a streaming sink writes the record
  // again, and the later record of a (address, protocol, port) is the one that holds.
  std::optional<PortState> previous = std::nullopt;
  // The round trip of the reply that decided, when the engine measured it (-sT: the connect()'s;
  // the raw engine times one attempt in 16, to the kernel's receipt of the reply).
  // A host that discovery gave no latency shows its first port's ("Host is up (0.00011s
  // latency)", as nmap shows its port scan's round trip).
  std::optional<std::chrono::microseconds> rtt = std::nullopt;
};

// ---- hosts -------------------------------------------------------------------------------------

using MacBytes = std::array<uint8_t, 6>;  // the same type as net/headers.h's MacAddress
// "00:1A:2B:3C:4D:5E", upper case as nmap writes it.
std::string format_mac(const MacBytes& mac);

// A name of a host, with nmap's type: "user" (the target was given by this name), "PTR" (reverse
// DNS).
struct Hostname {
  std::string name;
  std::string type;
  friend bool operator==(const Hostname&, const Hostname&) = default;
};

// A host's verdict. `reason` uses nmap's host reasons: arp-response, nd-response, echo-reply,
// timestamp-reply, addressmask-reply, syn-ack, reset, conn-refused, port-unreach, udp-response,
// user-set (-Pn: assumed up), localhost-response; no-response for a host that is down.
struct HostResult {
  IpAddress addr;
  HostState state = HostState::Up;
  Reason reason = Reason::NoResponse;
  uint8_t reason_ttl = 0;       // TTL / hop limit of the reply that decided, 0 when none
  std::optional<MacBytes> mac;  // on-link hosts: the source MAC of their reply
  std::string vendor;           // the MAC's vendor (ieee-data), "" when unknown
  // Round trip of the reply that showed the host up (nmap's "Host is up (0.00042s latency)").
  std::optional<std::chrono::microseconds> latency;
  // nmap's <times>: smoothed round trip, its variation, the timeout they imply. Optional.
  std::optional<std::chrono::microseconds> srtt;
  std::optional<std::chrono::microseconds> rttvar;
  std::optional<std::chrono::microseconds> timeout;
  std::vector<Hostname> hostnames;
  WallClock::time_point seen;     // when the verdict was reached
  std::optional<OsHint> os_hint;  // -O/-A: from the host's first SYN-ACK (scan/os_hint.h)
};

// ---- the run -----------------------------------------------------------------------------------

// Facts about the run that every output header or trailer may print.
struct ScanInfo {
  std::string command_line;  // the full argv, space separated
  std::string
      scan_type;  // "syn", "connect", "list": the run's first (with -sU beside it, TCP) type
  // Every scan type of the run, in stage order: {"syn"}, {"syn","udp"} for -sS -sU, {"udp"}.
  std::vector<std::string> scan_types;
  WallClock::time_point start;
  uint64_t targets = 0;       // addresses in the target set
  uint64_t ports = 0;         // ports per address (TCP + UDP)
  std::string engagement_id;  // from --scope, empty when none
  // The scanned ports as nmap's <scaninfo services=...> lists them: "22,80,1000-2000"; empty
  // when no port of that protocol is scanned.
  std::string tcp_ports;
  std::string udp_ports;
  int verbosity = 0;  // -v count
};

struct ScanSummary {
  WallClock::time_point end;
  uint64_t hosts_up = 0;  // addresses that answered at least once
  uint64_t probes_sent = 0;
  uint64_t replies = 0;
  uint64_t open_ports = 0;
  bool interrupted = false;  // stopped by SIGINT/SIGTERM before the end
  std::string exit_reason;   // "done", "interrupted", or an error text
  // What the engine measured (-sS; scan/completeness.h): nullopt when it could not tell.
  uint64_t retries = 0;                // probes sent again
  uint32_t passes = 0;                 // 1 + retry passes
  std::optional<double> loss;          // share of round trips lost
  std::optional<double> completeness;  // estimated share of responsive ports found
};

}  // namespace gh
