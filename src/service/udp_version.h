// -sV on the open UDP ports of -sU: one UdpPortJob per port on the same ConnRunner as the TCP
// jobs (a connected datagram socket per step, every send admitted by the probe gate and the rate).
//
// A port's steps, in order (udp_probe_plan):
//   1. the datagrams -sU itself sent to that port (net/udp_payloads.h: ours, then the user's
//      nmap-payloads), sent again: the reply that showed the port open is matched first, against
//      the rules of every UDP probe that lists the port (ours before nmap's);
//   2. the UDP probes of the combined ProbeDb (ours in data/service-probes.toml, nmap's `Probe UDP`
//      entries when installed): those that list the port first, then the rest by rarity up to
//      --version-intensity, ours before nmap's on ties; a probe whose payload is one of step 1's
//      is not sent again.
// Each step is one datagram on a fresh socket, then a wait for its reply: 250 ms + 8 x the host's
// smoothed reply time (a reply ends the wait). A hard match that gives a version ends the port; one
// without a version is kept, and only the probes that list the port and can say more about that
// service are tried after it (a soft match: any probe of the plan that knows the service); a later
// match replaces it only when
// it gives a version for the same product (or the kept one had no product): nmap's generic "NTP
// v4" never overrides "chrony". A port unreachable (ECONNREFUSED) ends the port with what it has.
// Bounds: one reply is at most 64 KiB (a datagram), 256 KiB per port, the port budget, the stage.
//
// --announce (ServiceOptions::announce): each datagram carries the -sU trailer (the 18-byte tag
// block, net/announce_option.h "UDP") as -sU's own probes do: a -sU payload exactly as -sU sends
// it (tagged when its protocol takes a trailer, after its wrap; untagged otherwise), a probe of
// the databases tagged unless one of our payloads for that port is known not to take a trailer
// (its service would then not answer). The tag names the socket's source address.
//
// An open|filtered port (-sU got no reply: a silent service, or a filter) gets the sweep instead
// (udp_sweep_plan): the same plan without -sU's own datagrams (sent already, unanswered), so
// only the database probes that list the port or whose rarity is within --version-intensity.
// Every probe is a UdpSweepJob of its own, all started together (interleaved across ports: each
// port's first probe before any port's second), each one datagram on a fresh connected socket
// (admitted by the gate and the rate as any -sV datagram, tagged by the same rules) and one wait
// for its reply: 250 ms + 8 x the host's smoothed reply time (50 ms while none), capped by the
// probe's totalwaitms and by 2 s. A port that answers any of them becomes open (reason
// udp-response; ServiceInfo::promoted): its service is the best match among the replies (a hard
// match with a version, then a hard match, then a soft one; plan order on ties), or the port
// table's name when none matched. A silent port stays open|filtered and gets no ServiceInfo.
// Bound: sweep jobs start only within UdpSweepBudget::start_window (3 s) of the first one's
// start; those not started by then are counted (UdpSweepBudget::cut) and send nothing. At most
// 64 x max_active sweep jobs are made (more could not start within the window: each holds a slot
// 50 ms at least); the probes beyond are counted as cut too, and detect_services() passes no
// more open|filtered ports than that (the rest: SweepStats::unswept), so memory stays bounded. So a
// scan where nothing answers spends at most start_window + 2 s more than without the sweep, and one
// wait (650 ms) when every probe fits the runner's slots at once (ports x probes <= max_active).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/announce.h"
#include "net/udp_payloads.h"
#include "output/result.h"
#include "scan/conn_runner.h"
#include "service/probe_db.h"
#include "service/version_scan.h"

