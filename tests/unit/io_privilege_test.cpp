#include "io/privilege.h"

#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <thread>

#include "core/error.h"
#include "io/packet_socket.h"

namespace gh {
namespace {

// Removes `cap` from the calling thread's effective set. Capabilities are per thread, so the
// rest of the test process keeps its privileges.
bool drop_effective_capability(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &hdr, data) != 0) return false;
  data[cap / 32].effective &= ~(1u << (cap % 32));
  return ::syscall(SYS_capset, &hdr, data) == 0;
}

TEST(Privilege, CanOpenRawSocketsMatchesPrivilege) {
  bool can = can_open_raw_sockets();  // must not throw either way
  if (::geteuid() == 0) {
    EXPECT_TRUE(can);
  }
}

TEST(Privilege, WithoutCapNetRawTheErrorSaysSo) {
  bool dropped = false, can_open = true;
  std::string message;
  std::thread t([&] {
    dropped = drop_effective_capability(CAP_NET_RAW);
    if (!dropped) return;
    can_open = can_open_raw_sockets();
    try {
      (void)PacketSocket::open(1);
    } catch (const RuntimeError& e) {
      message = e.what();
    }
  });
  t.join();
  if (!dropped) GTEST_SKIP() << "capset not permitted here";
  EXPECT_FALSE(can_open);
  EXPECT_NE(message.find("CAP_NET_RAW"), std::string::npos) << message;
}

TEST(Privilege, RaiseFdLimitReachesTheHardLimit) {
  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &before), 0);
  uint64_t now = raise_fd_limit();
  rlimit after{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &after), 0);
  EXPECT_EQ(now, static_cast<uint64_t>(after.rlim_cur));
  EXPECT_GE(after.rlim_cur, before.rlim_cur);
  if (before.rlim_max != RLIM_INFINITY) {
    EXPECT_EQ(after.rlim_cur, before.rlim_max);
  }
  EXPECT_EQ(raise_fd_limit(), now);  // idempotent
}

}  // namespace
}  // namespace gh

namespace gh {
namespace {

// The one user lookup of the project (the scan's drop and the checkpoint directory check): an
// ordinary user is found, root and unknown users are refused with the reason.
TEST(UnprivilegedUser, LookupRefusesRootAndUnknownUsers) {
  UnprivilegedUser nobody = lookup_unprivileged_user("nobody");
  EXPECT_EQ(nobody.name, "nobody");
  EXPECT_NE(nobody.uid, 0u);
  EXPECT_NE(nobody.gid, 0u);
  try {
    lookup_unprivileged_user("root");
    ADD_FAILURE() << "root accepted as the drop user";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("not to uid/gid 0"), std::string::npos) << e.what();
  }
  try {
    lookup_unprivileged_user("gh-no-such-user");
    ADD_FAILURE() << "an unknown user accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("no user \"gh-no-such-user\""), std::string::npos)
        << e.what();
  }
}

TEST(UnprivilegedUser, SwitchRefusesIdZeroWithoutTouchingAnything) {
  const char* step = nullptr;
  EXPECT_EQ(switch_to_user(0, 65534, &step), EINVAL);
  EXPECT_EQ(switch_to_user(65534, 0, &step), EINVAL);
  EXPECT_EQ(::geteuid(), ::getuid());
}

// In a child (the switch is for good): root becomes nobody, and cannot come back.
TEST(UnprivilegedUser, SwitchInAChildBecomesTheUser) {
  UnprivilegedUser nobody = lookup_unprivileged_user("nobody");
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::geteuid() == 0) {
      if (switch_to_user(nobody.uid, nobody.gid) != 0) ::_exit(2);
      uid_t r = 0, e = 0, s = 0;
      if (::getresuid(&r, &e, &s) != 0 || r != nobody.uid || e != nobody.uid || s != nobody.uid)
        ::_exit(3);
      if (::setuid(0) == 0) ::_exit(4);
      if (::getgroups(0, nullptr) != 0) ::_exit(5);
    } else if (switch_to_user(nobody.uid, nobody.gid) != EPERM) {
      ::_exit(6);  // an ordinary user cannot switch
    }
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace gh
