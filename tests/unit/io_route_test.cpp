// lookup_route() against the kernel: loopback in whatever namespace the tests run in (a lookup
// sends nothing), then a two-namespace veth lab (root only) for neighbour resolution.
#include "io/route.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if_arp.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <string>
#include <thread>

#include "core/error.h"
#include "io/fd.h"

namespace gh {
namespace {

using namespace std::chrono_literals;

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}
const MacAddress kZeroMac{};

std::string what_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

TEST(Route, LoopbackV4) {
  Route r = lookup_route(ip("127.0.0.1"));
  EXPECT_TRUE(r.loopback);
  EXPECT_EQ(r.ifname, "lo");
  EXPECT_GT(r.ifindex, 0);
  EXPECT_EQ(r.source, ip("127.0.0.1"));
  EXPECT_FALSE(r.gateway);
  EXPECT_EQ(r.arp_type, ARPHRD_LOOPBACK);
  ASSERT_TRUE(r.next_hop_mac);
  EXPECT_EQ(*r.next_hop_mac, kZeroMac);
  EXPECT_EQ(r.src_mac, kZeroMac);
  EXPECT_GE(r.mtu, 1280);
}

TEST(Route, LoopbackV6) {
  Route r = lookup_route(ip("::1"));
  EXPECT_TRUE(r.loopback);
  EXPECT_EQ(r.ifname, "lo");
  EXPECT_EQ(r.source, ip("::1"));
  EXPECT_FALSE(r.gateway);
  ASSERT_TRUE(r.next_hop_mac);
  EXPECT_EQ(*r.next_hop_mac, kZeroMac);
}

TEST(Route, ForcedInterface) {
  Route r = lookup_route(ip("127.0.0.1"), "lo");
  EXPECT_EQ(r.ifname, "lo");
  EXPECT_EQ(r.source, ip("127.0.0.1"));
  EXPECT_THROW(lookup_route(ip("127.0.0.1"), "gh-no-such0"), UsageError);
  EXPECT_THROW(lookup_route(ip("127.0.0.1"), "a-name-far-too-long-for-linux"), UsageError);
}

TEST(Route, LocalNetworksIncludeLoopback) {
  auto nets = local_networks();
  bool v4 = false;
  int lo = 0;
  for (const auto& a : nets) {
    if (a.address == ip("127.0.0.1")) {
      v4 = true;
      lo = a.ifindex;
      EXPECT_EQ(a.prefix_len, 8);
      EXPECT_TRUE(a.contains(ip("127.1.2.3")));
    }
  }
  EXPECT_TRUE(v4);
  ASSERT_GT(lo, 0);
  auto on_lo = interface_addresses(lo);
  ASSERT_FALSE(on_lo.empty());
  for (const auto& a : on_lo) EXPECT_EQ(a.ifindex, lo);
  EXPECT_TRUE(interface_addresses(1 << 30).empty());
}

// ---- the namespace lab ----

// Runs `fn` on a thread of its own that first joins the network namespace at `ns_path`
// (network namespaces are per thread), and rethrows whatever `fn` threw.
void in_netns(const std::string& ns_path, const std::function<void()>& fn) {
  std::exception_ptr error;
  std::thread t([&] {
    try {
      FileDescriptor ns(::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!ns) throw system_error(errno, "open " + ns_path);
      if (::setns(ns.get(), CLONE_NEWNET) != 0) throw system_error(errno, "setns " + ns_path);
      fn();
    } catch (...) {
      error = std::current_exception();
    }
  });
  t.join();
  if (error) std::rethrow_exception(error);
}

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) throw system_error(errno, "popen");
  char buf[512];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = ::pclose(p);
  if (rc != 0)
    throw RuntimeError("lab command failed (" + std::to_string(rc) + "): " + cmd + "\n" + out);
  return out;
}

bool drop_effective_capability(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &hdr, data) != 0) return false;
  data[cap / 32].effective &= ~(1u << (cap % 32));
  return ::syscall(SYS_capset, &hdr, data) == 0;
}

