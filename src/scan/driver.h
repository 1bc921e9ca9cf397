// The pass/retry half of the raw engine: what to send, when, and what the answers mean. It talks
// to the network only through a Transport (scan/transport.h) and builds and reads packets only
// through a ProbeModule (scan/probe_module.h), so unit tests drive it with a fake transport
// (tests/unit/fake_transport.h).
//
// What it owns:
//   * the walk: the ProbeSpace in Permutation order, restricted to this run's Slice (--shards),
//     one "answered" bit per slice position (AnsweredSet): the only per-probe state;
//   * pass 0 from the cursor (a resumed scan continues), then retry passes over the unanswered
//     positions, freshly shuffled, each attempt its own BuildArgs::attempt, until the
//     completeness model says little can be missing (scan/completeness.h) or --max-retries;
//   * send threads (--send-threads): pass 0 interleaves the slice over them, a retry pass deals
//     the positions out; each has its own TransportSender and RateLimiter share;
//   * the probe gate (EngineContext::gate) before every build, retries included: Refuse closes
//     the position without a verdict, Later flushes the batch and asks again;
//   * the rate controller (drops, stalls), --host-timeout, the RTT samples and the straggler
//     waits, checkpoints (EngineContext::checkpoint) and resume (EngineContext::resume);
//   * verdicts: every reply the module classifies becomes one on_result on the thread that
//     called run_raw_driver(), first answer only; at the end, every position still unanswered
//     becomes what the module's silence() says (port modules: filtered / open|filtered,
//     reason no-response).
// Threads: the caller's thread settles verdicts, drives the rate and writes checkpoints; one
// receive thread calls Transport::receive and classifies; N send threads build and commit.
// Shared state is atomics (answered bits, counters, RTT slots), the verdict queue (a mutex) and
// the gate (a mutex): the driver is clean under ThreadSanitizer with the fake transport.
#pragma once

#include "scan/engine.h"
#include "scan/probe_module.h"
#include "scan/transport.h"

namespace gh {

// Runs one raw scan of ctx.space with `module` through `transport`: opens the transport (which
// prepares the module), calls ctx.after_sockets_open, then sends, retries and reports. With
// ctx.config.dry_run it prints one line per probe (module.describe) and sends nothing.
// `opened`: the transport was opened already (with a target set that covers ctx.space's targets,
// and this module): a scan plan's port stage runs the driver once per group of hosts found up,
// through one transport opened before the privilege drop (run/port_stage.h).
EngineReport run_raw_driver(EngineContext& ctx, Transport& transport, ProbeModule& module,
                            bool opened = false);

}  // namespace gh
