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
//   ServiceResult  what answers on a port (-sV, or a guess from the services table), sent after
//                  that port's PortResult.
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

// How a service name was found: nmap's method attribute.
enum class ServiceMethod : uint8_t {
  Table,   // looked up by port number (the services table): a guess, confidence 3
  Probed,  // a probe's reply matched (-sV)
};
std::string_view to_string(ServiceMethod m);  // "table", "probed"

// What a TLS handshake with the service showed (-sV on a TLS port, or after STARTTLS).
struct TlsInfo {
  std::string protocol;           // negotiated version: "TLSv1.3", "TLSv1.2"
  std::string cipher;             // IANA name: "TLS_AES_256_GCM_SHA384"
  std::string subject;            // certificate subject, RFC 4514 one-line form: "CN=a.example"
  std::vector<std::string> sans;  // subjectAltName entries as OpenSSL prints them: "DNS:a.example"
  std::string issuer;             // issuer, same form as the subject
  std::optional<WallClock::time_point> not_before;  // validity
  std::optional<WallClock::time_point> not_after;
  bool self_signed = false;  // the issuer signed itself (subject == issuer and the signature holds)
};

// The service on one port, with nmap's <service> fields.
struct ServiceInfo {
  std::string name;         // nmap's service name: "ssh", "http"; "unknown" when nothing matched
  std::string product;      // "OpenSSH"
  std::string version;      // "9.2p1 Debian 2+deb12u3"
  std::string extra_info;   // "protocol 2.0"
  std::string hostname;     // a host name the service announced
  std::string os_type;      // "Linux"
  std::string device_type;  // "router"
  std::string tunnel;       // "ssl" when the service was spoken to through TLS
  std::vector<std::string> cpe;  // "cpe:/a:openbsd:openssh:9.2p1", in match order
  std::optional<TlsInfo> tls;
  ServiceMethod method = ServiceMethod::Table;
  uint8_t confidence = 3;   // nmap's conf, 0..10: 3 for a table guess, 10 for a probe match
  std::string fingerprint;  // nmap's servicefp for a service that answered but matched nothing
};

// ---- ports -------------------------------------------------------------------------------------

// One port's verdict. Produced once per (address, proto, port): the engine never repeats one.
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
};

// What answers on a port, found after its verdict was reported.
struct ServiceResult {
  IpAddress addr;
  Protocol proto = Protocol::Tcp;
  uint16_t port = 0;
  ServiceInfo service;
  WallClock::time_point seen;  // when it was identified
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
  WallClock::time_point seen;  // when the verdict was reached
};

// ---- the run -----------------------------------------------------------------------------------

// Facts about the run that every output header or trailer may print.
struct ScanInfo {
  std::string command_line;  // the full argv, space separated
  std::string scan_type;     // "syn", "connect", "list"
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
