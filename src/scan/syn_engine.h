// The raw-packet TCP SYN scan engine (nmap -sS), stateless in the manner of zmap and masscan.
//
// Send path (the calling thread): walk the Permutation of the ProbeSpace, build each probe from a
// template (probe_tcp_syn.h), batch it through the throttle (rate_limiter.h) into an AF_PACKET
// socket on the interface the kernel's routing table names (io/route.h).
// Receive path (a thread of its own): read frames from the same interface through a BPF filter,
// parse them (net/packet.h), and keep those whose keyed cookie checks out; no per-probe state is
// consulted. Verdicts travel to the send thread, which owns the only per-probe state: one
// "answered" bit per probe index.
// Retries: after each pass and a wait for stragglers, the probes without an answer are sent again
// (in a fresh shuffled order), up to --max-retries passes, stopping early after two passes in a
// row that bring no new answer. What never answered is reported filtered (no-response).
#pragma once

#include "scan/engine.h"

namespace gh {

EngineReport run_syn_scan(EngineContext& ctx);

}  // namespace gh
