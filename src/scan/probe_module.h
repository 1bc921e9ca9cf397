// The contract between the raw-packet engine and a probe type (zmap's probe_modules.h idea).
//
// The engine owns the sockets, the permutation, the rate, the retries and the results; a probe
// module knows only its packets. One module per probe type: TCP SYN now; UDP, ICMP echo, ARP and
// other TCP flag scans (FIN, NULL, Xmas, ACK) fit the same contract later.
//
//   prepare(path)       once, before the first probe: build the packet templates for the route
//                       (our address and MACs). Called once per address family in the scan.
//   build(out, probe, id, attempt)  per probe, on the send thread: write one frame to `out` (at
//   least
//                       kMaxFrame bytes) and return its length, 0 to skip. No allocation, no throw.
//   classify(packet)    per received packet, on the receive thread: if it answers one of our
//                       probes (checked statelessly, with the scan's secret cookie), fill `out`
//                       and return true. Any bytes are valid input: never throws.
//   describe / name     for --dry-run and logs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/address.h"
#include "core/types.h"
#include "io/route.h"
#include "net/packet.h"
#include "targets/probe_space.h"

namespace gh {

// A reply turned into a verdict for one probe of the space.
struct ProbeVerdict {
  Probe probe;  // which (addr, proto, port) it answers
  PortState state = PortState::Filtered;
  Reason reason = Reason::NoResponse;
  uint8_t ttl = 0;
  uint8_t attempt = 0;  // which try it answers (0: the first send, k: the k-th retry)
};

class ProbeModule {
 public:
  static constexpr size_t kMaxFrame = 256;
  virtual ~ProbeModule() = default;
  virtual std::string_view name() const = 0;
  virtual Protocol protocol() const = 0;
  virtual void prepare(const Route& path) = 0;
  // `attempt`: 0 for the first send, k for the k-th retry; a module may make each attempt a
  // distinct packet (the TCP SYN module gives each its own source port) and report it back in
  // ProbeVerdict::attempt.
  virtual size_t build(uint8_t* out, const Probe& probe, uint16_t ip_id,
                       unsigned attempt) const = 0;
  virtual bool classify(const net::ParsedPacket& packet, ProbeVerdict& out) const = 0;
};

}  // namespace gh
