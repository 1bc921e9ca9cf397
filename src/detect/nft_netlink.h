// One nftables set-element add as one netlink transaction, without libnftables: the block's
// critical path (blocker.h). libnftables parses the command and, before every `add element`,
// fetches the ruleset cache over netlink (tables, sets) to evaluate it; here the batch
// BEGIN / NEWSETELEM / END is built with libnftnl into a buffer and sent on a netlink socket
// kept open, and the kernel's acknowledgement read back: one sendto, one recvfrom.
//
// The kernel commits the transaction before it acknowledges it, so the element is matched by
// every packet that reaches the set lookup after add() returns (nf_tables' generation mask).
// The table and the set must exist (the blocker creates them at start); their key type must
// match the address (an ipv4_addr set for IPv4, ipv6_addr for IPv6), family inet.
// Threads: one thread per object. Never throws.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/address.h"

struct mnl_socket;  // libmnl

namespace gh::detect {

// Room a batch needs (the names are at most 255 bytes each).
inline constexpr size_t kSetElemBatchMax = 2048;

// One element to add: its set (of table `inet <table>`), its key as the kernel compares it (the
// concatenation's fields in network byte order, each padded with zeros to a multiple of 4
// bytes; at most 64 bytes) and its timeout. Elements added together are one transaction.
struct SetElem {
  const char* set = "";
  std::array<uint8_t, 64> key{};
  uint8_t key_len = 0;
  uint64_t timeout_ms = 0;
};
inline constexpr size_t kMaxElemsPerBatch = 4;

// One address (4 or 16 network-order bytes) as an element of `set` (a name that must outlive the
// element: a string literal or the caller's string).
SetElem address_element(const char* set, const IpAddress& addr, uint64_t timeout_ms);

// The transaction add() sends, built into `buf` (at least kSetElemBatchMax bytes): BEGIN
// (sequence first_seq), NEWSETELEM for family inet with NLM_F_CREATE | NLM_F_ACK (first_seq + 1;
// the key: 4 or 16 network-order bytes; the timeout in milliseconds), END (first_seq + 2).
// Returns its length, 0 if `buf` is too small or memory ran out.
size_t build_setelem_batch(std::span<char> buf, uint32_t first_seq, const std::string& table,
                           const std::string& set, const IpAddress& addr, uint64_t timeout_ms);
// The same for up to kMaxElemsPerBatch elements: BEGIN (first_seq), one NEWSETELEM per element
// (first_seq + 1 + i, each with NLM_F_CREATE | NLM_F_ACK), END (first_seq + 1 + elems.size()).
// `buf` needs kSetElemBatchMax bytes per element. 0 if it is too small, or no or too many elements.
size_t build_setelems_batch(std::span<char> buf, uint32_t first_seq, const std::string& table,
                            std::span<const SetElem> elems);

class NftSetWriter {
 public:
  NftSetWriter() = default;
  ~NftSetWriter();
  NftSetWriter(const NftSetWriter&) = delete;
  NftSetWriter& operator=(const NftSetWriter&) = delete;

  // Opens the netlink socket (NETLINK_NETFILTER); "" on success, else why not.
  std::string open();
  bool is_open() const { return nl_ != nullptr; }
  // Adds `addr` with a timeout of `timeout_ms` to `set` of table `inet <table>` and waits for
  // the kernel's acknowledgement (at most 1 s). "" on success, else the kernel's error.
  std::string add(const std::string& table, const std::string& set, const IpAddress& addr,
                  uint64_t timeout_ms);
  // Adds all of `elems` in one transaction (all or none), waiting for every acknowledgement.
  std::string add(const std::string& table, std::span<const SetElem> elems);

  // add() in two halves, for the challenge's path (blocker.h): send() hands the transaction to
  // the kernel, which processes a netlink batch within the sendto call (nfnetlink commits it
  // before the call returns: the elements are in effect then, or the batch failed), and returns
  // without reading the acknowledgements; wait() reads them ("" or the kernel's error). Between
  // the two, the caller may do what must not wait for the read (send the challenge). A send()
  // while acknowledgements are outstanding reads them first. "" on success.
  std::string send(const std::string& table, std::span<const SetElem> elems);
  std::string wait();
  bool awaiting() const { return awaiting_ > 0; }

 private:
  ::mnl_socket* nl_ = nullptr;
  uint32_t portid_ = 0;
  uint32_t seq_ = 0;
  // The transaction sent and not yet acknowledged: its NEWSETELEM sequence numbers.
  uint32_t first_ = 0, last_ = 0;
  size_t awaiting_ = 0;
};

}  // namespace gh::detect
