// The connect scan's own rules (scan/connect_engine.h, namespace connect_detail): what connect()'s
// errno means for a port, which sockets can be used again, how many workers and how many
// attempts in flight a -T level gets, and the per-attempt timeout estimate.
#include <algorithm>
#include <cerrno>

#include "scan/connect_engine.h"

namespace gh {
namespace connect_detail {

Classification classify_connect_errno(int err) {
  auto verdict = [](PortState s, Reason r) { return Classification{Outcome::Verdict, s, r}; };
  switch (err) {
    case 0:
    case EISCONN:  // a second connect() on a socket that has connected
    // The handshake completed and the peer reset or closed before we looked: it was open.
    case ECONNRESET:
    case EPIPE:
      return verdict(PortState::Open, Reason::ConnAccepted);
    // RST to our SYN, or ICMP port unreachable (which Linux also reports as ECONNREFUSED).
    case ECONNREFUSED:
      return verdict(PortState::Closed, Reason::ConnRefused);
    case EHOSTUNREACH:
    case EHOSTDOWN:
    case ENONET:
      return verdict(PortState::Filtered, Reason::HostUnreach);
    case ENETUNREACH:
    case ENETDOWN:
      return verdict(PortState::Filtered, Reason::NetUnreach);
    // A local firewall rule (EPERM), or ICMPv6 administratively prohibited / policy (EACCES).
    case EACCES:
    case EPERM:
      return verdict(PortState::Filtered, Reason::AdminProhibited);
    case ENOPROTOOPT:  // ICMP protocol unreachable
      return verdict(PortState::Filtered, Reason::ProtoUnreach);
    case ETIMEDOUT:
      return {Outcome::Timeout};
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
    case EADDRNOTAVAIL:
    case EAGAIN:
      return {Outcome::LocalTransient};
    case EAFNOSUPPORT:
    case EPROTONOSUPPORT:
    case EINVAL:  // e.g. a link-local IPv6 target without an interface (-e) for its scope
      return {Outcome::LocalFatal};
    default:
      // Anything else (EMSGSIZE, EOPNOTSUPP from rarer ICMP errors, ...) is treated as no answer:
      // the attempt is retried and the port ends filtered/no-response.
      return {Outcome::Timeout};
  }
}

bool connect_pending(int err) {
  return err == EALREADY || err == EINPROGRESS || err == EINTR;
}

bool socket_reusable(int err) {
  if (err == 0) return false;
  Classification c = classify_connect_errno(err);
  return c.outcome == Outcome::Verdict && c.state != PortState::Open;
}

size_t workers_for(const Timing& timing, uint64_t tcp_probes, unsigned cores) {
  if (cores < 2 || timing.level < 3) return 1;
  // Per-host pacing is serial by nature, and a host timeout clock shared by threads is not worth
  // its locking: those scans are slow anyway.
  if (timing.scan_delay.count() > 0) return 1;
  if (timing.host_timeout && timing.host_timeout->count() > 0) return 1;
  if (tcp_probes < 2 * kMinProbesPerWorker) return 1;
  return 2;
}

size_t inflight_cap_for_level(int level) {
  if (level <= 1) return 1;  // paranoid/sneaky: serial, as nmap
  if (level == 2) return 16;
  if (level == 3) return 1024;
  return 4096;
}

ConnectTimeout::ConnectTimeout(std::chrono::milliseconds initial_rtt,
                               std::chrono::milliseconds max_rtt)
    : floor_(0), max_(std::max<Duration>(max_rtt, std::chrono::milliseconds(1))) {
  floor_ = std::min<Duration>(kFloor, max_);
  timeout_ = clamp(initial_rtt);
}

ConnectTimeout::Duration ConnectTimeout::clamp(Duration d) const {
  return std::clamp(d, floor_, max_);
}

void ConnectTimeout::sample(Duration rtt) {
  using namespace std::chrono_literals;
  rtt = std::max<Duration>(rtt, 0ns);
  if (!have_sample_) {
    have_sample_ = true;
    srtt_ = rtt;
    rttvar_ = std::clamp<Duration>(rtt, 5ms, 2s);  // nmap's first-sample variance
  } else {
    Duration delta = rtt - srtt_;
    srtt_ += delta / 8;
    rttvar_ += ((delta < 0ns ? -delta : delta) - rttvar_) / 4;
  }
  timeout_ = clamp(srtt_ + 4 * rttvar_);
}

}  // namespace connect_detail

}  // namespace gh
