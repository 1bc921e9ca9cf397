#include "io/privilege.h"

#include <grp.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "io/fd.h"

namespace gh {

bool can_open_raw_sockets() {
  FileDescriptor fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
  return fd.valid();
}

uint64_t raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) throw system_error(errno, "getrlimit(RLIMIT_NOFILE)");
  rlim_t target = lim.rlim_max;
  if (target == RLIM_INFINITY) {
    // RLIMIT_NOFILE cannot exceed fs.nr_open; asking for "unlimited" fails with EPERM.
    target = 1u << 20;  // the kernel's default nr_open
    std::ifstream nr_open("/proc/sys/fs/nr_open");
    uint64_t v = 0;
    if (nr_open >> v && v > 0) target = static_cast<rlim_t>(v);
  }
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur >= target) return lim.rlim_cur;
  if (lim.rlim_cur == RLIM_INFINITY) return static_cast<uint64_t>(lim.rlim_cur);
  rlimit raised{target, lim.rlim_max};
  if (::setrlimit(RLIMIT_NOFILE, &raised) != 0)
    throw system_error(errno, "setrlimit(RLIMIT_NOFILE)");
  return static_cast<uint64_t>(target);
}

bool running_as_root() {
  uid_t r = 0, e = 0, s = 0;
  if (::getresuid(&r, &e, &s) != 0) return ::geteuid() == 0;
  return r == 0 || e == 0 || s == 0;
}

UnprivilegedUser lookup_unprivileged_user(const std::string& name) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  int err = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
  if (found == nullptr)
    throw UsageError(err != 0 ? fmt::format("cannot look up user \"{}\"", name)
                              : fmt::format("no user \"{}\" to run the scan as (--user)", name));
  if (pw.pw_uid == 0 || pw.pw_gid == 0)
    throw UsageError(fmt::format(
        "--user {}: the scan must drop to an unprivileged user, not to uid/gid 0", name));
  return UnprivilegedUser{pw.pw_name, pw.pw_uid, pw.pw_gid};
}

int switch_to_user(uint32_t uid, uint32_t gid, const char** step) {
  const char* ignored = nullptr;
  const char*& what = step != nullptr ? *step : ignored;
  what = "switch_to_user";
  if (uid == 0 || gid == 0) return EINVAL;
  what = "setgroups";
  if (::setgroups(0, nullptr) != 0) return errno;
  what = "setresgid";
  if (::setresgid(gid, gid, gid) != 0) return errno;
  what = "setresuid";
  if (::setresuid(uid, uid, uid) != 0) return errno;
  return 0;
}

}  // namespace gh
