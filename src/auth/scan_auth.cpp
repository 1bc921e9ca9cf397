#include "auth/scan_auth.h"

#include <sys/stat.h>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "core/error.h"

namespace gh::auth {

SystemPolicy load_system_policy(const std::string& path) {
  SystemPolicy p;
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return p;
  p.path = path;
  std::string text = read_file(path, "policy file");
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    throw UsageError(fmt::format("malformed policy file {}:{}: {}", path, e.source().begin.line,
                                 e.description()));
  }
  for (const auto& [key, node] : root) {
    int line = static_cast<int>(node.source().begin.line);
    if (key.str() == "require_signed") {
      auto v = node.value<bool>();
      if (!node.is_boolean() || !v)
        throw UsageError(
            fmt::format("malformed policy file {}:{}: require_signed must be true or "
                        "false",
                        path, line));
      p.require_signed = *v;
    } else if (key.str() == "owner_keys") {
      const toml::array* a = node.as_array();
      if (a == nullptr)
        throw UsageError(fmt::format(
            "malformed policy file {}:{}: owner_keys must be a list of files or directories", path,
            line));
      for (const auto& item : *a) {
        const auto* s = item.as_string();
        if (s == nullptr || s->get().empty())
          throw UsageError(
              fmt::format("malformed policy file {}:{}: owner_keys holds a "
                          "non-string or an empty string",
                          path, line));
        p.owner_keys.push_back(s->get());
      }
    } else {
      throw UsageError(fmt::format(
          "malformed policy file {}:{}: unknown key \"{}\" (expected require_signed, owner_keys)",
          path, line, key.str()));
    }
  }
  return p;
}

void authorize_scope(const Scope& scope, const AuthSpec& spec, ScopeAuthorization& out) {
  std::vector<PublicKey> trusted = load_trusted_keys(spec.owner_keys);
  out.check = check_scope_signature(scope.text, trusted, scope.source);
  const SignatureCheck& c = out.check;
  const std::string& file = scope.source;
  switch (c.status) {
    case SignatureStatus::Invalid:
      throw ScopeRefused(fmt::format("refused: scope {}: {}; nothing was sent", file, describe(c)));
    case SignatureStatus::UnknownKey:
      if (!trusted.empty() || spec.require_signed)
        throw ScopeRefused(fmt::format("refused: scope {} is {}{}; nothing was sent", file,
                                       describe(c),
                                       trusted.empty() ? " (no --owner-key was given)" : ""));
      out.notes.push_back(
          fmt::format("scope {} is signed by {}, not checked: no --owner-key names a trusted key",
                      file, c.signer));
      break;
    case SignatureStatus::Unsigned:
      if (spec.require_signed)
        throw ScopeRefused(fmt::format(
            "refused: scope {} is not signed, and {} requires a scope signed by the network's "
            "owner (glasshouse scope sign); nothing was sent",
            file, spec.required_by.empty() ? "--require-signed" : spec.required_by));
      break;
    case SignatureStatus::Verified:
      out.notes.push_back(fmt::format("scope {}: {}", file, describe(c)));
      break;
  }
  if (!spec.announce) return;
  if (c.status != SignatureStatus::Verified)
    throw ScopeRefused(fmt::format(
        "refused: --announce needs a scope signed by a trusted owner key (--owner-key); scope {} "
        "is {}; nothing was sent",
        file, describe(c)));
  if (!scope.announce)
    throw ScopeRefused(fmt::format(
        "refused: --announce needs an [announce] secret in the signed scope {} (glasshouse scope "
        "sign adds one); nothing was sent",
        file));
  out.announcer = std::make_shared<ProbeAnnouncer>(
      AnnounceKey::derive(scope.announce->secret, c.body_sha256), scope.announce->uri);
  out.notes.push_back(
      fmt::format("--announce: every probe carries a tag of engagement {} (handle {:08x})",
                  scope.engagement.id, out.announcer->key().handle));
}

}  // namespace gh::auth
