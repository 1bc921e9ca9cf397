#include "core/dynlib.h"

#include <dlfcn.h>

#include "core/error.h"

namespace gh {
namespace {

std::string last_dl_error() {
  const char* e = dlerror();
  return e != nullptr ? e : "unknown error";
}

}  // namespace

DynLib::DynLib(const char* soname, const char* package, const char* purpose)
    : soname_(soname), package_(package), purpose_(purpose) {
  handle_ = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (handle_ == nullptr)
    throw RuntimeError(purpose_ + " needs " + soname_ + " (Debian package " + package_ +
                       "), which cannot be loaded: " + last_dl_error());
}

void* DynLib::symbol(const char* name) const {
  dlerror();
  void* p = dlsym(handle_, name);
  if (p == nullptr)
    throw RuntimeError(purpose_ + ": " + soname_ + " (Debian package " + package_ +
                       ") has no symbol " + name + ": " + last_dl_error());
  return p;
}

}  // namespace gh
