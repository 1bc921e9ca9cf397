// Reader of nmap's nmap-service-probes format (the user's installed copy; NPSL, never shipped).
//
// Lines: `Probe TCP|UDP NAME q|payload| [no-payload]`, then `rarity N`, `ports LIST`,
// `sslports LIST`, `totalwaitms MS`, `tcpwrappedms MS`, `fallback A,B`, and
// `match|softmatch SERVICE m<d>REGEX<d>[is] [p/../ v/../ i/../ h/../ o/../ d/../ cpe:/../[a]]`
// (each field with any delimiter). `Exclude` and '#' comments are skipped. Payload escapes: \\,
// \0, \a, \b, \f, \n, \r, \t, \v, \xHH.
//
// A malformed directive or match line throws UsageError naming the line ("FILE:LINE: ...").
// Regexes are not compiled here (ProbeDb compiles them on first use).
#pragma once

#include <istream>
#include <string>
#include <string_view>

#include "service/probe_db.h"

namespace gh {

ProbeDb parse_nmap_probes(std::istream& in, const std::string& name, DbSource source);

// Decodes a q|...| payload's escapes. Exposed for the tests and our TOML reader.
std::string decode_escapes(std::string_view s);

// Parses one `match`/`softmatch` line's text after the directive (SERVICE m|..|.. fields).
// Throws UsageError(where + ...) when malformed.
MatchRule parse_match_line(std::string_view rest, bool soft, const std::string& where,
                           DbSource source);

}  // namespace gh
