// Signed scopes: keys (formats, bad files), sign / verify, tampering with every field, a
// signature moved to another file, the scan-side rules (authorize_scope), the system policy.
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "auth/owner_key.h"
#include "auth/scan_auth.h"
#include "auth/signed_scope.h"
#include "core/error.h"
#include "policy/scope.h"

namespace gh::auth {
namespace {

const std::string kScope = R"(# ACME's authorization
[engagement]
id = "ACME-2026-11"
authorized_by = "Jane Roe, CISO, ACME Corp"
contact = "secops@acme.example"
not_before = 2026-11-01T00:00:00Z
not_after = 2027-12-31T23:59:59Z
[targets]
include = ["198.19.0.0/24", "2001:db8::/64"]
exclude = ["198.19.0.128/25"]
ports = "1-1024,8080"
[limits]
max_rate = 10000
max_host_rate = 500
[announce]
secret = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
uri = "https://acme.example/scan.txt"
)";

// A file in a fresh temporary directory, removed with it.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/gh-auth-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name, const std::string& contents) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << contents;
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Scope scope_of(const std::string& text) {
  Scope s = parse_scope(text, "test.toml");
  s.text = text;
  return s;
}

TEST(OwnerKey, PemRoundTripAndFingerprint) {
  PrivateKey k = PrivateKey::generate();
  PublicKey pub = k.public_key();
  std::string priv_pem = k.to_pem();
  std::string pub_pem = to_pem(pub);
  EXPECT_NE(priv_pem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
  EXPECT_NE(pub_pem.find("-----BEGIN PUBLIC KEY-----"), std::string::npos);
  EXPECT_EQ(parse_private_key(priv_pem, "k").public_key().raw, pub.raw);
  EXPECT_EQ(parse_public_key(pub_pem, "p").raw, pub.raw);
  // A private key file serves where a public key is wanted.
  EXPECT_EQ(parse_public_key(priv_pem, "k").raw, pub.raw);
  std::string fp = pub.fingerprint();
  EXPECT_EQ(fp.substr(0, 7), "sha256:");
  EXPECT_EQ(fp.size(), 7u + 64u);
  EXPECT_NE(PrivateKey::generate().public_key().fingerprint(), fp);
}

TEST(OwnerKey, SignVerify) {
  PrivateKey k = PrivateKey::generate();
  Ed25519Signature sig = k.sign("hello");
  EXPECT_TRUE(verify(k.public_key(), "hello", sig));
  EXPECT_FALSE(verify(k.public_key(), "hellp", sig));
  sig[10] ^= 1;
  EXPECT_FALSE(verify(k.public_key(), "hello", sig));
  EXPECT_FALSE(verify(PrivateKey::generate().public_key(), "hello", k.sign("hello")));
}

std::string ec_key_pem(bool priv) {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  BIO* b = BIO_new(BIO_s_mem());
  if (priv)
    PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
  else
    PEM_write_bio_PUBKEY(b, k);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(b);
  EVP_PKEY_free(k);
  return out;
}

TEST(OwnerKey, MalformedKeysRefused) {
  EXPECT_THROW(parse_public_key("", "empty.pub"), UsageError);
  EXPECT_THROW(parse_public_key("garbage\n", "g.pub"), UsageError);
  std::string pem = to_pem(PrivateKey::generate().public_key());
  std::string cut = pem.substr(0, pem.size() / 2);
  EXPECT_THROW(parse_public_key(cut, "cut.pub"), UsageError);
  std::string flipped = pem;
  flipped[30] = flipped[30] == 'A' ? 'B' : 'A';  // inside the base64 body
  try {
    PublicKey k = parse_public_key(flipped, "f.pub");
    // A flipped bit in the key bytes may still parse: it is then another key.
    EXPECT_NE(k.raw, parse_public_key(pem, "p").raw);
  } catch (const UsageError&) {
  }
  EXPECT_THROW(parse_public_key(ec_key_pem(false), "ec.pub"), UsageError);
  EXPECT_THROW(parse_private_key(ec_key_pem(true), "ec.key"), UsageError);
  EXPECT_THROW(parse_private_key(pem, "pub-as-private"), UsageError);
  EXPECT_THROW(parse_private_key("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n", "enc"),
               UsageError);
  try {
    parse_public_key(ec_key_pem(false), "ec.pub");
  } catch (const UsageError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("ec.pub"), std::string::npos) << what;
    EXPECT_NE(what.find("not Ed25519"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos);
  }
}

TEST(OwnerKey, TrustedKeysFromFilesAndDirectories) {
  TempDir dir;
  PrivateKey a = PrivateKey::generate(), b = PrivateKey::generate();
  std::filesystem::create_directory(dir.path() + "/keys");
  dir.file("keys/a.pub", to_pem(a.public_key()));
  dir.file("keys/b.pem", to_pem(b.public_key()));
  dir.file("keys/README", "not a key");
  std::string a_again = dir.file("a.pub", to_pem(a.public_key()));
  auto keys = load_trusted_keys({dir.path() + "/keys", a_again});
  ASSERT_EQ(keys.size(), 2u);  // a once
  std::filesystem::create_directory(dir.path() + "/empty");
  EXPECT_THROW(load_trusted_keys({dir.path() + "/empty"}), UsageError);
  EXPECT_THROW(load_trusted_keys({dir.path() + "/missing.pub"}), UsageError);
  dir.file("keys/zz.pub", "broken");
  EXPECT_THROW(load_trusted_keys({dir.path() + "/keys"}), UsageError);
}

TEST(OwnerKey, Base64) {
  std::vector<uint8_t> out;
  for (size_t n = 0; n < 70; ++n) {
    std::vector<uint8_t> in(n);
    for (size_t i = 0; i < n; ++i) in[i] = static_cast<uint8_t>(i * 37 + 1);
    std::string enc = base64_encode(in.data(), in.size());
    ASSERT_TRUE(base64_decode(enc, out)) << enc;
    EXPECT_EQ(out, in);
  }
  EXPECT_EQ(base64_encode(reinterpret_cast<const uint8_t*>("foob"), 4), "Zm9vYg==");
  EXPECT_FALSE(base64_decode("Zm9vYg=", out));
  EXPECT_FALSE(base64_decode("Zm9v!g==", out));
}

TEST(SignedScope, SignThenVerify) {
  PrivateKey k = PrivateKey::generate();
  std::string signed_text = sign_scope_text(kScope, k, "s.toml");
  EXPECT_EQ(signed_text.substr(0, kScope.size()), kScope);  // the body is unchanged
  SignatureCheck c = check_scope_signature(signed_text, {k.public_key()}, "s.toml");
  EXPECT_EQ(c.status, SignatureStatus::Verified);
  EXPECT_EQ(c.signer, k.public_key().fingerprint());
  // Still a valid scope (the block is TOML comments).
  EXPECT_EQ(parse_scope(signed_text, "s.toml").engagement.id, "ACME-2026-11");
  // Unsigned; signed by a key not trusted; no trusted keys.
  EXPECT_EQ(check_scope_signature(kScope, {k.public_key()}, "s").status, SignatureStatus::Unsigned);
  PrivateKey other = PrivateKey::generate();
  EXPECT_EQ(check_scope_signature(signed_text, {other.public_key()}, "s").status,
            SignatureStatus::UnknownKey);
  EXPECT_EQ(check_scope_signature(signed_text, {}, "s").status, SignatureStatus::UnknownKey);
  // Re-signing replaces the block (one block, by the new key).
  std::string resigned = sign_scope_text(signed_text, other, "s");
  EXPECT_EQ(resigned.find(kBeginLine), resigned.rfind(kBeginLine));
  EXPECT_EQ(check_scope_signature(resigned, {other.public_key()}, "s").status,
            SignatureStatus::Verified);
}

// Every line of the scope, changed in any way, breaks the signature: every field is covered.
TEST(SignedScope, TamperingWithEveryLineIsDetected) {
  PrivateKey k = PrivateKey::generate();
  std::string signed_text = sign_scope_text(kScope, k, "s.toml");
  size_t body_end = signed_text.find(kBeginLine);
  int lines = 0;
  for (size_t at = 0; at < body_end; at = signed_text.find('\n', at) + 1) {
    size_t eol = signed_text.find('\n', at);
    // Change the last character before the newline (a value, a key, a bracket, a comment).
    std::string t = signed_text;
    size_t pos = eol - 1;
    t[pos] = t[pos] == '1' ? '2' : '1';
    EXPECT_EQ(check_scope_signature(t, {k.public_key()}, "s").status, SignatureStatus::Invalid)
        << "line: " << signed_text.substr(at, eol - at);
    ++lines;
  }
  EXPECT_EQ(lines, 17);
  // Whitespace and an added line count too.
  std::string t = signed_text;
  t.insert(0, " ");
  EXPECT_EQ(check_scope_signature(t, {k.public_key()}, "s").status, SignatureStatus::Invalid);
  t = signed_text;
  t.insert(body_end, "[limits]\n");
  EXPECT_EQ(check_scope_signature(t, {k.public_key()}, "s").status, SignatureStatus::Invalid);
  // Field by field, with values that still parse: each one refused.
  const std::pair<std::string, std::string> edits[] = {
      {"ACME-2026-11", "ACME-2026-12"},
      {"Jane Roe", "John Doe"},
      {"secops@acme.example", "attacker@evil.example"},
      {"2026-11-01T00:00:00Z", "2020-11-01T00:00:00Z"},
      {"2027-12-31T23:59:59Z", "2037-12-31T23:59:59Z"},
      {"198.19.0.0/24", "198.19.0.0/16"},
      {"198.19.0.128/25", "198.19.0.192/26"},
      {"1-1024,8080", "1-65535"},
      {"max_rate = 10000", "max_rate = 99999"},
      {"max_host_rate = 500", "max_host_rate = 900"},
      {"00112233", "00112234"},
      {"scan.txt", "scan.htm"},
  };
  for (const auto& [from, to] : edits) {
    std::string e = signed_text;
    size_t at = e.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    e.replace(at, from.size(), to);
    EXPECT_NO_THROW(parse_scope(e, "s"));
    EXPECT_EQ(check_scope_signature(e, {k.public_key()}, "s").status, SignatureStatus::Invalid)
        << from;
  }
}

TEST(SignedScope, SignatureOfAnotherFileIsRefused) {
  PrivateKey k = PrivateKey::generate();
  std::string a = sign_scope_text(kScope, k, "a.toml");
  std::string other_body = kScope;
  other_body.replace(other_body.find("198.19.0.0/24"), 13, "198.18.0.0/15");
  std::string block = a.substr(a.find(kBeginLine));
  std::string b = other_body + block;
  EXPECT_EQ(check_scope_signature(b, {k.public_key()}, "b").status, SignatureStatus::Invalid);
}

TEST(SignedScope, MalformedBlocksRefused) {
  PrivateKey k = PrivateKey::generate();
  std::string s = sign_scope_text(kScope, k, "s.toml");
  auto refused = [&](const std::string& text) {
    EXPECT_THROW(check_scope_signature(text, {k.public_key()}, "s"), ScopeRefused) << text;
  };
  refused(s + "[targets]\n");                 // bytes after the END line
  refused(s + s.substr(s.find(kBeginLine)));  // a second block
  std::string t = s;
  t.erase(t.find(kEndLine));  // no END line
  refused(t);
  t = s;
  t.replace(t.find("# signature: ") + 13, 4, "!!!!");  // not base64
  refused(t);
  t = s;
  size_t sig = t.find("# signature: ") + 13;
  t.erase(sig, 4);  // too short
  refused(t);
  // Trailing blank lines are fine.
  EXPECT_EQ(check_scope_signature(s + "\n\n", {k.public_key()}, "s").status,
            SignatureStatus::Verified);
}

TEST(ScanAuth, Rules) {
  TempDir dir;
  PrivateKey owner = PrivateKey::generate(), stranger = PrivateKey::generate();
  std::string owner_pub = dir.file("owner.pub", to_pem(owner.public_key()));
  std::string stranger_pub = dir.file("stranger.pub", to_pem(stranger.public_key()));
  Scope signed_scope = scope_of(sign_scope_text(kScope, owner, "s"));
  Scope unsigned_scope = scope_of(kScope);
  std::string altered_text = signed_scope.text;
  altered_text.replace(altered_text.find("1-1024"), 6, "1-2048");
  Scope altered = scope_of(altered_text);

  auto run = [](const Scope& s, AuthSpec spec) {
    ScopeAuthorization out;
    authorize_scope(s, spec, out);
    return out;
  };
  AuthSpec trust{{owner_pub}, false, "", false};
  EXPECT_EQ(run(signed_scope, trust).check.status, SignatureStatus::Verified);
  EXPECT_EQ(run(unsigned_scope, trust).check.status, SignatureStatus::Unsigned);
  EXPECT_THROW(run(altered, trust), ScopeRefused);
  // No trusted key: the signature cannot be checked; a note says so, and the scan is not refused.
  ScopeAuthorization unchecked = run(altered, AuthSpec{});
  EXPECT_EQ(unchecked.check.status, SignatureStatus::UnknownKey);
  EXPECT_FALSE(unchecked.notes.empty());
  AuthSpec wrong{{stranger_pub}, false, "", false};
  EXPECT_THROW(run(signed_scope, wrong), ScopeRefused);
  AuthSpec require{{owner_pub}, true, "--require-signed", false};
  EXPECT_THROW(run(unsigned_scope, require), ScopeRefused);
  EXPECT_NO_THROW(run(signed_scope, require));
  EXPECT_THROW(run(signed_scope, AuthSpec{{}, true, "policy", false}), ScopeRefused);
  // --announce: only with a verified scope that has a secret.
  AuthSpec announce{{owner_pub}, false, "", true};
  ScopeAuthorization a = run(signed_scope, announce);
  ASSERT_NE(a.announcer, nullptr);
  EXPECT_THROW(run(unsigned_scope, announce), ScopeRefused);
  std::string no_secret = kScope.substr(0, kScope.find("[announce]"));
  EXPECT_THROW(run(scope_of(sign_scope_text(no_secret, owner, "s")), announce), ScopeRefused);
  // The refusal still names the signer (for the audit log).
  ScopeAuthorization out;
  try {
    authorize_scope(signed_scope, wrong, out);
  } catch (const ScopeRefused&) {
  }
  EXPECT_EQ(out.check.signer, owner.public_key().fingerprint());
}

TEST(ScanAuth, SystemPolicy) {
  TempDir dir;
  EXPECT_FALSE(load_system_policy(dir.path() + "/none.toml").require_signed);
  SystemPolicy p = load_system_policy(
      dir.file("p.toml", "require_signed = true\nowner_keys = [\"/etc/keys\"]\n"));
  EXPECT_TRUE(p.require_signed);
  ASSERT_EQ(p.owner_keys.size(), 1u);
  EXPECT_THROW(load_system_policy(dir.file("q.toml", "require_signd = true\n")), UsageError);
  EXPECT_THROW(load_system_policy(dir.file("r.toml", "require_signed = \"yes\"\n")), UsageError);
  EXPECT_THROW(load_system_policy(dir.file("t.toml", "owner_keys = \"x\"\n")), UsageError);
  EXPECT_THROW(load_system_policy(dir.file("u.toml", "= broken\n")), UsageError);
}

TEST(ScopeAnnounceTable, Parsed) {
  Scope s = parse_scope(kScope, "s");
  ASSERT_TRUE(s.announce);
  EXPECT_EQ(s.announce->secret.size(), 32u);
  EXPECT_EQ(s.announce->secret[1], 0x11);
  EXPECT_EQ(s.announce->uri, "https://acme.example/scan.txt");
  auto refused = [](const std::string& table) {
    std::string t = kScope.substr(0, kScope.find("[announce]")) + table;
    EXPECT_THROW(parse_scope(t, "s"), ScopeRefused) << table;
  };
  refused("[announce]\n");
  refused("[announce]\nsecret = \"0011\"\n");
  refused(
      "[announce]\nsecret = "
      "\"zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"\n");
  refused(
      "[announce]\nsecret = \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"\n"
      "uri = \"ftp://x\"\n");
  refused(
      "[announce]\nsecret = \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"\n"
      "secrte = \"x\"\n");
}

}  // namespace
}  // namespace gh::auth
