// Every verdict of a scan, grouped by host, kept compactly for the end-of-scan report.
//
// Memory: 4 bytes per answered port plus one entry per host that answered. Ports that never
// answered are not stored: a host's filtered count is derived as (ports scanned - answered).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "output/result.h"

namespace gh {

class ResultTable {
 public:
  explicit ResultTable(uint64_t ports_per_host = 0) : ports_per_host_(ports_per_host) {}

  struct Entry {
    uint16_t port;
    Protocol proto;
    PortState state;
    Reason reason;
  };
  struct Host {
    std::vector<Entry> entries;  // in arrival order; sorted by port on sorted_entries()
    bool answered = false;       // replied at least once (a "host up")
  };

  // Records a verdict. Returns false (and records nothing) if this (addr, proto, port) already has
  // one: the table is the engine's last guard against reporting a port twice.
  bool add(const PortResult& r);
  // Marks that a host was in the scan even if nothing came back (so text output can list it).
  void note_host(const IpAddress& a);

  const std::map<IpAddress, Host>& hosts() const { return hosts_; }
  uint64_t ports_per_host() const { return ports_per_host_; }
  uint64_t hosts_up() const;
  uint64_t count(PortState s) const;

 private:
  uint64_t ports_per_host_;
  std::map<IpAddress, Host> hosts_;
};

}  // namespace gh
