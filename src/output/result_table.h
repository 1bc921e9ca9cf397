// Every verdict of a scan, grouped by host, kept compactly for the end-of-scan report.
//
// The table is the result model's memory (output/result.h): the run layer adds every record to it
// before passing it to the sinks, and sinks that write at the end read it. It knows, so that no
// sink has to rebuild it: which ports got no reply (counted, and listed while few), each host's
// discovery record (up or down, reason, MAC, vendor, latency, names), the services found.
//
// Memory: 6 bytes per answered port plus one entry per host in the scan (about 150 bytes with its
// map node), plus a duplicate-check index sized to what the host holds (see PortIndex). Ports
// that never answered (filtered, reason no-response) are not stored as entries: a host's count of
// them is derived as (ports scanned - stored entries), see unanswered(); the first few of them
// are kept as 4-byte keys (Host::silent) so that a short list can still be printed. A host's
// discovery record and its services are allocated only when they exist.
//
// Cost: add() is O(log hosts) for the host lookup and O(1) amortized for the duplicate check, so a
// full 65535-port scan of one host is linear in its ports.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "output/result.h"

namespace gh {

class ResultTable {
 public:
  // `silent_kept`: how many no-response ports a host keeps listed (Host::silent). 100 covers
  // nmap's listing limit of 25 x (verbosity + 1) up to -vvv.
  static constexpr size_t kSilentKept = 100;
  explicit ResultTable(uint64_t ports_per_host = 0, size_t silent_kept = kSilentKept)
      : ports_per_host_(ports_per_host), silent_kept_(silent_kept) {}

  // (protocol, port) as one number: proto << 16 | port, UDP = 1.
  static uint32_t key(Protocol proto, uint16_t port) {
    return (proto == Protocol::Udp ? 0x10000u : 0u) | port;
  }
  static Protocol key_proto(uint32_t key) {
    return (key & 0x10000u) ? Protocol::Udp : Protocol::Tcp;
  }
  static uint16_t key_port(uint32_t key) { return static_cast<uint16_t>(key & 0xFFFFu); }

  struct Entry {
    uint16_t port;
    Protocol proto;
    PortState state;
    Reason reason;
    uint8_t reply_ttl = 0;  // TTL / hop limit of the reply, 0 when none (fits the padding)
  };

  // Which (protocol, port) pairs a host already has a verdict for, sized to the host:
  //   up to kLinearMax entries: nothing at all (a scan of the host's entries);
  //   up to kHashMax entries:   an open-addressing hash of 4-byte keys, at most half full
  //                             (8 to 16 bytes per entry);
  //   beyond:                   a 2 x 65536-bit bitmap (16 KiB), then at most ~2.7 times what
  //                             the host's entries themselves take.
  // Maintained by add(); sinks have no use for it.
  class PortIndex {
   public:
    static constexpr size_t kLinearMax = 16;
    static constexpr size_t kHashMax = 1024;

    // `entries` are the host's entries, which the index describes.
    bool contains(const std::vector<Entry>& entries, Protocol proto, uint16_t port) const;
    // Call before appending the new entry to `entries`; the pair must not be present.
    void insert(const std::vector<Entry>& entries, Protocol proto, uint16_t port);
    bool is_linear() const { return slots_.empty(); }
    bool is_bitmap() const { return slots_.size() == kBitmapWords; }
    size_t bytes() const { return slots_.capacity() * sizeof(uint32_t); }

   private:
    static constexpr uint32_t kEmpty = 0xFFFFFFFFu;
    static constexpr size_t kBitmapWords = 2 * 65536 / 32;  // 4096 x 32 bits = 16 KiB
    static uint32_t key(Protocol proto, uint16_t port) {
      return (proto == Protocol::Udp ? 0x10000u : 0u) | port;
    }
    bool hash_contains(uint32_t key) const;
    void hash_put(uint32_t key);
    void rebuild(const std::vector<Entry>& entries, size_t slots);
    // Empty: linear. kBitmapWords words: bitmap. Otherwise hash slots (a power of two < 4096).
    std::vector<uint32_t> slots_;
  };

