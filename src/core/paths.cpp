#include "core/paths.h"

#include <sys/stat.h>

#include <cerrno>

#include <fmt/format.h>

#include "core/error.h"

namespace gh {

void make_parent_dirs(const std::string& path, mode_t mode, std::string_view what) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return;
  std::string dir = path.substr(0, slash);
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string part = dir.substr(0, pos);
    if (::mkdir(part.c_str(), mode) != 0 && errno != EEXIST)
      throw system_error(errno, fmt::format("cannot create the {} directory {}", what, part));
  }
}

}  // namespace gh
