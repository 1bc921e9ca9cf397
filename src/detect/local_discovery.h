// The protected networks and the gateways, asked of the kernel when --local is not given.
#pragma once

#include <string>
#include <vector>

#include "core/address.h"
#include "detect/prefix_set.h"

namespace gh::detect {

struct LocalView {
  // Every address of this host (the kernel's `local` routes: the interfaces' own addresses and any
  // AnyIP range routed to the host), and the networks routed through interfaces other than the
  // capture interface (what this host forwards to, when it is a gateway). Loopback ranges are
  // left out unless the capture interface is a loopback one.
  PrefixSet local;
  // This host's own addresses (every `local` route, loopback included): never blocked.
  PrefixSet self;
  // Every next hop in the routing tables: never blocked.
  std::vector<IpAddress> gateways;
};

// Reads the routing tables of the current network namespace over rtnetlink.
// Throws RuntimeError if the kernel cannot be asked, UsageError if `iface` does not exist.
LocalView discover_local(const std::string& iface);

}  // namespace gh::detect
