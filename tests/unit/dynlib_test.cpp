#include "core/dynlib.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "core/error.h"

namespace gh {
namespace {

TEST(DynLib, ResolvesATypedSymbol) {
  DynLib libc("libc.so.6", "libc6", "a test");
  auto* len = libc.fn<decltype(std::strlen)>("strlen");
  EXPECT_EQ(len("glasshouse"), 10u);
}

TEST(DynLib, MissingLibraryIsOneLineNamingThePackage) {
  try {
    DynLib lib("libglasshouse-no-such.so.9", "glasshouse-nothing", "--db postgresql://...");
    FAIL() << "loaded a library that does not exist";
  } catch (const RuntimeError& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.rfind("--db postgresql://... needs libglasshouse-no-such.so.9 (Debian package "
                        "glasshouse-nothing), which cannot be loaded: ",
                        0),
              0u)
        << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(DynLib, MissingSymbolThrows) {
  DynLib libc("libc.so.6", "libc6", "a test");
  EXPECT_THROW(libc.symbol("gh_no_such_function"), RuntimeError);
}

// libpq is not linked (ldd of the binary does not list it) but is installed with the build
// dependencies: the PostgreSQL store's loader must find it under the soname it asks for.
TEST(DynLib, LibpqLoadsBySoname) {
  DynLib pq("libpq.so.5", "libpq5", "a test");
  EXPECT_NE(pq.symbol("PQconnectdb"), nullptr);
}

}  // namespace
}  // namespace gh
