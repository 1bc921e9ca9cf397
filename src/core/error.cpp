#include "core/error.h"

#include <cstring>

namespace gh {

RuntimeError system_error(int err, const std::string& what) {
  return RuntimeError(what + ": " + std::strerror(err));
}

}  // namespace gh
