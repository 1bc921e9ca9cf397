// Which of a host's ports an nmap-style output lists one by one, and which it summarizes, shared by
// the XML (-oX) and grepable (-oG) sinks. nmap's rule (PortList::isIgnoredState): a state other
// than open is summarized (nmap's "ignored" states, XML <extraports>, grepable "Ignored State")
// when more than 25 x (verbosity + 1) ports are in it, except open|filtered with -vvv; with --open
// every state but open, open|filtered and unfiltered is summarized.
//
// Ports without a reply come from the model (ResultTable::unanswered, Host::silent_ports): counted
// as filtered (no-response), and listed when few enough.
#pragma once

#include <cstdint>
#include <vector>

#include "output/result_table.h"

namespace gh {

struct ListedPort {
  Protocol proto = Protocol::Tcp;
  uint16_t port = 0;
  PortState state = PortState::Filtered;
  Reason reason = Reason::NoResponse;
  uint8_t ttl = 0;
};

// One summarized state: how many ports, and how many per (reason, protocol).
struct ExtraPorts {
  PortState state = PortState::Filtered;
  uint64_t count = 0;
  struct Why {
    Reason reason;
    Protocol proto;
    uint64_t count;
  };
  std::vector<Why> reasons;  // largest first
};

struct PortListing {
  std::vector<ListedPort> listed;  // TCP before UDP, by port
  std::vector<ExtraPorts> extra;   // largest first
  uint64_t total = 0;              // every port of the host, listed or not
};

PortListing list_ports(const ResultTable& table, const ResultTable::Host& host, int verbosity,
                       bool open_only);

}  // namespace gh
