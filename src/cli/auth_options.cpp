#include "cli/auth_options.h"
#include "cli/cli_checks.h"

#include <cstdlib>

#include "auth/scan_auth.h"
#include "core/error.h"

namespace gh {

void add_auth_options(CLI::App& app, ScanConfig& c) {
  one_value_per_use(
      app.add_option("--owner-key", c.auth.owner_keys,
                     "Trust this owner public key (PEM), or every *.pub/*.pem in a directory, to "
                     "sign --scope files (repeatable)"));
  app.add_flag("--require-signed", c.auth.require_signed,
               "Refuse a --scope that is not signed by a trusted owner key");
  app.add_flag("--announce", c.auth.announce,
               "-sS/-sU: tag every probe with the signed engagement (a TCP option, a UDP "
               "payload trailer), so that the owner's `glasshouse watch --owner-key` recognizes "
               "the scan");
}

void finish_auth_options(ScanConfig& c) {
  if (c.auth.require_signed) c.auth.required_by = "--require-signed";
  const char* env = std::getenv(kPolicyEnv);
  auth::SystemPolicy sys =
      auth::load_system_policy(env != nullptr && env[0] != '\0' ? env : auth::kSystemPolicyFile);
  for (const auto& k : sys.owner_keys) c.auth.owner_keys.push_back(k);
  if (sys.require_signed && !c.auth.require_signed) {
    c.auth.require_signed = true;
    c.auth.required_by = "the system policy " + sys.path;
  }
  if (c.type == ScanType::List) return;
  if (c.auth.require_signed && c.policy.scope_file.empty())
    throw UsageError(c.auth.required_by +
                     " requires a scope signed by the network's owner: give --scope FILE");
  if (c.auth.announce && c.policy.scope_file.empty())
    throw UsageError("--announce needs --scope with a signed scope: the tags are derived from it");
  if (c.auth.announce && c.type != ScanType::Syn && c.type != ScanType::Udp)
    throw UsageError(
        "--announce needs -sS or -sU (or both): the kernel's connect() and the flag scans do not "
        "carry the tag");
}

}  // namespace gh