  struct Host {
    std::vector<Entry> entries;  // in arrival order; sorted by port on sorted_entries()
    bool answered = false;       // replied at least once, or discovery said up (a "host up")
    PortIndex index;             // duplicate check for entries, maintained by add()
    // Keys (key()) of the first ports whose verdict was filtered/no-response, in arrival order;
    // `silent_overflow` when more came than the table keeps. Read them through silent_ports().
    std::vector<uint32_t> silent;
    bool silent_overflow = false;
    // The host's discovery record (add_host), null when discovery said nothing about it.
    std::unique_ptr<HostResult> record;
    // The round trip of the first port verdict that carried one (PortResult::rtt).
    std::optional<std::chrono::microseconds> port_rtt;
    // Services found (add_service), by key, in arrival order; null when none.
    std::unique_ptr<std::vector<std::pair<uint32_t, ServiceInfo>>> services;

    // The entries ordered as nmap lists them: TCP before UDP, then by port.
    std::vector<Entry> sorted_entries() const;
    // The kept no-response ports, ordered as sorted_entries(), without repeats and without those
    // that got a stored verdict after all. Complete unless silent_overflow.
    std::vector<std::pair<Protocol, uint16_t>> silent_ports() const;
    // The service found on a port, or null.
    const ServiceInfo* service(Protocol proto, uint16_t port) const;
  };

  // Records a verdict. Returns false (and records nothing) if this (addr, proto, port) already has
  // one: the table is the engine's last guard against reporting a port twice.
  // A verdict of filtered/no-response is not stored (it is the derived remainder, see
  // unanswered()); add() still notes the host, and returns false if the port already has a stored
  // verdict. Two no-response verdicts for one port cannot be told apart: both return true.
  bool add(const PortResult& r);
  // Replaces the stored verdict of (r.addr, r.proto, r.port) with r's state, reason and TTL (-sV
  // promoting an open|filtered UDP port to open), keeping counts and the host's answered flag
  // right. A port with no stored verdict is add()ed. Returns false when nothing changed.
  bool promote(const PortResult& r);
  // Marks that a host was in the scan even if nothing came back (so text output can list it).
  void note_host(const IpAddress& a);
  // Records a host's discovery verdict. A later record for the same address replaces the earlier
  // one, keeping the names of both (and a MAC, vendor or latency the new one lacks). A record that
  // says up makes the host answered (counted in hosts_up()); one that says down does not undo a
  // reply that already came.
  void add_host(const HostResult& h);
  // Notes that more no-response ports came for a host than it keeps listed (Host::silent): a
  // restored table (output/table_codec.h) says so as the saved one did.
  void note_silent_overflow(const IpAddress& a) { hosts_[a].silent_overflow = true; }
  // Records the service on a port (replacing an earlier one for the same port). The port need not
  // have a stored verdict (a producer may know the service first).
  void add_service(const ServiceInfo& s);

  const std::map<IpAddress, Host>& hosts() const { return hosts_; }
  uint64_t ports_per_host() const { return ports_per_host_; }
  // Hosts with answered set. O(1).
  uint64_t hosts_up() const { return hosts_up_; }
  // Stored verdicts in state s over all hosts (derived no-response ports not included). O(1).
  uint64_t count(PortState s) const { return state_counts_[static_cast<size_t>(s)]; }
  // Stored verdicts over all hosts. O(1).
  uint64_t entries() const { return entries_; }
  // A host's ports without a stored verdict: filtered (no-response), or never probed when the
  // scan was interrupted. 0 when ports_per_host is unknown (0).
  uint64_t unanswered(const Host& h) const {
    return ports_per_host_ > h.entries.size() ? ports_per_host_ - h.entries.size() : 0;
  }

  // Whether a reason means the host itself replied (so it is up): SYN-ACK, RST, a connect()
  // outcome, a UDP reply, ICMP port or protocol unreachable. ICMP errors that routers send
  // (host/net unreachable, time exceeded, admin prohibited) and no-response do not count.
  static bool is_host_reply(Reason r);

 private:
  uint64_t ports_per_host_;
  size_t silent_kept_;
  std::map<IpAddress, Host> hosts_;
  uint64_t hosts_up_ = 0;
  uint64_t entries_ = 0;
  std::array<uint64_t, 6> state_counts_{};
};

}  // namespace gh
