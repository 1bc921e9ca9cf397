// What this process may do, asked of the kernel rather than guessed from the user id.
#pragma once

#include <cstdint>

namespace gh {

// Whether socket(AF_PACKET, SOCK_RAW) succeeds here (root, or CAP_NET_RAW in this process's user
// namespace). Opens with protocol 0, so the probe socket never receives a packet, and closes it.
bool can_open_raw_sockets();

// Raises the soft RLIMIT_NOFILE to the hard limit (capped at /proc/sys/fs/nr_open when the hard
// limit is unlimited) and returns the soft limit in force afterwards. Never lowers it. Failure
// to read or set the limit raises RuntimeError.
uint64_t raise_fd_limit();

}  // namespace gh
