// Tests that need a network of their own (root only): a fresh network namespace on a thread,
// whose lo is up, so that nothing the test sends can leave it; dropping one capability from the
// calling thread; test frames whose IPv4 header checksum is invalid, so that the namespace's IP
// stack drops them silently.
#pragma once

#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/address.h"
#include "core/error.h"
#include "io/fd.h"

namespace gh::test_netns {

inline IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

// Runs `fn` on a thread of its own inside a fresh network namespace whose lo is up, and
// rethrows whatever `fn` threw. The namespace disappears with the thread.
inline void in_private_netns(const std::function<void(int lo)>& fn) {
  std::exception_ptr error;
  std::thread t([&] {
    try {
      if (::unshare(CLONE_NEWNET) != 0) throw system_error(errno, "unshare(CLONE_NEWNET)");
      FileDescriptor s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      if (!s) throw system_error(errno, "socket");
      ifreq ifr{};
      std::strcpy(ifr.ifr_name, "lo");
      if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) throw system_error(errno, "SIOCGIFFLAGS");
      ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
      if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) throw system_error(errno, "SIOCSIFFLAGS");
      int lo = static_cast<int>(::if_nametoindex("lo"));
      if (lo == 0) throw system_error(errno, "if_nametoindex(lo)");
      fn(lo);
    } catch (...) {
      error = std::current_exception();
    }
  });
  t.join();
  if (error) std::rethrow_exception(error);
}

// Removes `cap` from the calling thread's effective set. Capabilities are per thread, so the
// rest of the test process keeps its privileges.
inline bool drop_effective_capability(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &hdr, data) != 0) return false;
  data[cap / 32].effective &= ~(1u << (cap % 32));
  return ::syscall(SYS_capset, &hdr, data) == 0;
}

inline bool lab_possible() {
  return ::geteuid() == 0;
}

// Ethernet (zero MACs, loopback framing) + IPv4 (checksum left at zero: invalid) + 20 bytes of
// TCP. `tag` goes into the IP id and the TCP sequence number to tell frames apart.
inline std::vector<uint8_t> v4_frame(const char* dst, uint16_t tag, uint8_t proto = 6) {
  std::vector<uint8_t> f(14 + 20 + 20, 0);
  f[12] = 0x08;
  uint8_t* p = f.data() + 14;
  p[0] = 0x45;
  p[3] = 40;
  p[4] = static_cast<uint8_t>(tag >> 8);
  p[5] = static_cast<uint8_t>(tag);
  p[8] = 64;
  p[9] = proto;
  auto s = ip("127.0.0.1").bytes(), d = ip(dst).bytes();
  std::memcpy(p + 12, s.data(), 4);
  std::memcpy(p + 16, d.data(), 4);
  p[20 + 4] = static_cast<uint8_t>(tag >> 8);
  p[20 + 5] = static_cast<uint8_t>(tag);
  p[20 + 12] = 0x50;
  p[20 + 13] = 0x02;  // SYN
  return f;
}

// Runs `fn` on a thread of its own whose effective set lacks `cap`, and returns the text of the
// RuntimeError it threw ("" if none); nullopt when capset() is not permitted here.
inline std::optional<std::string> error_without_capability(int cap,
                                                           const std::function<void()>& fn) {
  std::optional<std::string> message;
  std::thread t([&] {
    if (!drop_effective_capability(cap)) return;
    message.emplace();
    try {
      fn();
    } catch (const RuntimeError& e) {
      *message = e.what();
    }
  });
  t.join();
  return message;
}

}  // namespace gh::test_netns
