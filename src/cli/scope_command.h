// `glasshouse scope`: the network owner's tools for signed scopes (docs/AUTHORIZATION.md).
//
//   glasshouse scope keygen [-o OWNER.key] [--force]
//       an Ed25519 key pair: OWNER.key (PEM PKCS#8, mode 0600) and OWNER.pub beside it
//   glasshouse scope sign SCOPE.toml --key OWNER.key [-o OUT] [--no-announce]
//       checks the scope, adds an [announce] table with a fresh secret unless it has one (or
//       --no-announce), and writes it with its signature (in place, or to OUT)
//   glasshouse scope verify SCOPE.toml --owner-key PUB|DIR ...
//       exit 0 and a summary when a trusted key verifies it; one line and exit 2 otherwise
#pragma once

#include <string>
#include <vector>

namespace gh {

// args: what follows "scope". Returns the exit status; throws UsageError / RuntimeError.
int run_scope_command(const std::vector<std::string>& args);

}  // namespace gh
