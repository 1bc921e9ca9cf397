#include "cli/scope_command.h"
#include "cli/cli_checks.h"

#include <CLI/CLI.hpp>

#include <iostream>

#include <fmt/format.h>
#include <string.h>
#include <sys/random.h>

#include "auth/owner_key.h"
#include "auth/signed_scope.h"
#include "core/error.h"
#include "policy/scope.h"

namespace gh {
namespace {

std::string public_path_for(const std::string& key_path) {
  const std::string ext = ".key";
  if (key_path.size() > ext.size() &&
      key_path.compare(key_path.size() - ext.size(), ext.size(), ext) == 0)
    return key_path.substr(0, key_path.size() - ext.size()) + ".pub";
  return key_path + ".pub";
}

int keygen(const std::string& out, bool force) {
  auth::PrivateKey key = auth::PrivateKey::generate();
  auth::PublicKey pub = key.public_key();
  std::string pem = key.to_pem();
  const std::string pub_path = public_path_for(out);
  auth::write_new_file(out, pem, 0600, force);
  explicit_bzero(pem.data(), pem.size());
  auth::write_new_file(pub_path, auth::to_pem(pub), 0644, force);
  std::cout << fmt::format(
      "wrote {} (private key, mode 0600) and {} (public key)\nfingerprint {}\n", out, pub_path,
      pub.fingerprint());
  return kExitOk;
}

std::string random_secret_hex() {
  unsigned char b[32];
  if (getrandom(b, sizeof b, 0) != static_cast<ssize_t>(sizeof b))
    throw RuntimeError("cannot draw random bytes (getrandom)");
  std::string hex;
  for (unsigned char c : b) hex += fmt::format("{:02x}", c);
  explicit_bzero(b, sizeof b);
  return hex;
}

int sign(const std::string& file, const std::string& key_path, std::string out, bool no_announce) {
  std::string text = auth::read_file(file, "scope file");
  auth::PrivateKey key = auth::load_private_key(key_path);
  // Sign only what a scan would accept.
  auth::SplitScope split = auth::split_signed_scope(text, file);
  std::string body(split.body);
  Scope scope = parse_scope(body, file);
  if (!scope.announce && !no_announce) {
    if (!body.empty() && body.back() != '\n') body += '\n';
    body += fmt::format(
        "\n# Added by glasshouse scope sign: the key of the tags `scan --announce` puts on each\n"
        "# probe. Keep this file as confidential as the engagement.\n"
        "[announce]\nsecret = \"{}\"\n",
        random_secret_hex());
    scope = parse_scope(body, file);
  }
  std::string signed_text = auth::sign_scope_text(body, key, file);
  if (out.empty()) out = file;
  auth::write_new_file(out, signed_text, 0600, true);
  std::cout << fmt::format("signed {} (engagement {}, authorized {}) with {}{}\n", out,
                           scope.engagement.id, format_window(scope.engagement),
                           key.public_key().fingerprint(),
                           scope.announce ? "; it has an [announce] secret" : "");
  return kExitOk;
}

int verify(const std::string& file, const std::vector<std::string>& owner_keys) {
  std::string text = auth::read_file(file, "scope file");
  std::vector<auth::PublicKey> trusted = auth::load_trusted_keys(owner_keys);
  auth::SignatureCheck c = auth::check_scope_signature(text, trusted, file);
  if (c.status != auth::SignatureStatus::Verified)
    throw ScopeRefused(fmt::format("scope {}: {}", file, auth::describe(c)));
  Scope scope = parse_scope(text, file);
  const Engagement& e = scope.engagement;
  std::string window = format_window(e);
  auto now = WallClock::now();
  if ((e.not_after && now > *e.not_after)) window += " (closed)";
  if ((e.not_before && now < *e.not_before)) window += " (not open yet)";
  std::cout << fmt::format(
      "{}: good signature by {} ({})\nengagement {}, authorized by {}{}\nwindow {}\n", file,
      c.signer, c.signer_key, e.id, e.authorized_by,
      e.contact.empty() ? std::string() : ", contact " + e.contact, window);
  return kExitOk;
}

}  // namespace

int run_scope_command(const std::vector<std::string>& args) {
  CLI::App app{"glasshouse scope: sign scopes of authorization as the network's owner",
               "glasshouse scope"};
  app.set_help_flag("-h,--help", "Print this help and exit");
  app.require_subcommand(1);
  std::string out, file, key;
  bool force = false, no_announce = false;
  std::vector<std::string> owner_keys;
  auto* kg = app.add_subcommand("keygen", "Make an Ed25519 owner key pair (KEY and KEY.pub)");
  kg->add_option("-o,--out", out, "Private key file (default owner.key; the .pub goes beside it)");
  kg->add_flag("--force", force, "Replace existing key files");
  auto* sg = app.add_subcommand("sign", "Sign a scope file with the owner's private key");
  sg->add_option("scope", file, "The scope file (TOML)")->required();
  sg->add_option("--key", key, "The owner's private key (PEM)")->required();
  sg->add_option("-o,--out", out, "Write the signed scope here (default: replace SCOPE)");
  sg->add_flag("--no-announce", no_announce, "Do not add an [announce] secret");
  auto* vf = app.add_subcommand("verify", "Check a signed scope against trusted owner keys");
  vf->add_option("scope", file, "The signed scope file")->required();
  one_value_per_use(
      vf->add_option("--owner-key", owner_keys, "Trusted owner public key, or a directory of them"))
      ->required();
  std::vector<std::string> argv(args.rbegin(), args.rend());
  try {
    app.parse(argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    if (msg.empty()) msg = e.get_name();
    throw UsageError("scope: " + msg + " (glasshouse scope --help)");
  }
  if (kg->parsed()) return keygen(out.empty() ? "owner.key" : out, force);
  if (sg->parsed()) return sign(file, key, out, no_announce);
  return verify(file, owner_keys);
}

}  // namespace gh
