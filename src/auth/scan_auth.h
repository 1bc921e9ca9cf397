// The scanner's side of signed scopes (docs/AUTHORIZATION.md): which owner keys the operator
// trusts, whether an unsigned scope is acceptable, and what `--announce` tags probes with.
//
// Callers: parse_scan_args fills AuthSpec from the command line and the system policy file
// (load_system_policy); run_scan calls authorize_scope() in its policy stage, right after
// load_scope() and before anything is opened or sent; a refusal there is a ScopeRefused (exit 2,
// a "refused" audit record, nothing sent).
//
// System policy (TOML), /etc/glasshouse/policy.toml, or the file GLASSHOUSE_POLICY names:
//   require_signed = true                      # refuse unsigned or unverifiable scopes
//   owner_keys = ["/etc/glasshouse/owner-keys"]  # trusted keys: files or directories
// Absent: nothing required. Malformed: refused (UsageError naming file and line).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/announce.h"
#include "auth/auth_spec.h"
#include "auth/signed_scope.h"
#include "policy/scope.h"

namespace gh::auth {

inline constexpr const char* kSystemPolicyFile = "/etc/glasshouse/policy.toml";

struct SystemPolicy {
  std::string path;  // the file read; empty when there was none
  bool require_signed = false;
  std::vector<std::string> owner_keys;
};
// Reads `path` when it exists (a missing file is no policy).
SystemPolicy load_system_policy(const std::string& path);

struct ScopeAuthorization {
  SignatureCheck check;
  std::vector<std::string> notes;                   // one line each, for stderr
  std::shared_ptr<const ProbeAnnouncer> announcer;  // with --announce
};

// Checks the scope's signature against the trusted keys and what `spec` requires. Fills `out` as
// it goes (the signer's fingerprint is known to the audit record even when refused), then throws
// ScopeRefused when:
//   - the signature does not verify under the trusted key it names (altered, or another file's);
//   - owner keys are given and the scope is signed by none of them;
//   - signed scopes are required and it is unsigned, or no trusted key verifies it;
//   - --announce without a verified signature, or without an [announce] secret.
void authorize_scope(const Scope& scope, const AuthSpec& spec, ScopeAuthorization& out);

}  // namespace gh::auth
