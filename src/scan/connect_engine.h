// The TCP connect scan engine (nmap -sT): an unprivileged scan through the kernel's own TCP stack.
//
// It runs on the connection runner (scan/conn_runner.h: the sockets, epoll, deadlines, descriptor
// budget and back-off, socket reuse, admission), one short job per connect attempt. The kernel
// does the handshake, so a probe's verdict is what connect() says: success = open, ECONNREFUSED =
// closed, an ICMP error = filtered with its reason, no outcome before our timeout = no answer
// (retried, then filtered/no-response). See connect_engine.cpp for the design (workers, in-flight
// bound, timeouts, retries, self-connects) and the helpers below (connect_verdict.cpp), which are
// exposed for the tests.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "core/types.h"
#include "scan/engine.h"

namespace gh {

namespace connect_detail {
struct Stats;
}

// Runs a connect scan over the TCP entries of ctx.space (UDP entries are skipped: the CLI refuses
// UDP with -sT before this). Walks Permutation(ctx.space.size(), ctx.seed) order (each worker
// takes 64 positions at a time) and reports each TCP index's verdict exactly once through
// ctx.on_result, from the calling thread. Returns when every index is finished (a verdict, or
// dropped by the gate or --host-timeout), or promptly after ctx.stop is set (in-flight probes are
// then dropped unreported and report.interrupted is set). Every connect() is admitted by ctx.gate
// first, when there is one (refused probes are counted in report.refused, never reported). Raises
// RLIMIT_NOFILE's soft limit to the hard limit. Throws RuntimeError when probing is impossible (a
// socket family the kernel refuses, an interface SO_BINDTODEVICE rejects, no usable source
// address); never for fd exhaustion, which it waits out.
//
// Scans at -T3 (the default) and faster of many ports on a machine with several cores run two
// workers, the calling thread and one more (connect_detail::workers_for): on a fast network
// (loopback, a LAN) the kernel's own work per connect() is what bounds the scan, and two threads do
// it on two cores. Each worker has its own ConnRunner (sockets, epoll set, in-flight share),
// retries and timeout estimate, and claims chunks of the permutation as it goes (so a worker that
// gets less CPU does less of the scan); the gate, the rate limiter and the host timeout clock are
// one shared ConnAdmission; verdicts are still reported from the calling thread only. `workers`
// (tests) overrides the choice; `stats` (tests) receives how the attempts went.
EngineReport run_connect_scan(EngineContext& ctx, connect_detail::Stats* stats = nullptr,
                              size_t workers = 0);

namespace connect_detail {

// How the attempts of a run went, for the tests (run_connect_scan's optional out parameter).
struct Stats {
  size_t workers = 0;           // threads that probed, the calling thread included
  uint64_t sockets_opened = 0;  // socket() calls that succeeded
  uint64_t immediate = 0;       // attempts whose outcome was there right after connect()
  uint64_t waited = 0;          // attempts that went through epoll (or their deadline)
};

// What connect()'s errno (the first call's, or the second call's once the attempt has ended;
// 0 or EISCONN = connected) means for the probe.
enum class Outcome {
  Verdict,         // `state`/`reason` are the port's verdict
  Timeout,         // the attempt got no answer (ETIMEDOUT): retry or filtered/no-response
  LocalTransient,  // out of fds, buffers or local ports: back off and try the probe again
  LocalFatal,      // this probe cannot be sent from this host at all: the scan fails
};

struct Classification {
  Outcome outcome = Outcome::Verdict;
  PortState state = PortState::Filtered;
  Reason reason = Reason::NoResponse;
};

Classification classify_connect_errno(int err);

// Whether connect()'s errno on a socket whose connect is under way means "no outcome yet"
// (EALREADY from a second connect(), EINPROGRESS, EINTR).
bool connect_pending(int err);

// Whether a socket whose connect ended with `err` can start the next attempt: a refused or
// unreachable attempt leaves it unconnected (the kernel resets it when the error is read), while a
// connected one (open port, 0) must be closed (with RST).
bool socket_reusable(int err);

// How many workers (threads) a connect scan uses: 2 for -T3/-T4/-T5 scans of at least
// 2 * kMinProbesPerWorker TCP probes when there are 2 or more cores, without --scan-delay or
// --host-timeout; 1 otherwise.
constexpr uint64_t kMinProbesPerWorker = 4096;
size_t workers_for(const Timing& timing, uint64_t tcp_probes, unsigned cores);

// Most probes in flight at once for a -T level, before the fd limit is applied.
size_t inflight_cap_for_level(int level);

// Per-attempt connect timeout, adapted from measured connect RTTs the way nmap does
// (RFC 6298 style): srtt += (rtt - srtt) / 8, rttvar += (|rtt - srtt| - rttvar) / 4,
// timeout = srtt + 4 * rttvar, clamped to [min(100 ms, max_rtt), max_rtt]. Before the first sample
// the timeout is initial_rtt, clamped the same way.
class ConnectTimeout {
 public:
  using Duration = std::chrono::nanoseconds;
  static constexpr std::chrono::milliseconds kFloor{100};  // nmap's default --min-rtt-timeout

  ConnectTimeout(std::chrono::milliseconds initial_rtt, std::chrono::milliseconds max_rtt);
  void sample(Duration rtt);
  Duration timeout() const { return timeout_; }

 private:
  Duration clamp(Duration d) const;
  Duration floor_, max_;
  Duration srtt_{0}, rttvar_{0};
  bool have_sample_ = false;
  Duration timeout_;
};

}  // namespace connect_detail
}  // namespace gh
