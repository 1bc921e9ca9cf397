// Scope files signed by the network's owner (docs/AUTHORIZATION.md).
//
// The signature is embedded at the end of the scope file, as TOML comments, so that a signed
// scope is still one file that any TOML reader (and older Glasshouse) parses unchanged:
//
//   ...the scope, byte for byte as the owner wrote it...
//   # -----BEGIN GLASSHOUSE SCOPE SIGNATURE-----
//   # key: sha256:<hex SHA-256 of the owner's raw Ed25519 public key>
//   # signature: <base64 Ed25519 signature>
//   # -----END GLASSHOUSE SCOPE SIGNATURE-----
//
// What is signed: the exact bytes before the BEGIN line (the "body"), prefixed with the domain
// string kScopeSignatureDomain. Exact bytes, not a canonical form: every field, every comment and
// every byte of whitespace is covered, and nothing has to agree on a canonicalization. Nothing
// may follow the END line but whitespace; a second block, a block that does not parse, or bytes
// after it are refused. The "key" line is only a hint (it is not signed): verification tries
// every trusted key.
//
// Callers: `glasshouse scope sign|verify` (cli/scope_command.cpp), `scan --scope` through
// authorize_scope (auth/scan_auth.h), `watch --scope` (auth/watch_auth.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/owner_key.h"

namespace gh::auth {

inline constexpr std::string_view kScopeSignatureDomain = "glasshouse scope signature v1\n";
inline constexpr std::string_view kBeginLine = "# -----BEGIN GLASSHOUSE SCOPE SIGNATURE-----";
inline constexpr std::string_view kEndLine = "# -----END GLASSHOUSE SCOPE SIGNATURE-----";

struct SignatureBlock {
  std::string key_hint;  // the "key:" line
  Ed25519Signature signature{};
};

struct SplitScope {
  std::string_view body;                // the signed bytes (the whole text when unsigned)
  std::optional<SignatureBlock> block;  // nullopt: unsigned
};

// Splits a scope file's text. ScopeRefused (policy/scope.h) naming `source` when a signature
// block is present but malformed, or bytes follow it.
SplitScope split_signed_scope(std::string_view text, const std::string& source);

// The text with a fresh signature block (any old one is replaced).
std::string sign_scope_text(std::string_view text, const PrivateKey& key,
                            const std::string& source);

enum class SignatureStatus {
  Unsigned,    // no signature block
  Verified,    // verifies under one of the trusted keys
  UnknownKey,  // a signature, but under none of the trusted keys (and none claims it)
  Invalid,     // the block names a trusted key, and the signature does not verify: the scope was
               // altered after signing, or the block was copied from another file
};

struct SignatureCheck {
  SignatureStatus status = SignatureStatus::Unsigned;
  std::string signer;       // fingerprint of the verifying key (Verified), else the key hint
  std::string signer_key;   // the trusted key's file (Verified)
  std::string body_sha256;  // SHA-256 of the signed bytes: the scope's identity for --announce
};

SignatureCheck check_scope_signature(std::string_view text, const std::vector<PublicKey>& trusted,
                                     const std::string& source);

// One line for a status: "signed by sha256:... (owner.pub)", "not signed", ...
std::string describe(const SignatureCheck& c);

}  // namespace gh::auth
