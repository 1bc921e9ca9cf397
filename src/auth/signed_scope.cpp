#include "auth/signed_scope.h"

#include <fmt/format.h>

#include "audit/sha256.h"
#include "policy/scope.h"

namespace gh::auth {
namespace {

[[noreturn]] void bad_block(const std::string& source, std::string_view why) {
  throw ScopeRefused(fmt::format("malformed scope signature in {}: {}", source, why));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// The offset of a line that is exactly `line` (at the start of the text or after '\n').
size_t find_line(std::string_view text, std::string_view line) {
  size_t at = 0;
  while ((at = text.find(line, at)) != std::string_view::npos) {
    bool starts = at == 0 || text[at - 1] == '\n';
    size_t end = at + line.size();
    bool ends = end == text.size() || text[end] == '\n' || text[end] == '\r';
    if (starts && ends) return at;
    at = end;
  }
  return std::string_view::npos;
}

std::string message(std::string_view body) {
  std::string m(kScopeSignatureDomain);
  m += body;
  return m;
}

}  // namespace

SplitScope split_signed_scope(std::string_view text, const std::string& source) {
  SplitScope out;
  size_t begin = find_line(text, kBeginLine);
  if (begin == std::string_view::npos) {
    if (text.find("GLASSHOUSE SCOPE SIGNATURE") != std::string_view::npos)
      bad_block(source, "a signature line that is not a whole BEGIN line");
    out.body = text;
    return out;
  }
  out.body = text.substr(0, begin);
  std::string_view rest = text.substr(begin);
  std::vector<std::string_view> lines;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    lines.push_back(rest.substr(0, nl));
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  while (!lines.empty() && trim(lines.back()).empty()) lines.pop_back();
  if (lines.size() != 4 || trim(lines[3]) != kEndLine)
    bad_block(source,
              "expected the BEGIN line, \"# key: ...\", \"# signature: ...\" and the END "
              "line, and nothing after it");
  SignatureBlock block;
  auto field = [&](std::string_view line, std::string_view name) {
    std::string prefix = fmt::format("# {}:", name);
    if (line.substr(0, prefix.size()) != prefix)
      bad_block(source, fmt::format("expected \"{} ...\"", prefix));
    return trim(line.substr(prefix.size()));
  };
  block.key_hint = std::string(field(lines[1], "key"));
  std::vector<uint8_t> sig;
  if (!base64_decode(field(lines[2], "signature"), sig) || sig.size() != block.signature.size())
    bad_block(source, "the signature is not 64 bytes of base64");
  std::copy(sig.begin(), sig.end(), block.signature.begin());
  out.block = block;
  return out;
}

std::string sign_scope_text(std::string_view text, const PrivateKey& key,
                            const std::string& source) {
  SplitScope split = split_signed_scope(text, source);
  std::string body(split.body);
  if (!body.empty() && body.back() != '\n') body += '\n';
  Ed25519Signature sig = key.sign(message(body));
  return fmt::format("{}{}\n# key: {}\n# signature: {}\n{}\n", body, kBeginLine,
                     key.public_key().fingerprint(), base64_encode(sig.data(), sig.size()),
                     kEndLine);
}

SignatureCheck check_scope_signature(std::string_view text, const std::vector<PublicKey>& trusted,
                                     const std::string& source) {
  SplitScope split = split_signed_scope(text, source);
  SignatureCheck c;
  c.body_sha256 = sha256_hex(split.body);
  if (!split.block) return c;
  const std::string m = message(split.body);
  for (const PublicKey& k : trusted) {
    if (verify(k, m, split.block->signature)) {
      c.status = SignatureStatus::Verified;
      c.signer = k.fingerprint();
      c.signer_key = k.source;
      return c;
    }
  }
  c.signer = split.block->key_hint;
  c.status = SignatureStatus::UnknownKey;
  for (const PublicKey& k : trusted)
    if (k.fingerprint() == split.block->key_hint) {
      c.status = SignatureStatus::Invalid;
      c.signer_key = k.source;
    }
  return c;
}

std::string describe(const SignatureCheck& c) {
  switch (c.status) {
    case SignatureStatus::Unsigned:
      return "not signed";
    case SignatureStatus::Verified:
      return fmt::format("signed by {} ({})", c.signer, c.signer_key);
    case SignatureStatus::UnknownKey:
      return fmt::format("signed by {}, which is none of the trusted owner keys", c.signer);
    case SignatureStatus::Invalid:
      return fmt::format(
          "the signature of {} ({}) does not verify: the scope was altered after signing, or the "
          "signature belongs to another file",
          c.signer, c.signer_key);
  }
  return "?";
}

}  // namespace gh::auth
