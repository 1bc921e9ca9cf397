// Where Glasshouse keeps its own state when the user names no path: a system directory for root
// (the audit log under /var/log, resume files under /var/lib), and the XDG state directory
// otherwise ($XDG_STATE_HOME/glasshouse, or ~/.local/state/glasshouse).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace gh {

// `root_path` when root; else `leaf` under the user's state directory ("" when neither
// XDG_STATE_HOME nor HOME is an absolute path). The environment values are passed in (tests).
inline std::string state_path(bool root, const char* xdg_state_home, const char* home,
                              const std::string& root_path, const std::string& leaf) {
  if (root) return root_path;
  if (xdg_state_home != nullptr && xdg_state_home[0] == '/')
    return std::string(xdg_state_home) + "/glasshouse/" + leaf;
  if (home != nullptr && home[0] == '/')
    return std::string(home) + "/.local/state/glasshouse/" + leaf;
  return {};
}

// Creates every missing directory above `path` (its parent and up) with `mode`; `what` names the
// directory in the error ("cannot create the <what> directory /x/y: ..."), a RuntimeError.
void make_parent_dirs(const std::string& path, mode_t mode, std::string_view what);

}  // namespace gh
