// The scan options of signed scopes and announced probes (--owner-key, --require-signed,
// --announce), in a block of their own: add_auth_options() declares them on the scan's CLI11 app,
// finish_auth_options() checks them once parsed and merges the system policy file
// (/etc/glasshouse/policy.toml, or GLASSHOUSE_POLICY; auth/scan_auth.h).
#pragma once

#include <CLI/CLI.hpp>

#include "scan/config.h"

namespace gh {

inline constexpr const char* kPolicyEnv = "GLASSHOUSE_POLICY";

void add_auth_options(CLI::App& app, ScanConfig& c);
// UsageError for contradictions (--require-signed or --announce without --scope, --announce
// with anything but -sS) and a malformed policy file.
void finish_auth_options(ScanConfig& c);

}  // namespace gh
