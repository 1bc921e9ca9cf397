// A minimal rtnetlink (NETLINK_ROUTE) client: build a request, send it, walk the replies.
//
// No libnl: the messages are the kernel's own structs (rtmsg, ifinfomsg, ifaddrmsg, ndmsg)
// followed by attributes. Every reply is read through NLMSG_OK / RTA_OK with the lengths checked
// before anything is dereferenced, so a short or inconsistent reply is reported, never read past.
// The parsers below are pure functions over bytes so that they can be tested with fixtures.
//
// Namespaces: a NetlinkSocket talks to the network namespace of the thread that created it.
#pragma once

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/address.h"
#include "io/fd.h"

namespace gh::netlink {

// One request: nlmsghdr, a fixed family header, then attributes, in 4-byte aligned storage.
class Request {
 public:
  static constexpr size_t kCapacity = 512;

  // `flags` gets NLM_F_REQUEST added. The family header is copied in right after the nlmsghdr.
  template <class Header>
  Request(uint16_t type, uint16_t flags, const Header& family_header) : Request(type, flags) {
    append(&family_header, sizeof family_header);
  }

  // Appends one attribute (RTA_LENGTH(len) bytes, padded). Throws std::length_error when full.
  void add_attr(uint16_t type, const void* data, size_t len);
  void add_u32(uint16_t type, uint32_t value) { add_attr(type, &value, sizeof value); }
  // Network-order bytes of `a`: 4 for IPv4, 16 for IPv6.
  void add_address(uint16_t type, const IpAddress& a);

  nlmsghdr* header() { return reinterpret_cast<nlmsghdr*>(buf_.data()); }
  std::span<const uint8_t> bytes() const { return {buf_.data(), size_}; }

 private:
  Request(uint16_t type, uint16_t flags);
  void append(const void* data, size_t len);

  alignas(NLMSG_ALIGNTO) std::array<uint8_t, kCapacity> buf_{};
  size_t size_ = 0;
};

// What one received datagram meant for the exchange with sequence number `seq`.
struct DatagramStatus {
  bool done = false;         // NLMSG_DONE, an NLMSG_ERROR (ack or failure), or a single reply
  bool interrupted = false;  // NLM_F_DUMP_INTR: the dump saw a concurrent change; redo it
  int error = 0;             // positive errno from NLMSG_ERROR, 0 for an ack or data
  std::string error_text;    // the kernel's extended-ack message, if it sent one
};

using MessageFn = std::function<void(const nlmsghdr&)>;

// Walks the messages of one datagram. `data` must be 4-byte aligned (RuntimeError otherwise).
// Messages whose nlmsg_seq is not `seq` are skipped (late answers to an abandoned request).
// Data messages go to `on_message`; the nlmsghdr it gets is valid only during the call and its
// nlmsg_len has been checked against the datagram. A message that does not fit, or bytes left
// over that do not form a message, raise RuntimeError("malformed netlink reply ...").
DatagramStatus parse_datagram(std::span<const uint8_t> data, uint32_t seq,
                              const MessageFn& on_message);

// Attributes of a message, indexed by type (NLA_TYPE_MASK applied); types above the table's
// size are ignored and a repeated type keeps its last value. Each entry is the payload.
template <size_t N>
using AttrTable = std::array<std::optional<std::span<const uint8_t>>, N>;

// Fills `table` from the attributes that follow a `header_size` family header in `msg`.
// Returns false when the message is too short for the family header or an attribute is cut off.
template <size_t N>
bool parse_attrs(const nlmsghdr& msg, size_t header_size, AttrTable<N>& table);
bool parse_attrs(const nlmsghdr& msg, size_t header_size,
                 std::span<std::optional<std::span<const uint8_t>>> table);
template <size_t N>
bool parse_attrs(const nlmsghdr& msg, size_t header_size, AttrTable<N>& table) {
  return parse_attrs(msg, header_size, std::span<std::optional<std::span<const uint8_t>>>(table));
}

// An address attribute of `family` (AF_INET: 4 bytes, AF_INET6: 16). nullopt if the size or the
// family does not fit.
std::optional<IpAddress> address_from(int family, std::span<const uint8_t> payload);

// ---- decoded replies; each parse_* returns nullopt for another message type or bad lengths ----

struct RouteMessage {  // RTM_NEWROUTE, as answered to RTM_GETROUTE
  uint8_t family = 0;
  uint8_t type = 0;  // RTN_*
  uint8_t dst_len = 0;
  uint32_t table = 0;
  int oif = 0;
  std::optional<IpAddress> dst, prefsrc, gateway;  // gateway from RTA_GATEWAY or RTA_VIA
  uint32_t mtu = 0;                                // RTAX_MTU from RTA_METRICS, 0 when absent
};
std::optional<RouteMessage> parse_route(const nlmsghdr& msg);

struct LinkMessage {  // RTM_NEWLINK
  int ifindex = 0;
  uint16_t type = 0;   // ARPHRD_*
  uint32_t flags = 0;  // IFF_*
  std::string name;
  std::vector<uint8_t> address;  // IFLA_ADDRESS, empty for devices without one
  uint32_t mtu = 0;
};
std::optional<LinkMessage> parse_link(const nlmsghdr& msg);

struct AddrMessage {  // RTM_NEWADDR
  uint8_t family = 0;
  int ifindex = 0;
  uint8_t prefix_len = 0;
  uint8_t scope = 0;   // RT_SCOPE_*
  uint32_t flags = 0;  // IFA_F_* (IFA_FLAGS when present, else ifa_flags)
  IpAddress address;   // IFA_LOCAL when present (the local end of point-to-point), else IFA_ADDRESS
};
std::optional<AddrMessage> parse_addr(const nlmsghdr& msg);

struct NeighMessage {  // RTM_NEWNEIGH
  uint8_t family = 0;
  int ifindex = 0;
  uint16_t state = 0;  // NUD_*
  uint8_t flags = 0;   // NTF_*
  std::optional<IpAddress> dst;
  std::vector<uint8_t> lladdr;  // empty while unresolved
};
std::optional<NeighMessage> parse_neigh(const nlmsghdr& msg);

// A NETLINK_ROUTE socket. Control path only: failures of the socket itself throw RuntimeError.
class NetlinkSocket {
 public:
  NetlinkSocket();

  struct Result {
    int error = 0;             // positive errno the kernel answered with, 0 on success
    bool interrupted = false;  // a dump was inconsistent (NLM_F_DUMP_INTR): the caller may redo it
    std::string error_text;    // extended-ack text, when the kernel gave one
  };

  // Sends `req` (its nlmsg_seq and nlmsg_pid are set here) and passes every reply message to
  // `on_message` until the kernel ends the exchange: NLMSG_DONE for a dump, the ack or error for
  // a request with NLM_F_ACK, or the single reply otherwise. Kernel refusals come back in
  // Result::error; EINTR is retried; a kernel silent for 5 s raises RuntimeError.
  Result transact(Request& req, const MessageFn& on_message = {});

 private:
  FileDescriptor fd_;
  uint32_t seq_ = 0;
  std::vector<uint32_t> buf_;  // receive buffer, uint32_t for alignment
};

}  // namespace gh::netlink