namespace gh {

// One step of a UDP port: a datagram and whose rules read its reply.
struct UdpStep {
  std::string payload;
  const ServiceProbe* probe =
      nullptr;  // nullptr: a -sU payload (rules: the probes listing the port)
  const net::UdpPayload* udp_payload = nullptr;  // the -sU payload (for its announce rule)
};

// The bytes step `s` sends to (dst, port) from src: the payload, and with `announce` the tag
// block (see above). `payloads`: the -sU payloads (which ports refuse a trailer).
std::string udp_step_datagram(const UdpStep& s, const auth::ProbeAnnouncer* announce,
                              const net::UdpPayloads& payloads, const IpAddress& src,
                              const IpAddress& dst, uint16_t port);

// A host's smoothed UDP reply time, shared by its ports (the first reply measures it).
struct UdpRtt {
  std::chrono::nanoseconds srtt{0};
  bool have = false;
  void sample(std::chrono::nanoseconds rtt) {
    if (!have) {
      srtt = rtt;
      have = true;
    } else {
      srtt += (rtt - srtt) / 8;
    }
  }
};

std::vector<UdpStep> udp_probe_plan(const ProbeDb& db, const net::UdpPayloads& payloads,
                                    uint16_t port, int intensity);

// Matches a reply to `step` (see above for a -sU payload's rules). `soft`: as ProbeDb::match.
std::optional<ServiceMatch> match_udp_reply(const ProbeDb& db, const UdpStep& step, uint16_t port,
                                            std::string_view reply, std::string_view soft = {});

// The job for res.addr / res.port (res.proto is set to UDP). The job must outlive the runner.
std::unique_ptr<Job> make_udp_port_job(const ProbeDb& db, const ServiceOptions& opts,
                                       ServiceInfo& res, UdpRtt& rtt);

// ---- open|filtered ports: the sweep (see above) ----

// The probes an open|filtered port gets: udp_probe_plan without -sU's own payload steps.
std::vector<UdpStep> udp_sweep_plan(const ProbeDb& db, const net::UdpPayloads& payloads,
                                    uint16_t port, int intensity);

// One open|filtered port's sweep: its steps and what their replies said.
struct UdpSweepPort {
  ServiceInfo* res = nullptr;  // addr, port: the port; filled by udp_sweep_finish
  UdpRtt* rtt = nullptr;       // the host's, shared with its other UDP jobs
  // Its plan (udp_sweep_plan), shared by the ports whose plans are the same (most ports: the
  // probes within the intensity), so a -p- sweep holds a pointer per port, not a plan.
  const std::vector<UdpStep>* steps = nullptr;
  bool answered = false;  // some step got a datagram back
  size_t answered_step = SIZE_MAX;
  std::optional<ServiceMatch> best;
  size_t best_step = SIZE_MAX;
  size_t bytes = 0;        // received, all steps (bounded as a UdpPortJob's)
  bool unreached = false;  // an ICMP port unreachable came back to a step
  uint8_t ttl = 0;         // TTL / hop limit of the first reply that carried it, 0 when none
};

// Shared by a stage's sweep jobs.
struct UdpSweepBudget {
  std::chrono::milliseconds start_window{3000};
  std::optional<std::chrono::steady_clock::time_point> last_start;  // set by the first start
  size_t sent = 0;                                                  // sweep datagrams sent
  size_t cut = 0;  // sweep jobs never started (the window had passed, or the stage ended)
};

// Records a reply of step `step` (`m`: its match, if any): the port answered; the match replaces
// the best one if it ranks higher (hard with a version > hard > soft; the earlier step on ties).
void udp_sweep_offer(UdpSweepPort& p, size_t step, const std::optional<ServiceMatch>& m);
// Whether the port is identified for good (a hard match with a version): its other steps need not
// be sent.
bool udp_sweep_settled(const UdpSweepPort& p);
// Fills *p.res: promoted and the service when the port answered; the port table's name otherwise.
void udp_sweep_finish(UdpSweepPort& p);

// The job sending p.steps[step]. It must outlive the runner; p and budget too.
std::unique_ptr<Job> make_udp_sweep_job(const ProbeDb& db, const ServiceOptions& opts,
                                        UdpSweepPort& p, size_t step, UdpSweepBudget& budget);

}  // namespace gh
