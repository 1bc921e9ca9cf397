// -O and -A in the run layer: the OS hint (scan/os_hint.h) of each host from its first SYN-ACK,
// added to the host's record in the table and sent to the sinks as a host event (the last host
// record wins; the table merges), and the one note line that says what -O does and does not do.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "output/result.h"
#include "output/result_table.h"
#include "output/sink.h"
#include "scan/config.h"

namespace gh {

// Called under the run's output lock with every port record that reached the table. When `r`
// carries a SYN-ACK and its host has no hint yet, builds the hint, adds it to the host's record
// (a new record, up, reason user-set, when the host had none: a -Pn scan) and calls every sink's
// host(). Returns true when it did.
bool record_os_hint(const PortResult& r, ResultTable& table,
                    const std::vector<std::unique_ptr<Sink>>& sinks);

// The stderr note for -O/-A (nullopt without them): what the hint is, and that it is not nmap's
// OS detection; with a scan type that sees no SYN-ACK (-sT, the flag scans), that there will be
// no hint and why.
std::optional<std::string> os_hint_note(const ScanConfig& config);

}  // namespace gh
