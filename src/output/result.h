// What a scan found, independent of how it is printed. Probes produce these; sinks format them.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/address.h"
#include "core/types.h"

namespace gh {

using WallClock = std::chrono::system_clock;

// One port's verdict. Produced once per (address, proto, port): the engine never repeats one.
struct PortResult {
  IpAddress addr;
  Protocol proto = Protocol::Tcp;
  uint16_t port = 0;
  PortState state = PortState::Filtered;
  Reason reason = Reason::NoResponse;
  uint8_t reply_ttl = 0;       // TTL / hop limit of the reply, 0 when none
  WallClock::time_point seen;  // when the verdict was reached
};

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
};

// Facts about the run that every output header or trailer may print.
struct ScanInfo {
  std::string command_line;  // the full argv, space separated
  std::string scan_type;     // "syn", "connect", "list"
  WallClock::time_point start;
  uint64_t targets = 0;       // addresses in the target set
  uint64_t ports = 0;         // ports per address (TCP + UDP)
  std::string engagement_id;  // from --scope, empty when none
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
