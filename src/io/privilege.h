// What this process may do, asked of the kernel rather than guessed from the user id; and the
// one home of the user switch: looking up the user a root process becomes (never uid or gid 0)
// and becoming it. policy/privilege_drop.cpp (the scan's drop) and scan/checkpoint.cpp (the
// check that the drop user can write the checkpoint directory, in a child) both use these.
#pragma once

#include <cstdint>
#include <string>

namespace gh {

// Whether socket(AF_PACKET, SOCK_RAW) succeeds here (root, or CAP_NET_RAW in this process's user
// namespace). Opens with protocol 0, so the probe socket never receives a packet, and closes it.
bool can_open_raw_sockets();

// Raises the soft RLIMIT_NOFILE to the hard limit (capped at /proc/sys/fs/nr_open when the hard
// limit is unlimited) and returns the soft limit in force afterwards. Never lowers it. Failure
// to read or set the limit raises RuntimeError.
uint64_t raise_fd_limit();

// Whether any of the real, effective or saved user ids is 0.
bool running_as_root();

// The unprivileged user a root process switches to (--user, default nobody).
struct UnprivilegedUser {
  std::string name;
  uint32_t uid = 0;
  uint32_t gid = 0;
};

// Looks `name` up in the user database. Throws UsageError when there is no such user (or the
// lookup fails), and when the user has uid 0 or gid 0: a root process never "drops" to root.
UnprivilegedUser lookup_unprivileged_user(const std::string& name);

// setgroups(0), setresgid(gid x3), setresuid(uid x3), in that order (glibc applies each to every
// thread). Returns 0, or the errno of the first step that failed with `*step` naming it. Uses no
// allocation: safe in a child between fork() and _exit(). Refuses uid or gid 0 (EINVAL).
int switch_to_user(uint32_t uid, uint32_t gid, const char** step = nullptr);

}  // namespace gh
