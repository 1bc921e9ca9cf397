#include "output/port_listing.h"

#include <algorithm>
#include <array>
#include <map>
#include <tuple>

namespace gh {

PortListing list_ports(const ResultTable& table, const ResultTable::Host& host, int verbosity,
                       bool open_only) {
  constexpr size_t kStates = 6;
  std::array<uint64_t, kStates> per_state{};
  std::map<std::tuple<PortState, Reason, Protocol>, uint64_t> groups;
  for (const auto& e : host.entries) {
    ++per_state[static_cast<size_t>(e.state)];
    ++groups[{e.state, e.reason, e.proto}];
  }
  const uint64_t silent = table.unanswered(host);
  std::vector<std::pair<Protocol, uint16_t>> silent_listed = host.silent_ports();
  if (silent > 0) {
    per_state[static_cast<size_t>(PortState::Filtered)] += silent;
    // Silent ports we know by number, per protocol; the rest (never reported: an interrupted
    // scan) count as TCP.
    uint64_t udp = 0;
    for (const auto& [proto, port] : silent_listed)
      if (proto == Protocol::Udp) ++udp;
    udp = std::min(udp, silent);
    if (silent - udp > 0)
      groups[{PortState::Filtered, Reason::NoResponse, Protocol::Tcp}] += silent - udp;
    if (udp > 0) groups[{PortState::Filtered, Reason::NoResponse, Protocol::Udp}] += udp;
  }
  const uint64_t limit = 25 * static_cast<uint64_t>(verbosity > 0 ? verbosity + 1 : 1);
  auto ignored = [&](PortState s) {
    uint64_t n = per_state[static_cast<size_t>(s)];
    if (n == 0 || s == PortState::Open) return false;
    if (s == PortState::OpenFiltered && verbosity > 2) return false;
    if (open_only && s != PortState::OpenFiltered && s != PortState::Unfiltered) return true;
    return n > limit;
  };

  PortListing out;
  for (size_t s = 0; s < kStates; ++s) out.total += per_state[s];
  for (const auto& e : host.entries)
    if (!ignored(e.state)) out.listed.push_back({e.proto, e.port, e.state, e.reason, e.reply_ttl});
  bool silent_summarized = false;
  if (silent > 0 && !ignored(PortState::Filtered)) {
    for (const auto& [proto, port] : silent_listed)
      out.listed.push_back({proto, port, PortState::Filtered, Reason::NoResponse, 0});
    if (silent_listed.size() < silent) silent_summarized = true;  // some we cannot name
  }
  std::sort(out.listed.begin(), out.listed.end(), [](const ListedPort& a, const ListedPort& b) {
    if (a.proto != b.proto) return a.proto == Protocol::Tcp;
    return a.port < b.port;
  });

  for (size_t s = 0; s < kStates; ++s) {
    auto state = static_cast<PortState>(s);
    bool whole = ignored(state);
    bool part = state == PortState::Filtered && silent_summarized;
    if (!whole && !part) continue;
    ExtraPorts x;
    x.state = state;
    for (const auto& [k, n] : groups) {
      auto [st, reason, proto] = k;
      if (st != state) continue;
      if (!whole && reason != Reason::NoResponse) continue;
      uint64_t count = n;
      if (!whole) count = silent - silent_listed.size();  // only the unnamed silent ports
      x.reasons.push_back({reason, proto, count});
      x.count += count;
      if (!whole) break;
    }
    std::sort(x.reasons.begin(), x.reasons.end(),
              [](const ExtraPorts::Why& a, const ExtraPorts::Why& b) { return a.count > b.count; });
    if (x.count > 0) out.extra.push_back(std::move(x));
  }
  std::sort(out.extra.begin(), out.extra.end(),
            [](const ExtraPorts& a, const ExtraPorts& b) { return a.count > b.count; });
  return out;
}

}  // namespace gh
