// The -sV stage: service and version detection on the open TCP ports a scan found.
//
// run_version_scan() runs one PortJob per open TCP port (UDP ports, open and open|filtered:
// service/udp_version.h) on a
// ConnRunner (scan/conn_runner.h), all
// ports at once up to the descriptor budget. Each job, on its own:
//   1. connects and waits for a banner (the NULL probe); the first hard match ends it;
//   2. otherwise sends probes, each on a fresh connection (the first on the NULL probe's
//      connection when that stayed silent): those whose `ports` list this port first, then a TLS
//      handshake (first of all when a probe lists the port in `sslports`), then the rest by
//      rarity (up to --version-intensity), ours before nmap's on ties. After a soft match only
//      probes able to say more about that service are sent;
//   3. once TLS is up it records the session (tls_client.h) and probes again inside the tunnel
//      (NULL first: imaps, pop3s, smtps speak first), ordered by `sslports`;
//   4. after a hard match: STARTTLS for smtp, imap, pop3 and ftp on the same connection (then
//      the TLS details), the SSH host key (ssh_hostkey.h), HTTP status/Server/title/Location.
// Replies are matched as they arrive: a hard match that gives a version ends the wait at once;
// one without a version waits only for a short quiet period in case more comes.
//
// Waits follow the host's connect RTT (the first connection measures it): a banner is waited for
// 500 ms + 8 RTT, a probe's reply 250 ms + 8 RTT, each capped by the probe's own totalwaitms.
// Bounds (hostile services): 32 KiB per reply, 256 KiB per TLS handshake, `port_budget` per port
// (then the job reports what it has), `stage_budget` for the whole stage (every job still under
// way reports what it has), and the stop flag (SIGINT). Nothing a service sends can make a job
// read, wait or allocate without bound.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "auth/announce.h"
#include "core/address.h"
#include "output/result_table.h"
#include "scan/config.h"
#include "scan/engine.h"
#include "service/probe_db.h"
#include "service/tls_client.h"

namespace gh {

struct ServiceOptions {
  int intensity = 7;  // --version-intensity (light 2, all 9)
  std::chrono::milliseconds port_budget{15000};
  std::chrono::milliseconds stage_budget{0};  // 0: derived from the number of ports
  size_t max_active = 512;                    // ports probed at once
  double max_rate = 0;                        // connect() starts per second (0: none)
  // --announce: UDP datagrams carry the tag (service/udp_version.h). TCP connections carry none:
  // they are the kernel's connect(), whose SYN takes no option of ours.
  const auth::ProbeAnnouncer* announce = nullptr;
};

// Loads ours (data/service-probes.toml, found as services.tsv is) and nmap's (`nmap_file`; empty:
// /usr/share/nmap/nmap-service-probes when present; "none": not at all) and combines them.
// `nmap_file` given explicitly and unreadable, or any malformed file: UsageError.
// `summary` says what was loaded (for -v and the docs).
ProbeDb load_service_db(const std::string& nmap_file, std::string* summary = nullptr);

// Probes every (addr, port) and returns one result per entry, in the same order.
std::vector<ServiceInfo> run_version_scan(const std::vector<std::pair<IpAddress, uint16_t>>& ports,
                                          const ProbeDb& db, const ServiceOptions& opts,
                                          ProbeGate* gate, const std::atomic<bool>& stop);

// The same for TCP and UDP ports together (UDP ports: service/udp_version.h), on one runner.
// `open_filtered` (UDP only): a port -sU got no reply from, swept (udp_version.h: its
// ServiceInfo says `promoted` when it answered; otherwise only its name is filled).
struct ServiceTarget {
  IpAddress addr;
  Protocol proto = Protocol::Tcp;
  uint16_t port = 0;
  bool open_filtered = false;
};
// What the sweep of open|filtered UDP ports did (udp_version.h).
struct SweepStats {
  size_t ports = 0;     // open|filtered ports swept
  size_t promoted = 0;  // of them, answered: now open
  size_t sent = 0;      // datagrams sent
  size_t cut = 0;       // probes never sent: the sweep's start window had passed
  size_t unswept = 0;   // open|filtered ports beyond max_sweep_jobs(): never probed
};
// The most sweep jobs a stage makes, and so the most open|filtered ports it sweeps (each needs a
// job for its first probe): 64 x max_active (udp_version.h). detect_services() passes no more
// ports than this, so the results it allocates stay bounded on a large -sU -sV.
size_t max_sweep_jobs(const ServiceOptions& opts);
std::vector<ServiceInfo> run_version_scan(const std::vector<ServiceTarget>& ports,
                                          const ProbeDb& db, const ServiceOptions& opts,
                                          ProbeGate* gate, const std::atomic<bool>& stop,
                                          SweepStats* sweep = nullptr);

// The -sV stage of a scan: every open TCP and UDP port in `table`, and the open|filtered UDP
// ports (swept), with the options of config.service and the timing's --max-rate. Results in
// address, port order: one per open port, and one per open|filtered port that answered
// (ServiceInfo::promoted); the silent ones have none.
std::vector<ServiceInfo> detect_services(const ScanConfig& config, const ProbeDb& db,
                                         const ResultTable& table, ProbeGate* gate,
                                         const std::atomic<bool>& stop,
                                         const auth::ProbeAnnouncer* announce = nullptr,
                                         SweepStats* sweep = nullptr);

// Pieces exposed for the tests.
HttpInfo parse_http(std::string_view reply);
// The probes a port tries after the NULL probe, in order (TLS handshake as nullptr).
std::vector<const ServiceProbe*> probe_order(const ProbeDb& db, uint16_t port, bool in_tls,
                                             int intensity, bool tls_tried,
                                             std::string_view soft_service);

}  // namespace gh
