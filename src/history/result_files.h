// Result files read back into a RunData (store/run_data.h), for `glasshouse diff`, `report` and
// `merge`:
//   - our JSON Lines (-oJ, output/jsonl_sink.h): the "scan" (or "resume") header, "port" records,
//     the "summary"; records of other types (host, service... from newer writers) are used when
//     they carry what RunData holds, and skipped otherwise;
//   - nmap XML, ours (-oX) or nmap's: <nmaprun>, each <host> with <status>, <address>,
//     <hostnames>, <ports>/<port> with <state> and <service> (and <cpe>), <runstats>. Read with
//     libxml2, without the network, DTDs or entity expansion.
// The scan types (RunMeta::scan_types): JSON Lines' "scan_types" array, or its "scan_type" in
// files written before the array; in XML, each <scaninfo>'s type in order (-sS -sU: syn, udp).
// Which format: a file whose first non-blank byte is '<' is XML, '{' JSON Lines.
//
// Bad input is a UsageError naming the file and what is wrong, on one line: a file that cannot
// be read, a truncated or malformed XML document (with libxml2's line and message), a JSON Lines
// line that is not JSON, a port record without ip/port/state, a file that is neither format.
#pragma once

#include <string>

#include "store/run_data.h"

namespace gh {

RunData read_result_file(const std::string& path);
RunData read_jsonl_results(const std::string& text, const std::string& name);
RunData read_nmap_xml(const std::string& text, const std::string& name);

}  // namespace gh
