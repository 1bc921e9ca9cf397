// Least privilege: once a scan has opened its raw sockets (and its outputs and audit log), it
// gives up everything else for good.
//
// As root: every capability leaves the bounding set, then setgroups(0) / setresgid / setresuid to
// an unprivileged user (`nobody`, or `--user NAME`). As a normal user whose binary carries file
// capabilities (setcap cap_net_raw,cap_net_admin+eip), nothing to switch. In both cases: the
// ambient set is cleared, the permitted, effective and inheritable sets are emptied with capset,
// and PR_SET_NO_NEW_PRIVS makes sure no execve (a set-user-ID binary, a file capability) can give
// anything back. Then it checks: setuid(0) and setgid(0) must fail, every thread of the process
// must show empty CapPrm/CapEff in /proc, and no_new_privs must be set.
//
// Descriptors opened before (AF_PACKET and raw sockets, output files, the audit log) stay usable:
// the kernel checks privilege when a socket or file is opened, not when it is used.
//
// Capabilities belong to threads, and capset(2) changes only the calling one: call this while the
// process has a single thread (the SYN engine calls it before it starts its receive thread; the
// scanner starts the status line afterwards). The check above catches any thread that kept some.
#pragma once

#include <cstdint>
#include <string>

namespace gh {

inline constexpr const char* kDefaultScanUser = "nobody";

struct PrivilegeDrop {
  bool switched_user = false;  // we were root and are now `user`
  std::string user;            // the user the process runs as afterwards
  uint32_t uid = 0;
  uint32_t gid = 0;
  // "dropped to nobody (uid 65534, gid 65534), no capabilities, no_new_privs"
  std::string describe() const;
};

// Throws RuntimeError when any step or check fails (the scan must not go on), UsageError when
// `user` does not exist or is root.
PrivilegeDrop drop_privileges(const std::string& user = kDefaultScanUser);

// Whether every thread of this process has empty permitted and effective capability sets.
bool all_threads_without_capabilities();

}  // namespace gh
