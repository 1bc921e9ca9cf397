// What the operator asked of signed scopes (`scan --owner-key`, `--require-signed`, `--announce`,
// and the system policy file): filled by parse_scan_args, read by authorize_scope
// (auth/scan_auth.h). A header of its own so that scan/config.h stays light.
#pragma once

#include <string>
#include <vector>

namespace gh::auth {

struct AuthSpec {
  std::vector<std::string> owner_keys;  // --owner-key (and the policy file's), files or dirs
  bool require_signed = false;          // --require-signed, or the policy file
  std::string required_by;              // "--require-signed" or the policy file, for messages
  bool announce = false;                // --announce
};

}  // namespace gh::auth