// Two namespaces joined by a veth pair, torn down by the destructor whatever happens:
//   scan:   veth0 02:00:00:00:00:01  198.18.0.1/24  2001:db8::1/64
//           198.19.0.0/16 via 198.18.0.2, 2001:db8:1::/48 via 2001:db8::2, no default route
//   target: veth1 02:00:00:00:00:02  198.18.0.2/24  2001:db8::2/64
class VethLab {
 public:
  VethLab()
      : scan_("gh-io-" + std::to_string(::getpid()) + "-scan"),
        target_("gh-io-" + std::to_string(::getpid()) + "-target") {
    teardown();
    // DAD off: a tentative link-local address would keep the kernel from sending NDP at all.
    // Distinct ifindexes on the two ends, so carrier changes are handled at once, not batched.
    std::string s = scan_, t = target_;
    run("set -e\n"
        "ip netns add " +
        s +
        "\n"
        "ip netns add " +
        t +
        "\n"
        "for n in " +
        s + " " + t +
        "; do\n"
        "  ip netns exec $n sysctl -qw net.ipv6.conf.all.accept_dad=0 "
        "net.ipv6.conf.default.accept_dad=0\n"
        "  ip -n $n link set lo up\n"
        "done\n"
        "ip -n " +
        s +
        " link add veth0 index 10 address 02:00:00:00:00:01 type veth peer name "
        "veth1 index 20 address 02:00:00:00:00:02 netns " +
        t +
        "\n"
        "ip -n " +
        s +
        " addr add 198.18.0.1/24 dev veth0\n"
        "ip -n " +
        s +
        " addr add 2001:db8::1/64 dev veth0 nodad\n"
        "ip -n " +
        t +
        " addr add 198.18.0.2/24 dev veth1\n"
        "ip -n " +
        t +
        " addr add 2001:db8::2/64 dev veth1 nodad\n"
        "ip -n " +
        s +
        " link set veth0 up\n"
        "ip -n " +
        t +
        " link set veth1 up\n"
        "ip -n " +
        s +
        " route add 198.19.0.0/16 via 198.18.0.2\n"
        "ip -n " +
        s +
        " -6 route add 2001:db8:1::/48 via 2001:db8::2\n"
        "for i in $(seq 100); do\n"
        "  ip -n " +
        s +
        " -o link show veth0 | grep -q 'state UP' && "
        "  ip -n " +
        t +
        " -o link show veth1 | grep -q 'state UP' && break\n"
        "  sleep 0.02\n"
        "done\n");
  }
  ~VethLab() { teardown(); }
  VethLab(const VethLab&) = delete;
  VethLab& operator=(const VethLab&) = delete;

  std::string scan_path() const { return "/run/netns/" + scan_; }
  std::string neighbours() const { return run("ip -n " + scan_ + " neigh show"); }

 private:
  void teardown() const {
    std::string cmd =
        "ip netns del " + scan_ + " 2>/dev/null; ip netns del " + target_ + " 2>/dev/null; true";
    (void)std::system(cmd.c_str());
  }

  std::string scan_, target_;
};

bool lab_possible() {
  return ::geteuid() == 0 && std::system("command -v ip >/dev/null 2>&1") == 0;
}

const MacAddress kScanMac{0x02, 0, 0, 0, 0, 0x01};
const MacAddress kTargetMac{0x02, 0, 0, 0, 0, 0x02};

