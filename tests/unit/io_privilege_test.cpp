#include "io/privilege.h"

#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

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
