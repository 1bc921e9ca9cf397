// Addresses that are never probed, whatever the targets say.
//
// The default exclusions are ranges no scan can use sensibly: 0.0.0.0/8 ("this network"),
// 224.0.0.0/4 (IPv4 multicast), 240.0.0.0/4 (reserved, with the broadcast 255.255.255.255) and
// ff00::/8 (IPv6 multicast). Private, loopback and benchmarking ranges are NOT excluded.
// `--no-default-excludes` turns them off. A system-wide exclude file (by default
// /etc/glasshouse/exclude.conf: one range a line, '#' comments), like masscan's, is always applied
// when it exists. Both are subtracted from the target set when the command line is parsed, and
// the probe gate (policy/probe_gate.h) refuses them again as a second line of defence.
#pragma once

#include <optional>
#include <string>

#include "core/address.h"
#include "targets/target_set.h"

namespace gh {

inline constexpr const char* kSystemExcludeFile = "/etc/glasshouse/exclude.conf";
// The environment variable that points the system exclude file elsewhere (for tests).
inline constexpr const char* kSystemExcludeEnv = "GLASSHOUSE_EXCLUDE_CONF";

// 0.0.0.0/8, 224.0.0.0/4, 240.0.0.0/4, ff00::/8.
const TargetSet& default_exclusions();
// The same, as text for messages and help.
const char* default_exclusions_text();

// Reads an exclude file: address specs (addresses, CIDR blocks, dash and octet ranges; no host
// names), whitespace separated, '#' to the end of a line is a comment. nullopt when the file does
// not exist. Throws UsageError naming "file:line" for a malformed line, RuntimeError when the
// file exists but cannot be read.
std::optional<TargetSet> load_exclude_file(const std::string& path);

struct Exclusions {
  TargetSet never;           // every excluded range applied: the gate refuses these
  u128 default_skipped = 0;  // target addresses the default exclusions removed
  u128 system_skipped = 0;   // target addresses the system file removed (beyond the defaults)
  std::string system_file;   // the system file applied; empty when there was none
};

// Subtracts the default exclusions (when `defaults`) and the system exclude file at
// `system_file_path` (when it exists) from `targets`, counting what each removed.
Exclusions apply_exclusions(TargetSet& targets, bool defaults, const std::string& system_file_path);

}  // namespace gh
