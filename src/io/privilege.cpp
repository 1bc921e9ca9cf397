#include "io/privilege.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

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

}  // namespace gh
