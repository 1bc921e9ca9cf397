#include "auth/owner_key.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <string.h>

#include "audit/sha256.h"
#include "core/dynlib.h"
#include "core/error.h"

namespace gh::auth {
namespace {

// libcrypto is loaded by the first owner key used (scope keygen/sign, --owner-key, a signed
// scope), not at every start (core/dynlib.h; audit/sha256.h says why it is not linked).
struct Crypto {
  DynLib lib{"libcrypto.so.3", "libssl3", "owner keys (Ed25519)"};
  GH_DYNLIB_FN(EVP_PKEY_free);
  GH_DYNLIB_FN(EVP_PKEY_new_raw_private_key);
  GH_DYNLIB_FN(EVP_PKEY_new_raw_public_key);
  GH_DYNLIB_FN(EVP_PKEY_get_raw_private_key);
  GH_DYNLIB_FN(EVP_PKEY_get_raw_public_key);
  GH_DYNLIB_FN(EVP_PKEY_id);
  GH_DYNLIB_FN(EVP_PKEY_CTX_new_id);
  GH_DYNLIB_FN(EVP_PKEY_CTX_free);
  GH_DYNLIB_FN(EVP_PKEY_keygen_init);
  GH_DYNLIB_FN(EVP_PKEY_keygen);
  GH_DYNLIB_FN(EVP_MD_CTX_new);
  GH_DYNLIB_FN(EVP_MD_CTX_free);
  GH_DYNLIB_FN(EVP_DigestSignInit);
  GH_DYNLIB_FN(EVP_DigestSign);
  GH_DYNLIB_FN(EVP_DigestVerifyInit);
  GH_DYNLIB_FN(EVP_DigestVerify);
  GH_DYNLIB_FN(OBJ_nid2sn);
  GH_DYNLIB_FN(BIO_new);
  GH_DYNLIB_FN(BIO_s_mem);
  GH_DYNLIB_FN(BIO_new_mem_buf);
  GH_DYNLIB_FN(BIO_ctrl);
  GH_DYNLIB_FN(BIO_free);
  GH_DYNLIB_FN(PEM_read_bio_PrivateKey);
  GH_DYNLIB_FN(PEM_read_bio_PUBKEY);
  GH_DYNLIB_FN(PEM_write_bio_PrivateKey);
  GH_DYNLIB_FN(PEM_write_bio_PUBKEY);
};

const Crypto& crypto() {
  static const Crypto* api = new Crypto();
  return *api;
}

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { crypto().EVP_PKEY_free(p); }
};
struct BioFree {
  void operator()(BIO* b) const { crypto().BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { crypto().EVP_MD_CTX_free(c); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Bio = std::unique_ptr<BIO, BioFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

// Never prompt for a passphrase: an encrypted key is refused.
int no_passphrase(char*, int, int, void*) {
  return -1;
}

Bio mem_bio(std::string_view text) {
  Bio b(crypto().BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!b) throw RuntimeError("out of memory (BIO)");
  return b;
}

std::string bio_text(BIO* b) {
  char* data = nullptr;
  long n = crypto().BIO_get_mem_data(b, &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

Pkey private_pkey(const std::array<uint8_t, 32>& seed) {
  Pkey k(
      crypto().EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!k) throw RuntimeError("OpenSSL cannot make an Ed25519 key");
  return k;
}

Pkey public_pkey(const Ed25519Public& raw) {
  Pkey k(crypto().EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw.data(), raw.size()));
  if (!k) throw RuntimeError("OpenSSL cannot make an Ed25519 public key");
  return k;
}

[[noreturn]] void bad_key(const std::string& source, std::string_view why) {
  throw UsageError(fmt::format("malformed key file {}: {}", source, why));
}

void require_ed25519(EVP_PKEY* k, const std::string& source) {
  if (crypto().EVP_PKEY_id(k) != EVP_PKEY_ED25519)
    bad_key(source, fmt::format("a {} key, not Ed25519 (make one with glasshouse scope keygen)",
                                crypto().OBJ_nid2sn(crypto().EVP_PKEY_id(k))));
}

bool has_label(std::string_view pem, std::string_view label) {
  return pem.find(fmt::format("-----BEGIN {}-----", label)) != std::string_view::npos;
}

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

std::string PublicKey::fingerprint() const {
  std::string_view bytes(reinterpret_cast<const char*>(raw.data()), raw.size());
  return "sha256:" + sha256_hex(bytes);
}

PrivateKey::PrivateKey(const std::array<uint8_t, 32>& seed, std::string source)
    : seed_(seed), source_(std::move(source)) {}
PrivateKey::~PrivateKey() {
  explicit_bzero(seed_.data(), seed_.size());
}
PrivateKey::PrivateKey(PrivateKey&& o) noexcept : seed_(o.seed_), source_(std::move(o.source_)) {
  explicit_bzero(o.seed_.data(), o.seed_.size());
}
PrivateKey& PrivateKey::operator=(PrivateKey&& o) noexcept {
  if (this != &o) {
    seed_ = o.seed_;
    source_ = std::move(o.source_);
    explicit_bzero(o.seed_.data(), o.seed_.size());
  }
  return *this;
}

PrivateKey PrivateKey::generate() {
  EVP_PKEY* raw = nullptr;
  struct CtxFree {
    void operator()(EVP_PKEY_CTX* c) const { crypto().EVP_PKEY_CTX_free(c); }
  };
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(
      crypto().EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  if (!ctx || crypto().EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      crypto().EVP_PKEY_keygen(ctx.get(), &raw) != 1)
    throw RuntimeError("OpenSSL cannot generate an Ed25519 key");
  Pkey k(raw);
  std::array<uint8_t, 32> seed{};
  size_t len = seed.size();
  if (crypto().EVP_PKEY_get_raw_private_key(k.get(), seed.data(), &len) != 1 || len != seed.size())
    throw RuntimeError("OpenSSL cannot export an Ed25519 key");
  PrivateKey out(seed);
  explicit_bzero(seed.data(), seed.size());
  return out;
}

PublicKey PrivateKey::public_key() const {
  Pkey k = private_pkey(seed_);
  PublicKey pub;
  size_t len = pub.raw.size();
  if (crypto().EVP_PKEY_get_raw_public_key(k.get(), pub.raw.data(), &len) != 1 ||
      len != pub.raw.size())
    throw RuntimeError("OpenSSL cannot derive an Ed25519 public key");
  pub.source = source_;
  return pub;
}

Ed25519Signature PrivateKey::sign(std::string_view message) const {
  Pkey k = private_pkey(seed_);
  MdCtx ctx(crypto().EVP_MD_CTX_new());
  Ed25519Signature sig{};
  size_t len = sig.size();
  if (!ctx || crypto().EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, k.get()) != 1 ||
      crypto().EVP_DigestSign(ctx.get(), sig.data(), &len,
                              reinterpret_cast<const unsigned char*>(message.data()),
                              message.size()) != 1 ||
      len != sig.size())
    throw RuntimeError("OpenSSL cannot sign with Ed25519");
  return sig;
}

std::string PrivateKey::to_pem() const {
  Pkey k = private_pkey(seed_);
  Bio b(crypto().BIO_new(crypto().BIO_s_mem()));
  if (!b || crypto().PEM_write_bio_PrivateKey(b.get(), k.get(), nullptr, nullptr, 0, nullptr,
                                              nullptr) != 1)
    throw RuntimeError("OpenSSL cannot write the private key");
  return bio_text(b.get());
}

std::string to_pem(const PublicKey& key) {
  Pkey k = public_pkey(key.raw);
  Bio b(crypto().BIO_new(crypto().BIO_s_mem()));
  if (!b || crypto().PEM_write_bio_PUBKEY(b.get(), k.get()) != 1)
    throw RuntimeError("OpenSSL cannot write the public key");
  return bio_text(b.get());
}

PrivateKey parse_private_key(std::string_view pem, const std::string& source) {
  if (has_label(pem, "ENCRYPTED PRIVATE KEY"))
    bad_key(source, "an encrypted private key (use an unencrypted PKCS#8 Ed25519 key)");
  if (!has_label(pem, "PRIVATE KEY"))
    bad_key(source, "no \"-----BEGIN PRIVATE KEY-----\" (a PEM Ed25519 private key)");
  Bio b = mem_bio(pem);
  Pkey k(crypto().PEM_read_bio_PrivateKey(b.get(), nullptr, no_passphrase, nullptr));
  if (!k) bad_key(source, "the PEM private key does not parse");
  require_ed25519(k.get(), source);
  std::array<uint8_t, 32> seed{};
  size_t len = seed.size();
  if (crypto().EVP_PKEY_get_raw_private_key(k.get(), seed.data(), &len) != 1 || len != seed.size())
    bad_key(source, "cannot read the Ed25519 private key");
  PrivateKey out(seed, source);
  explicit_bzero(seed.data(), seed.size());
  return out;
}

PublicKey parse_public_key(std::string_view pem, const std::string& source) {
  if (has_label(pem, "PRIVATE KEY") && !has_label(pem, "PUBLIC KEY")) {
    PublicKey pub = parse_private_key(pem, source).public_key();
    pub.source = source;
    return pub;
  }
  if (!has_label(pem, "PUBLIC KEY"))
    bad_key(source, "no \"-----BEGIN PUBLIC KEY-----\" (a PEM Ed25519 public key)");
  Bio b = mem_bio(pem);
  Pkey k(crypto().PEM_read_bio_PUBKEY(b.get(), nullptr, no_passphrase, nullptr));
  if (!k) bad_key(source, "the PEM public key does not parse");
  require_ed25519(k.get(), source);
  PublicKey pub;
  size_t len = pub.raw.size();
  if (crypto().EVP_PKEY_get_raw_public_key(k.get(), pub.raw.data(), &len) != 1 ||
      len != pub.raw.size())
    bad_key(source, "cannot read the Ed25519 public key");
  pub.source = source;
  return pub;
}

std::string read_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(fmt::format("cannot read {} {}: {}", what, path, std::strerror(errno)));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw UsageError(fmt::format("cannot read {} {}", what, path));
  return buf.str();
}

PrivateKey load_private_key(const std::string& path) {
  std::string text = read_file(path, "key file");
  PrivateKey k = parse_private_key(text, path);
  explicit_bzero(text.data(), text.size());
  return k;
}

PublicKey load_public_key(const std::string& path) {
  return parse_public_key(read_file(path, "key file"), path);
}

std::vector<PublicKey> load_trusted_keys(const std::vector<std::string>& paths) {
  std::vector<PublicKey> keys;
  auto add = [&](PublicKey k) {
    for (const auto& have : keys)
      if (have.raw == k.raw) return;
    keys.push_back(std::move(k));
  };
  for (const auto& path : paths) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
      throw UsageError(fmt::format("cannot read owner key {}: {}", path, std::strerror(errno)));
    if (!S_ISDIR(st.st_mode)) {
      add(load_public_key(path));
      continue;
    }
    struct DirClose {
      void operator()(DIR* d) const { closedir(d); }
    };
    std::unique_ptr<DIR, DirClose> dir(opendir(path.c_str()));
    if (!dir) throw UsageError(fmt::format("cannot read owner key directory {}", path));
    std::vector<std::string> names;
    while (dirent* e = readdir(dir.get())) {
      std::string n = e->d_name;
      auto ends = [&](std::string_view s) {
        return n.size() > s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0;
      };
      if (ends(".pub") || ends(".pem")) names.push_back(n);
    }
    std::sort(names.begin(), names.end());
    if (names.empty())
      throw UsageError(fmt::format("owner key directory {} holds no *.pub or *.pem file", path));
    for (const auto& n : names) add(load_public_key(path + "/" + n));
  }
  return keys;
}

bool verify(const PublicKey& key, std::string_view message, const Ed25519Signature& sig) {
  Pkey k = public_pkey(key.raw);
  MdCtx ctx(crypto().EVP_MD_CTX_new());
  if (!ctx || crypto().EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, k.get()) != 1)
    throw RuntimeError("OpenSSL cannot verify Ed25519");
  return crypto().EVP_DigestVerify(ctx.get(), sig.data(), sig.size(),
                                   reinterpret_cast<const unsigned char*>(message.data()),
                                   message.size()) == 1;
}

std::string base64_encode(const uint8_t* data, size_t len) {
  std::string out;
  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = uint32_t{data[i]} << 16;
    if (i + 1 < len) v |= uint32_t{data[i + 1]} << 8;
    if (i + 2 < len) v |= data[i + 2];
    out += kB64[v >> 18 & 63];
    out += kB64[v >> 12 & 63];
    out += i + 1 < len ? kB64[v >> 6 & 63] : '=';
    out += i + 2 < len ? kB64[v & 63] : '=';
  }
  return out;
}

bool base64_decode(std::string_view text, std::vector<uint8_t>& out) {
  out.clear();
  if (text.size() % 4 != 0) return false;
  auto val = [](char c) -> int {
    const char* p = std::strchr(kB64, c);
    return c != '\0' && p != nullptr ? static_cast<int>(p - kB64) : -1;
  };
  for (size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int pad = 0;
    if (last) pad = (text[i + 3] == '=') + (text[i + 2] == '=' && text[i + 3] == '=');
    uint32_t v = 0;
    for (int j = 0; j < 4; ++j) {
      int d = j >= 4 - pad ? 0 : val(text[i + j]);
      if (d < 0) return false;
      v = v << 6 | static_cast<uint32_t>(d);
    }
    out.push_back(static_cast<uint8_t>(v >> 16));
    if (pad < 2) out.push_back(static_cast<uint8_t>(v >> 8));
    if (pad < 1) out.push_back(static_cast<uint8_t>(v));
  }
  return true;
}

void write_new_file(const std::string& path, std::string_view contents, unsigned mode,
                    bool replace) {
  std::string target = replace ? path + ".tmp" : path;
  int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW;
  if (replace) ::unlink(target.c_str());
  int fd = ::open(target.c_str(), flags, mode);
  if (fd < 0)
    throw UsageError(
        fmt::format("cannot write {}: {}", target,
                    errno == EEXIST ? "it exists already (never replaced)" : std::strerror(errno)));
  ::fchmod(fd, mode);  // whatever the umask
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      ::unlink(target.c_str());
      throw UsageError(fmt::format("cannot write {}: {}", target, std::strerror(e)));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0)
    throw UsageError(fmt::format("cannot write {}: {}", target, std::strerror(errno)));
  if (replace && ::rename(target.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(target.c_str());
    throw UsageError(fmt::format("cannot replace {}: {}", path, std::strerror(e)));
  }
}

}  // namespace gh::auth
