// The -sV stage end to end on loopback: in-process servers (a banner, a request/response service,
// one that closes at once, one that never stops sending, one that never answers) probed through
// run_version_scan with our shipped probes. Hostile daemons over the network and TLS are in
// tests/lab/test_service_hostile.sh; real daemons in tests/lab/test_service_daemons.sh.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "core/build_paths.h"
#include "service/toml_probes.h"
#include "service/version_scan.h"

namespace gh {
namespace {

// A loopback listener whose connections are served by `serve(fd)` in a thread each.
class FakeServer {
 public:
  explicit FakeServer(std::function<void(int)> serve) : serve_(std::move(serve)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 64);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) continue;
        workers_.emplace_back([this, c] {
          serve_(c);
          ::close(c);
        });
      }
    });
  }
  ~FakeServer() {
    stop_ = true;
    thread_.join();
    for (auto& w : workers_) w.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  const std::atomic<bool>& stopping() const { return stop_; }

 private:
  std::function<void(int)> serve_;
  int fd_;
  uint16_t port_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::thread> workers_;
};

void send_all(int fd, std::string_view s) {
  (void)::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
}

// Reads what comes within `ms` (up to 4 KiB).
std::string read_some(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, ms) <= 0) return {};
  char buf[4096];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

ProbeDb ours() {
  return load_toml_probes(std::string(GLASSHOUSE_SOURCE_DATADIR) + "/service-probes.toml");
}

std::vector<ServiceInfo> scan(const ProbeDb& db, std::vector<uint16_t> ports,
                              ServiceOptions o = {}) {
  std::vector<std::pair<IpAddress, uint16_t>> targets;
  for (uint16_t p : ports) targets.emplace_back(IpAddress::v4(0x7f000001), p);
  std::atomic<bool> stop{false};
  return run_version_scan(targets, db, o, nullptr, stop);
}

TEST(VersionScan, BannerAndRequestReplyServices) {
  ProbeDb db = ours();
  FakeServer ftp([](int fd) {
    send_all(fd, "220 (vsFTPd 3.0.3)\r\n");
    read_some(fd, 2000);
  });
  // Silent until asked; answers memcached's version command only.
  FakeServer memcached([](int fd) {
    for (int i = 0; i < 20; ++i) {
      std::string got = read_some(fd, 100);
      if (got.find("version\r\n") != std::string::npos) {
        send_all(fd, "VERSION 1.6.18\r\n");
        return;
      }
      if (!got.empty()) send_all(fd, "ERROR\r\n");
    }
  });
  auto start = std::chrono::steady_clock::now();
  auto r = scan(db, {ftp.port(), memcached.port()});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].name, "ftp");
  EXPECT_EQ(r[0].product, "vsftpd");
  EXPECT_EQ(r[0].version, "3.0.3");
  EXPECT_EQ(r[0].method, "probed");
  EXPECT_EQ(r[0].confidence, 10);
  EXPECT_EQ(r[1].name, "memcached");
  EXPECT_EQ(r[1].version, "1.6.18");
  // Found by trying probes on a port none of them lists: a service is named wherever it is.
  EXPECT_EQ(r[1].probe, "MemcachedVersion");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(12));
}

TEST(VersionScan, ClosedAtOnceIsTcpwrapped) {
  ProbeDb db = ours();
  FakeServer wrapped([](int) {});
  auto r = scan(db, {wrapped.port()});
  EXPECT_EQ(r[0].name, "tcpwrapped");
  EXPECT_EQ(r[0].product, "");
}

TEST(VersionScan, EndlessSenderAndSilentServiceAreBounded) {
  ProbeDb db = ours();
  FakeServer endless([](int fd) {
    std::string junk(8192, '\x07');
    for (int i = 0; i < 2000; ++i)
      if (::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL) < 0) return;
  });
  FakeServer silent([](int fd) { read_some(fd, 4000); });
  ServiceOptions o;
  o.port_budget = std::chrono::milliseconds(3000);
  auto start = std::chrono::steady_clock::now();
  auto r = scan(db, {endless.port(), silent.port()}, o);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::milliseconds(4500));
  EXPECT_EQ(r[0].method, "table");
  EXPECT_FALSE(r[0].note.empty());  // says why it stopped
  EXPECT_EQ(r[1].method, "table");
}

TEST(VersionScan, StageBudgetEndsEveryJob) {
  ProbeDb db = ours();
  std::atomic<bool> done{false};
  FakeServer silent([&done](int fd) {
    for (int i = 0; i < 100 && !done; ++i) read_some(fd, 50);
  });
  ServiceOptions o;
  o.stage_budget = std::chrono::milliseconds(700);
  auto start = std::chrono::steady_clock::now();
  auto r = scan(db, {silent.port(), silent.port()}, o);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2000));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_NE(r[0].note.find("stage"), std::string::npos) << r[0].note;
  done = true;
}

}  // namespace
}  // namespace gh
