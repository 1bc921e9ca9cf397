#include "service/tls_client.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <ctime>

#include <fmt/format.h>

#include "core/dynlib.h"

namespace gh {
namespace {

// libssl is loaded by the first TLS session (-sV), not at start (core/dynlib.h), and libcrypto
// with it (a dependency of libssl: the handle's lookups find its functions too).
struct Ssl {
  DynLib lib{"libssl.so.3", "libssl3", "-sV (TLS)"};
#define GH_SSL(name) GH_DYNLIB_FN(name)
  GH_SSL(SSL_CTX_new);
  GH_SSL(TLS_client_method);
  GH_SSL(SSL_CTX_set_verify);
  GH_SSL(SSL_CTX_set_security_level);
  GH_SSL(SSL_CTX_ctrl);
  GH_SSL(SSL_CTX_set_options);
  GH_SSL(SSL_new);
  GH_SSL(SSL_free);
  GH_SSL(SSL_set_bio);
  GH_SSL(SSL_set_connect_state);
  GH_SSL(SSL_ctrl);
  GH_SSL(SSL_do_handshake);
  GH_SSL(SSL_get_error);
  GH_SSL(SSL_write);
  GH_SSL(SSL_read);
  GH_SSL(SSL_get_version);
  GH_SSL(SSL_get_current_cipher);
  GH_SSL(SSL_CIPHER_get_name);
  GH_SSL(SSL_get1_peer_certificate);
  // libcrypto's
  GH_SSL(BIO_new);
  GH_SSL(BIO_s_mem);
  GH_SSL(BIO_free);
  GH_SSL(BIO_ctrl);
  GH_SSL(BIO_write);
  GH_SSL(BIO_read);
  GH_SSL(X509_NAME_print_ex);
  GH_SSL(ASN1_TIME_to_tm);
  GH_SSL(ERR_clear_error);
  GH_SSL(ERR_get_error);
  GH_SSL(ERR_error_string_n);
  GH_SSL(X509_get_subject_name);
  GH_SSL(X509_get_issuer_name);
  GH_SSL(X509_get0_notBefore);
  GH_SSL(X509_get0_notAfter);
  GH_SSL(X509_get_ext_d2i);
  GH_SSL(OPENSSL_sk_num);
  GH_SSL(OPENSSL_sk_value);
  GH_SSL(ASN1_STRING_get0_data);
  GH_SSL(ASN1_STRING_length);
  GH_SSL(GENERAL_NAMES_free);
  GH_SSL(X509_get0_pubkey);
  GH_SSL(X509_check_issued);
  GH_SSL(X509_verify);
  GH_SSL(EVP_PKEY_get_base_id);
  GH_SSL(EVP_PKEY_get_bits);
  GH_SSL(X509_digest);
  GH_SSL(EVP_sha256);
  GH_SSL(X509_free);
#undef GH_SSL
};

const Ssl& ssl_api() {
  static const Ssl* api = new Ssl();
  return *api;
}

SSL_CTX* client_ctx() {
  static SSL_CTX* ctx = [] {
    SSL_CTX* c = ssl_api().SSL_CTX_new(ssl_api().TLS_client_method());
    ssl_api().SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    ssl_api().SSL_CTX_set_security_level(c, 0);
    ssl_api().SSL_CTX_ctrl(c, SSL_CTRL_SET_MIN_PROTO_VERSION, 0, nullptr);
    ssl_api().SSL_CTX_set_options(c, SSL_OP_LEGACY_SERVER_CONNECT | SSL_OP_IGNORE_UNEXPECTED_EOF);
    return c;
  }();
  return ctx;
}

std::string name_text(const X509_NAME* n) {
  if (n == nullptr) return {};
  BIO* b = ssl_api().BIO_new(ssl_api().BIO_s_mem());
  ssl_api().X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long len = ssl_api().BIO_get_mem_data(b, &data);
  std::string s(data, static_cast<size_t>(len > 0 ? len : 0));
  ssl_api().BIO_free(b);
  return s;
}

std::string time_text(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ssl_api().ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

}  // namespace

struct TlsSession::Impl {
  SSL* ssl = nullptr;
  BIO* in = nullptr;   // socket -> OpenSSL
  BIO* out = nullptr;  // OpenSSL -> socket
  ~Impl() {
    if (ssl != nullptr) ssl_api().SSL_free(ssl);  // frees the BIOs too
  }
};

TlsSession::TlsSession(const std::string& sni) : impl_(std::make_unique<Impl>()) {
  impl_->ssl = ssl_api().SSL_new(client_ctx());
  impl_->in = ssl_api().BIO_new(ssl_api().BIO_s_mem());
  impl_->out = ssl_api().BIO_new(ssl_api().BIO_s_mem());
  ssl_api().BIO_set_mem_eof_return(impl_->in, -1);
  ssl_api().SSL_set_bio(impl_->ssl, impl_->in, impl_->out);
  ssl_api().SSL_set_connect_state(impl_->ssl);
  if (!sni.empty())  // SSL_set_tlsext_host_name, a macro over SSL_ctrl
    ssl_api().SSL_ctrl(impl_->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                       const_cast<char*>(sni.c_str()));
}

TlsSession::~TlsSession() = default;

void TlsSession::feed(std::string_view bytes) {
  if (state_ == State::Handshaking) {
    handshake_bytes_ += bytes.size();
    if (handshake_bytes_ > kMaxHandshakeBytes) {
      state_ = State::Failed;
      error_ = fmt::format("handshake larger than {} KiB", kMaxHandshakeBytes / 1024);
      return;
    }
  }
  if (!bytes.empty()) ssl_api().BIO_write(impl_->in, bytes.data(), static_cast<int>(bytes.size()));
}

TlsSession::State TlsSession::handshake() {
  if (state_ != State::Handshaking) return state_;
  ssl_api().ERR_clear_error();
  int rc = ssl_api().SSL_do_handshake(impl_->ssl);
  if (rc == 1) {
    state_ = State::Established;
    return state_;
  }
  int err = ssl_api().SSL_get_error(impl_->ssl, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return state_;
  state_ = State::Failed;
  unsigned long e = ssl_api().ERR_get_error();
  char buf[256];
  ssl_api().ERR_error_string_n(e, buf, sizeof buf);
  error_ = e != 0 ? buf : "handshake failed";
  return state_;
}

std::string TlsSession::take_output() {
  std::string out;
  char buf[16384];
  int n;
  while ((n = ssl_api().BIO_read(impl_->out, buf, sizeof buf)) > 0)
    out.append(buf, static_cast<size_t>(n));
  return out;
}

void TlsSession::write(std::string_view plain) {
  if (state_ != State::Established || plain.empty()) return;
  ssl_api().SSL_write(impl_->ssl, plain.data(), static_cast<int>(plain.size()));
}

std::string TlsSession::read() {
  std::string out;
  if (state_ != State::Established) return out;
  char buf[16384];
  for (;;) {
    ssl_api().ERR_clear_error();
    int n = ssl_api().SSL_read(impl_->ssl, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      if (out.size() > (1 << 20)) break;
      continue;
    }
    int err = ssl_api().SSL_get_error(impl_->ssl, n);
    if (err == SSL_ERROR_ZERO_RETURN) peer_closed_ = true;
    break;
  }
  return out;
}

TlsInfo TlsSession::info() const {
  TlsInfo i;
  SSL* ssl = impl_->ssl;
  i.version = ssl_api().SSL_get_version(ssl);
  if (const SSL_CIPHER* c = ssl_api().SSL_get_current_cipher(ssl))
    i.cipher = ssl_api().SSL_CIPHER_get_name(c);
  X509* cert = ssl_api().SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return i;
  i.subject = name_text(ssl_api().X509_get_subject_name(cert));
  i.issuer = name_text(ssl_api().X509_get_issuer_name(cert));
  i.not_before = time_text(ssl_api().X509_get0_notBefore(cert));
  i.not_after = time_text(ssl_api().X509_get0_notAfter(cert));
  if (auto* names = static_cast<GENERAL_NAMES*>(
          ssl_api().X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr))) {
    for (int k = 0;
         k < ssl_api().OPENSSL_sk_num(reinterpret_cast<const OPENSSL_STACK*>(names)) && k < 64;
         ++k) {
      const auto* g = static_cast<const GENERAL_NAME*>(
          ssl_api().OPENSSL_sk_value(reinterpret_cast<const OPENSSL_STACK*>(names), k));
      if (g->type == GEN_DNS) {
        const ASN1_IA5STRING* s = g->d.dNSName;
        i.sans.push_back(
            "DNS:" + std::string(reinterpret_cast<const char*>(ssl_api().ASN1_STRING_get0_data(s)),
                                 static_cast<size_t>(ssl_api().ASN1_STRING_length(s))));
      } else if (g->type == GEN_IPADD) {
        const ASN1_OCTET_STRING* s = g->d.iPAddress;
        const unsigned char* p = ssl_api().ASN1_STRING_get0_data(s);
        if (ssl_api().ASN1_STRING_length(s) == 4)
          i.sans.push_back(fmt::format("IP:{}.{}.{}.{}", p[0], p[1], p[2], p[3]));
        else
          i.sans.push_back("IP:(v6)");
      }
    }
    ssl_api().GENERAL_NAMES_free(names);
  }
  EVP_PKEY* key = ssl_api().X509_get0_pubkey(cert);
  i.self_signed = ssl_api().X509_check_issued(cert, cert) == X509_V_OK && key != nullptr &&
                  ssl_api().X509_verify(cert, key) == 1;
  if (key != nullptr) {
    const char* type = "other";
    switch (ssl_api().EVP_PKEY_get_base_id(key)) {
      case EVP_PKEY_RSA:
        type = "rsa";
        break;
      case EVP_PKEY_EC:
        type = "ec";
        break;
      case EVP_PKEY_ED25519:
        type = "ed25519";
        break;
      case EVP_PKEY_ED448:
        type = "ed448";
        break;
      case EVP_PKEY_DSA:
        type = "dsa";
        break;
    }
    i.key = fmt::format("{} {}", type, ssl_api().EVP_PKEY_get_bits(key));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (ssl_api().X509_digest(cert, ssl_api().EVP_sha256(), md, &len) == 1)
    for (unsigned k = 0; k < len; ++k) i.sha256 += fmt::format("{:02x}", md[k]);
  ssl_api().X509_free(cert);
  return i;
}

bool looks_like_tls(std::string_view b) {
  return b.size() >= 3 && (b[0] == 0x16 || b[0] == 0x15) && b[1] == 0x03 &&
         static_cast<unsigned char>(b[2]) <= 0x04;
}

}  // namespace gh