TEST(RouteNamespaceLab, ResolvesNextHopsThroughTheKernel) {
  if (!lab_possible()) GTEST_SKIP() << "needs root and iproute2";
  auto started = std::chrono::steady_clock::now();
  VethLab lab;
  // The neighbour table starts empty, so the MACs below come from NTF_USE-triggered ARP/NDP.
  ASSERT_EQ(lab.neighbours(), "");

  in_netns(lab.scan_path(), [&] {
    Route r4 = lookup_route(ip("198.18.0.2"));
    EXPECT_EQ(r4.ifname, "veth0");
    EXPECT_EQ(r4.ifindex, 10);
    EXPECT_EQ(r4.source, ip("198.18.0.1"));
    EXPECT_FALSE(r4.gateway);
    EXPECT_EQ(r4.src_mac, kScanMac);
    EXPECT_EQ(r4.next_hop_mac, kTargetMac);
    EXPECT_EQ(r4.arp_type, ARPHRD_ETHER);
    EXPECT_FALSE(r4.loopback);
    EXPECT_EQ(r4.mtu, 1500);

    Route r6 = lookup_route(ip("2001:db8::2"));
    EXPECT_EQ(r6.ifname, "veth0");
    EXPECT_EQ(r6.source, ip("2001:db8::1"));
    EXPECT_FALSE(r6.gateway);
    EXPECT_EQ(r6.src_mac, kScanMac);
    EXPECT_EQ(r6.next_hop_mac, kTargetMac);
  });
  std::string table = lab.neighbours();
  EXPECT_NE(table.find("198.18.0.2 dev veth0 lladdr 02:00:00:00:00:02"), std::string::npos)
      << table;
  EXPECT_NE(table.find("2001:db8::2 dev veth0 lladdr 02:00:00:00:00:02"), std::string::npos)
      << table;

  in_netns(lab.scan_path(), [&] {
    // Behind a gateway: the gateway's MAC (only the gateway is ever resolved).
    Route g4 = lookup_route(ip("198.19.1.1"));
    EXPECT_EQ(g4.gateway, ip("198.18.0.2"));
    EXPECT_EQ(g4.source, ip("198.18.0.1"));
    EXPECT_EQ(g4.next_hop_mac, kTargetMac);
    Route g6 = lookup_route(ip("2001:db8:1::1"));
    EXPECT_EQ(g6.gateway, ip("2001:db8::2"));
    EXPECT_EQ(g6.source, ip("2001:db8::1"));
    EXPECT_EQ(g6.next_hop_mac, kTargetMac);

    // Forced interface.
    EXPECT_EQ(lookup_route(ip("198.18.0.2"), "veth0").next_hop_mac, kTargetMac);

    // Our own address goes through lo.
    Route self = lookup_route(ip("198.18.0.1"));
    EXPECT_TRUE(self.loopback);
    EXPECT_EQ(self.ifname, "lo");
    EXPECT_EQ(self.source, ip("198.18.0.1"));
    EXPECT_EQ(self.next_hop_mac, kZeroMac);

    // Broadcast and multicast: the kernel maps them, no solicitation involved.
    EXPECT_EQ(lookup_route(ip("198.18.0.255")).next_hop_mac,
              MacAddress({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
    EXPECT_EQ(lookup_route(ip("ff02::1"), "veth0").next_hop_mac,
              MacAddress({0x33, 0x33, 0, 0, 0, 1}));

    // No route at all.
    auto msg = what_of([] { lookup_route(ip("198.18.200.1")); });
    EXPECT_NE(msg.find("no route to 198.18.200.1"), std::string::npos) << msg;
    msg = what_of([] { lookup_route(ip("2001:db8:ffff::1")); });
    EXPECT_NE(msg.find("no route to 2001:db8:ffff::1"), std::string::npos) << msg;

    // On-link but nobody answers: the error names the next hop, within the timeout.
    auto t0 = std::chrono::steady_clock::now();
    msg = what_of([] { lookup_route(ip("198.18.0.77"), {}, 300ms); });
    EXPECT_NE(msg.find("198.18.0.77"), std::string::npos) << msg;
    EXPECT_NE(msg.find("veth0"), std::string::npos) << msg;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
    msg = what_of([] { lookup_route(ip("198.19.5.5"), {}, 300ms); });
    EXPECT_EQ(msg, "(no exception)");  // its gateway is resolved already

    // A zero timeout only reads the table: known next hops work, unknown ones solicit nothing.
    EXPECT_EQ(lookup_route(ip("198.18.0.2"), {}, 0ms).next_hop_mac, kTargetMac);
    msg = what_of([] { lookup_route(ip("198.18.0.79"), {}, 0ms); });
    EXPECT_NE(msg.find("not in the neighbour table"), std::string::npos) << msg;
  });
  EXPECT_EQ(lab.neighbours().find("198.18.0.79"), std::string::npos) << lab.neighbours();

  // Without CAP_NET_ADMIN an already resolved next hop still works, a new one says what it needs.
  in_netns(lab.scan_path(), [&] {
    if (!drop_effective_capability(CAP_NET_ADMIN)) return;
    EXPECT_EQ(lookup_route(ip("198.18.0.2")).next_hop_mac, kTargetMac);
    auto msg = what_of([] { lookup_route(ip("198.18.0.78"), {}, 300ms); });
    EXPECT_NE(msg.find("CAP_NET_ADMIN"), std::string::npos) << msg;
  });

  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

}  // namespace
}  // namespace gh
