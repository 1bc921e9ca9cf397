// The send/receive half of the raw engine: everything that touches the kernel. The pass/retry
// driver (scan/driver.h) talks to the network only through this interface, so unit tests drive
// it through a fake (tests/unit/fake_transport.h).
//
// Who calls what, when:
//   open(targets, modules)  once, on the driver's thread, before any other call: finds the path
//                           (route, interface, framing, next hop) of each address family in
//                           `targets`, calls module->prepare(path) for every module on every
//                           path, and opens the sockets and the receive ring, whose filter
//                           passes the union of the modules' ReceiveSpec. Throws RuntimeError
//                           (no route, no privilege, a link it cannot frame) before anything is
//                           sent. With `dry_run` it opens nothing and asks the kernel nothing
//                           that could send (no neighbour resolution).
//   framing(family)         the framing build() writes for that family's path; nullopt when the
//                           family has no path (its probes are skipped).
//   sender(max_frame)       one per send thread, after open(). A sender is used by one thread.
//   receive(timeout, fn)    the receive thread only: waits up to `timeout`, then calls fn once
//                           per frame that arrived (parsed; RxFrame::ip null for non-IP frames).
//                           Returns the number of frames. Never called after stop_receiving().
//   drops()                 the driver's thread: replies the kernel dropped so far (the ring
//                           was full), for the rate controller.
//
// A sender's cycle per probe: slot() gives a buffer of at least max_frame bytes; the module
// builds the frame into it; commit() queues it. commit() sends a batch when it is full (or when
// the path changes); flush() sends what is queued. For FrameKind::Ip frames to an on-link target
// of an Ethernet path, commit() writes the target's MAC into bytes [0, 6) (probe_module.h, "who
// fills which bytes"), from the MAC table (scan/mac_table.h) or the kernel's neighbour table.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>

#include "core/address.h"
#include "scan/probe_module.h"
#include "targets/target_set.h"

namespace gh {

// Per-sender counters, written by its thread, read by the driver's (rate, status, report).
struct SendCounters {
  std::atomic<uint64_t> sent{0};    // frames the kernel took
  std::atomic<uint64_t> stalls{0};  // full device queue (ENOBUFS/EAGAIN) waits: back-pressure
  std::atomic<uint64_t> errors{0};  // batches (the rest of one) lost to a send error
};

class TransportSender {
 public:
  enum class Commit : uint8_t {
    Queued,      // will be sent (by this call, a later one, or flush())
    NoPath,      // no path for the destination's family: nothing queued
    NoNeighbor,  // an on-link destination whose MAC is unknown: nothing queued (down, or not
                 // there: the caller reports it, never retries it)
  };
  virtual ~TransportSender() = default;
  virtual std::span<uint8_t> slot() = 0;
  virtual Commit commit(size_t length, const IpAddress& dst, FrameKind kind) = 0;
  virtual void flush() = 0;
  virtual size_t pending() const = 0;  // frames committed and not yet sent
  SendCounters& counters() { return counters_; }

 protected:
  SendCounters counters_;
};

class Transport {
 public:
  using FrameFn = std::function<void(const RxFrame&)>;
  virtual ~Transport() = default;
  virtual void open(const TargetSet& targets, std::span<ProbeModule* const> modules,
                    bool dry_run) = 0;
  virtual std::optional<LinkFraming> framing(Family family) const = 0;
  virtual std::unique_ptr<TransportSender> sender(size_t max_frame) = 0;
  virtual size_t receive(std::chrono::milliseconds timeout, const FrameFn& fn) = 0;
  virtual uint64_t drops() = 0;
  // From another thread: a receive() waiting for frames returns now (its caller then looks at
  // its stop flag: the end of a scan need not wait out the receive timeout). Default: nothing,
  // the wait runs its course.
  virtual void wake() {}
};

}  // namespace gh
