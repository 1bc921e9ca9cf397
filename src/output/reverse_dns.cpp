#include "output/reverse_dns.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

namespace gh {
namespace {

bool in_v4(const IpAddress& a, uint32_t net, int prefix) {
  uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  return a.is_v4() && (a.v4_value() & mask) == net;
}

bool in_v6(const IpAddress& a, u128 net, int prefix) {
  u128 mask = prefix == 0 ? 0 : ~u128{0} << (128 - prefix);
  return a.is_v6() && (a.value & mask) == net;
}

bool is_loopback(const IpAddress& a) {
  return in_v4(a, 0x7F000000u, 8) || (a.is_v6() && a.value == 1);
}

// Shared between the caller and the worker threads, which may outlive a timed-out resolve().
struct Batch {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<IpAddress> todo;
  std::unordered_map<IpAddress, std::string, IpAddressHash> found;
  size_t next = 0;
  size_t finished = 0;
};

}  // namespace

bool reverse_lookup_useful(const IpAddress& a) {
  if (a.is_v4()) {
    return !(in_v4(a, 0x00000000u, 8) ||   // "this network"
             in_v4(a, 0xC0000200u, 24) ||  // TEST-NET-1
             in_v4(a, 0xC6120000u, 15) ||  // benchmarking (RFC 2544)
             in_v4(a, 0xC6336400u, 24) ||  // TEST-NET-2
             in_v4(a, 0xCB007100u, 24) ||  // TEST-NET-3
             in_v4(a, 0xE0000000u, 4) ||   // multicast
             in_v4(a, 0xF0000000u, 4) ||   // reserved, broadcast
             in_v4(a, 0xA9FE0000u, 16));   // link-local
  }
  u128 doc = u128{0x20010DB8u} << 96;
  return !(a.value == 0 || in_v6(a, doc, 32) || in_v6(a, u128{0xFFu} << 120, 8) ||
           in_v6(a, u128{0xFE80u} << 112, 10));
}

std::string ReverseNames::getnameinfo_lookup(const IpAddress& a) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto bytes = a.bytes();
  if (a.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    std::memcpy(&sin->sin_addr, bytes.data(), 4);
    len = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    std::memcpy(&sin6->sin6_addr, bytes.data(), 16);
    len = sizeof(sockaddr_in6);
  }
  char host[NI_MAXHOST];
  if (::getnameinfo(reinterpret_cast<sockaddr*>(&ss), len, host, sizeof host, nullptr, 0,
                    NI_NAMEREQD) != 0)
    return {};
  return host;
}

void ReverseNames::resolve(const std::vector<IpAddress>& addresses,
                           std::chrono::milliseconds budget, Lookup lookup, size_t max_lookups) {
  auto batch = std::make_shared<Batch>();
  for (const auto& a : addresses) {
    if (is_loopback(a)) {
      names_[a] = "localhost";
    } else if (reverse_lookup_useful(a) && batch->todo.size() < max_lookups) {
      batch->todo.push_back(a);
    }
  }
  if (batch->todo.empty()) return;
  size_t workers = std::min<size_t>(16, batch->todo.size());
  for (size_t w = 0; w < workers; ++w) {
    // Detached: a resolver that hangs past the budget must not hold the scan's exit.
    std::thread([batch, lookup] {
      for (;;) {
        IpAddress a;
        {
          std::lock_guard lock(batch->mu);
          if (batch->next == batch->todo.size()) return;
          a = batch->todo[batch->next++];
        }
        std::string name = lookup(a);
        std::lock_guard lock(batch->mu);
        if (!name.empty()) batch->found[a] = std::move(name);
        ++batch->finished;
        batch->cv.notify_all();
      }
    }).detach();
  }
  std::unique_lock lock(batch->mu);
  batch->cv.wait_for(lock, budget, [&] { return batch->finished == batch->todo.size(); });
  for (auto& [a, n] : batch->found) names_[a] = n;
}

std::string ReverseNames::name(const IpAddress& a) const {
  auto it = names_.find(a);
  return it == names_.end() ? std::string{} : it->second;
}

}  // namespace gh
