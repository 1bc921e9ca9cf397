// The start of an SSH key exchange, just far enough to read the server's host key (RFC 4253,
// RFC 8731): our identification and KEXINIT (curve25519-sha256 only), then, after the server's
// KEXINIT, SSH_MSG_KEX_ECDH_INIT with an ephemeral X25519 key (OpenSSL); the server's
// SSH_MSG_KEX_ECDH_REPLY carries the host key blob, whose type and SHA-256 fingerprint (as
// ssh-keygen -l prints it) are recorded. The exchange stops there: no NEWKEYS, no
// authentication, and the signature is not checked (we name the key, we do not trust it).
// Every packet is bounded (kMaxPacket); a server that sends anything else fails the exchange.
#pragma once

#include <string>
#include <string_view>

namespace gh {

class SshKex {
 public:
  static constexpr size_t kMaxPacket = 64 * 1024;
  SshKex();
  // Our identification line and KEXINIT packet, to send once the server's banner has come.
  std::string start();
  // Bytes from the server after its identification line. Returns bytes to send (may be empty).
  std::string feed(std::string_view bytes);
  bool done() const { return done_; }
  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& key_type() const { return key_type_; }        // "ssh-ed25519"
  const std::string& fingerprint() const { return fingerprint_; }  // "SHA256:base64"

 private:
  std::string packet(std::string_view payload) const;
  std::string buf_;
  std::string pub_;  // our X25519 public key (32 bytes)
  bool sent_init_ = false, done_ = false;
  std::string error_, key_type_, fingerprint_;
};

// The software part of an identification line ("SSH-2.0-OpenSSH_9.2p1 Debian-2" ->
// protocol "2.0", software "OpenSSH_9.2p1 Debian-2"). False when it is not one.
bool parse_ssh_banner(std::string_view line, std::string& protocol, std::string& software);

}  // namespace gh
