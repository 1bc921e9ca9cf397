// Shared libraries loaded when a command first needs them (dlopen), not by the dynamic linker at
// start: libpq alone brought 27 libraries (Kerberos, LDAP, GnuTLS, SASL) into every scan's
// start-up, ~11 ms before main() (docs/BENCHMARKS.md, issue 16).
//
// Contract: a DynLib loads its library in the constructor (RTLD_NOW | RTLD_LOCAL) and never
// unloads it. A missing library or symbol throws RuntimeError with one line naming what needed
// it, the library and the Debian package that provides it. The library stays a dependency of the
// package (docs/ARCHITECTURE.md, "Libraries loaded on use"); only the moment it is loaded moves.
// The headers are still the library's own, so each symbol is typed by decltype(&function).
#pragma once

#include <string>

namespace gh {

class DynLib {
 public:
  // purpose: what needs the library, for the error ("--db postgresql://..."); package: the
  // Debian package that ships soname ("libpq5").
  DynLib(const char* soname, const char* package, const char* purpose);
  DynLib(const DynLib&) = delete;
  DynLib& operator=(const DynLib&) = delete;

  // The address of `name`; throws RuntimeError if the library has no such symbol.
  void* symbol(const char* name) const;
  // Typed: lib.fn<decltype(PQconnectdb)>("PQconnectdb").
  template <typename F>
  F* fn(const char* name) const {
    return reinterpret_cast<F*>(symbol(name));
  }

 private:
  void* handle_ = nullptr;
  std::string soname_;
  std::string package_;
  std::string purpose_;
};

}  // namespace gh

// In a struct holding a DynLib named `lib`: a member named after a function of the library,
// typed by the library's own declaration and looked up by its linked name. A name that is a
// macro (PCRE2's pcre2_compile -> pcre2_compile_8, OpenSSL's EVP_PKEY_id -> EVP_PKEY_get_id)
// expands first, in the member's name as at the call sites.
#define GH_DYNLIB_NAME(name) #name
#define GH_DYNLIB_SYMBOL(name) GH_DYNLIB_NAME(name)
#define GH_DYNLIB_FN(name) decltype(&::name) name = lib.fn<decltype(::name)>(GH_DYNLIB_SYMBOL(name))
