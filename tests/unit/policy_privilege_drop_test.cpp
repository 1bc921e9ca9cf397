// Least privilege: after drop_privileges a root process is `nobody` with no capabilities, cannot
// get root back, and can still use the descriptors it opened before. Runs in a forked child (the
// test binary itself keeps its privileges); skipped when not root.
#include "policy/privilege_drop.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"

namespace gh {
namespace {

// Runs `body` in a child process; returns its exit status (0 = every check passed). The child
// reports its first failed check on stderr.
template <typename F>
int in_child(F body) {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int rc = 1;
    try {
      rc = body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
      rc = 99;
    }
    std::fflush(nullptr);
    ::_exit(rc);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#define CHILD_CHECK(cond, code)                                \
  do {                                                         \
    if (!(cond)) {                                             \
      std::fprintf(stderr, "child check failed: %s\n", #cond); \
      return code;                                             \
    }                                                          \
  } while (0)

TEST(PolicyPrivilegeDrop, RootBecomesNobodyForGood) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  int rc = in_child([] {
    int raw = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    CHILD_CHECK(raw >= 0, 2);
    PrivilegeDrop d = drop_privileges("nobody");
    CHILD_CHECK(d.switched_user, 3);
    CHILD_CHECK(d.user == "nobody", 4);
    CHILD_CHECK(::getuid() == d.uid && ::geteuid() == d.uid && d.uid != 0, 5);
    CHILD_CHECK(::getgid() == d.gid && ::getegid() == d.gid, 6);
    CHILD_CHECK(::getgroups(0, nullptr) == 0, 7);
    CHILD_CHECK(::setuid(0) != 0, 8);
    CHILD_CHECK(::seteuid(0) != 0, 9);
    CHILD_CHECK(::setgid(0) != 0, 10);
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    CHILD_CHECK(::syscall(SYS_capget, &hdr, data) == 0, 11);
    for (auto& w : data)
      CHILD_CHECK(w.effective == 0 && w.permitted == 0 && w.inheritable == 0, 12);
    CHILD_CHECK(::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1, 13);
    CHILD_CHECK(::prctl(PR_CAPBSET_READ, CAP_NET_RAW, 0, 0, 0) == 0, 14);
    // New raw sockets are out of reach; the one opened before still works.
    CHILD_CHECK(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0) < 0, 15);
    int type = 0;
    socklen_t len = sizeof type;
    CHILD_CHECK(::getsockopt(raw, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_RAW, 16);
    CHILD_CHECK(all_threads_without_capabilities(), 17);
    CHILD_CHECK(d.describe().find("nobody") != std::string::npos, 18);
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

TEST(PolicyPrivilegeDrop, RefusesRootAndUnknownUsers) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  int rc = in_child([] {
    try {
      drop_privileges("root");
      return 2;
    } catch (const UsageError&) {
    }
    try {
      drop_privileges("no-such-user-glasshouse");
      return 3;
    } catch (const UsageError&) {
    }
    CHILD_CHECK(::geteuid() == 0, 4);  // nothing changed
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

TEST(PolicyPrivilegeDrop, NotRootOnlyLosesCapabilities) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (to become an ordinary user first)";
  int rc = in_child([] {
    // Become an ordinary user that keeps CAP_NET_RAW, as a binary with file capabilities would.
    CHILD_CHECK(::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == 0, 2);
    CHILD_CHECK(::setresgid(65534, 65534, 65534) == 0, 3);
    CHILD_CHECK(::setresuid(65534, 65534, 65534) == 0, 4);
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    data[0].effective = data[0].permitted = (1u << CAP_NET_RAW) | (1u << CAP_NET_ADMIN);
    CHILD_CHECK(::syscall(SYS_capset, &hdr, data) == 0, 5);
    int raw = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    CHILD_CHECK(raw >= 0, 6);
    PrivilegeDrop d = drop_privileges("nobody");
    CHILD_CHECK(!d.switched_user, 7);
    CHILD_CHECK(d.uid == 65534, 8);
    CHILD_CHECK(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0) < 0, 9);
    CHILD_CHECK(all_threads_without_capabilities(), 10);
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace gh
