// The result table (output/result_table.h) as bytes, for the resume file: a checkpoint saves the
// table with the engine's progress, and a resumed run starts from it, so the sinks that write the
// whole picture at the end (text, XML, grepable) and the database write every port of the scan,
// not only those of the last run (run/checkpoint_session.h).
//
// What is kept: each host's address, its stored verdicts in arrival order (port, protocol,
// state, reason, reply TTL), its kept no-response ports and whether more came, and its discovery
// record (state, reason, TTL, MAC, vendor, latency and times, names, when, and the -O hint with
// its evidence: a resumed run does not probe again the ports whose SYN-ACK gave it). Services are
// not kept:
// -sV runs after the port scan, and a resumed run probes the table's open ports again. The
// restored table reports the same hosts_up(), count() and entries() as the saved one.
//
// Format (version 2, integers little-endian): "GHTABLE2" | u64 ports_per_host | u64 hosts |
// per host: u8 family | [16] address | u32 entries x (u16 port, u8 proto, u8 state, u8 reason,
// u8 ttl) | u32 silent x u32 key | u8 overflow | u8 has record [record]; a record ends with
// u8 has_hint [str name | str evidence | u8 ttl | u16 window | u16 mss | u8 wscale | u8 count |
// [20] option kinds | u16 port]. Version 1 ("GHTABLE1", resume files written before -O was kept)
// has no hint and is still read.
#pragma once

#include <string>
#include <string_view>

#include "output/result_table.h"

namespace gh {

std::string encode_table(const ResultTable& table);
// Adds what `bytes` holds to `table` (normally empty, made with the same ports_per_host). Throws
// UsageError naming `name` when the bytes are not a table this version wrote.
void decode_table(std::string_view bytes, ResultTable& table, std::string_view name);

}  // namespace gh
