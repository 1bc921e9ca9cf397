// toml++'s implementation, compiled here once (TOML_HEADER_ONLY=0 everywhere, CMakeLists.txt),
// instead of linking libtomlplusplus: one shared library fewer for every start to load.
#define TOML_IMPLEMENTATION
#include <toml++/toml.h>
