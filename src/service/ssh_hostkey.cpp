#include "service/ssh_hostkey.h"

#include <nettle/base64.h>
#include <openssl/evp.h>
#include <sys/random.h>

#include <cstdint>
#include <cstring>
#include <exception>

#include "audit/sha256.h"
#include "core/dynlib.h"

namespace gh {
namespace {

void put_u32(std::string& s, uint32_t v) {
  s += static_cast<char>(v >> 24);
  s += static_cast<char>(v >> 16);
  s += static_cast<char>(v >> 8);
  s += static_cast<char>(v);
}
void put_string(std::string& s, std::string_view v) {
  put_u32(s, static_cast<uint32_t>(v.size()));
  s += v;
}
uint32_t get_u32(std::string_view s, size_t pos) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(s[pos])) << 24) |
         (static_cast<uint32_t>(static_cast<unsigned char>(s[pos + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<unsigned char>(s[pos + 2])) << 8) |
         static_cast<uint32_t>(static_cast<unsigned char>(s[pos + 3]));
}
// Reads an SSH string at pos; false when it runs past the end.
bool get_string(std::string_view s, size_t& pos, std::string_view& out) {
  if (pos + 4 > s.size()) return false;
  uint32_t n = get_u32(s, pos);
  if (n > s.size() - pos - 4) return false;
  out = s.substr(pos + 4, n);
  pos += 4 + n;
  return true;
}

}  // namespace

namespace {

// The key exchange's X25519 key, from libcrypto, loaded by the first SSH probe (-sV), not at
// every start (core/dynlib.h). Only its public half leaves: the exchange is never finished,
// the server's host key is all we want.
struct X25519 {
  DynLib lib{"libcrypto.so.3", "libssl3", "-sV (the SSH host key)"};
  GH_DYNLIB_FN(EVP_PKEY_CTX_new_id);
  GH_DYNLIB_FN(EVP_PKEY_keygen_init);
  GH_DYNLIB_FN(EVP_PKEY_keygen);
  GH_DYNLIB_FN(EVP_PKEY_get_raw_public_key);
  GH_DYNLIB_FN(EVP_PKEY_free);
  GH_DYNLIB_FN(EVP_PKEY_CTX_free);
};

const X25519* x25519() {
  static const X25519* api = new X25519();
  return api;
}

}  // namespace

SshKex::SshKex() {
  const X25519* api = nullptr;
  try {
    api = x25519();
  } catch (const std::exception& e) {  // no libcrypto: this probe fails, the scan goes on
    error_ = e.what();
    return;
  }
  EVP_PKEY* key = nullptr;
  EVP_PKEY_CTX* ctx = api->EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, nullptr);
  if (ctx != nullptr && api->EVP_PKEY_keygen_init(ctx) == 1 &&
      api->EVP_PKEY_keygen(ctx, &key) == 1) {
    unsigned char pub[32];
    size_t len = sizeof pub;
    if (api->EVP_PKEY_get_raw_public_key(key, pub, &len) == 1)
      pub_.assign(reinterpret_cast<char*>(pub), len);
  }
  api->EVP_PKEY_free(key);
  api->EVP_PKEY_CTX_free(ctx);
  if (pub_.size() != 32) error_ = "cannot make an X25519 key";
}

std::string SshKex::packet(std::string_view payload) const {
  size_t pad = 8 - ((5 + payload.size()) % 8);
  if (pad < 4) pad += 8;
  std::string p;
  put_u32(p, static_cast<uint32_t>(1 + payload.size() + pad));
  p += static_cast<char>(pad);
  p += payload;
  p.append(pad, '\0');
  return p;
}

std::string SshKex::start() {
  std::string kexinit;
  kexinit += static_cast<char>(20);  // SSH_MSG_KEXINIT
  unsigned char cookie[16] = {};
  if (getrandom(cookie, sizeof cookie, 0) != static_cast<ssize_t>(sizeof cookie))
    error_ = "cannot draw the KEXINIT cookie (getrandom)";
  kexinit.append(reinterpret_cast<char*>(cookie), sizeof cookie);
  put_string(kexinit, "curve25519-sha256,curve25519-sha256@libssh.org");
  put_string(kexinit,
             "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,"
             "rsa-sha2-512,rsa-sha2-256,ssh-rsa,ssh-dss");
  for (int i = 0; i < 2; ++i)
    put_string(kexinit,
               "chacha20-poly1305@openssh.com,aes128-ctr,aes256-ctr,aes128-gcm@openssh.com");
  for (int i = 0; i < 2; ++i) put_string(kexinit, "hmac-sha2-256,hmac-sha1,umac-64@openssh.com");
  for (int i = 0; i < 2; ++i) put_string(kexinit, "none");
  for (int i = 0; i < 2; ++i) put_string(kexinit, "");
  kexinit += '\0';  // first_kex_packet_follows
  put_u32(kexinit, 0);
  return "SSH-2.0-Glasshouse\r\n" + packet(kexinit);
}

std::string SshKex::feed(std::string_view bytes) {
  std::string out;
  if (done_ || failed()) return out;
  buf_ += bytes;
  while (buf_.size() >= 5) {
    uint32_t len = get_u32(buf_, 0);
    if (len < 2 || len > kMaxPacket) {
      error_ = "bad SSH packet length";
      return out;
    }
    if (buf_.size() < 4 + static_cast<size_t>(len)) break;
    unsigned char pad = static_cast<unsigned char>(buf_[4]);
    if (pad + 1u >= len) {
      error_ = "bad SSH padding";
      return out;
    }
    std::string payload = buf_.substr(5, len - pad - 1);
    buf_.erase(0, 4 + static_cast<size_t>(len));
    unsigned char msg = static_cast<unsigned char>(payload[0]);
    if (msg == 20 && !sent_init_) {                // the server's KEXINIT
      std::string init(1, static_cast<char>(30));  // SSH_MSG_KEX_ECDH_INIT
      put_string(init, pub_);
      out += packet(init);
      sent_init_ = true;
    } else if (msg == 31) {  // SSH_MSG_KEX_ECDH_REPLY: string K_S, string Q_S, string sig
      size_t pos = 1;
      std::string_view blob, type;
      if (!get_string(payload, pos, blob) || blob.empty()) {
        error_ = "bad KEX_ECDH_REPLY";
        return out;
      }
      size_t tp = 0;
      if (!get_string(blob, tp, type) || type.empty() || type.size() > 64) {
        error_ = "bad host key blob";
        return out;
      }
      key_type_ = std::string(type);
      const Sha256Digest md = sha256(blob);
      char b64[BASE64_ENCODE_RAW_LENGTH(32)];
      base64_encode_raw(b64, md.size(), md.data());
      std::string fp(b64, sizeof b64);
      while (!fp.empty() && fp.back() == '=') fp.pop_back();
      fingerprint_ = "SHA256:" + fp;
      done_ = true;
      return out;
    } else if (msg == 1) {
      error_ = "the server disconnected";
      return out;
    }
    // Anything else (SSH_MSG_IGNORE, DEBUG, EXT_INFO) is skipped.
  }
  return out;
}

bool parse_ssh_banner(std::string_view line, std::string& protocol, std::string& software) {
  if (line.substr(0, 4) != "SSH-") return false;
  line.remove_prefix(4);
  size_t dash = line.find('-');
  if (dash == std::string_view::npos) return false;
  protocol = std::string(line.substr(0, dash));
  std::string_view rest = line.substr(dash + 1);
  size_t end = rest.find_first_of("\r\n");
  software = std::string(rest.substr(0, end));
  return true;
}

}  // namespace gh
