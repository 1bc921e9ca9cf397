#include "output/result_table.h"

#include <algorithm>
#include <bit>

namespace gh {

namespace {

size_t slot_of(uint32_t key, size_t mask) {
  // Fibonacci hashing: the high bits of the product are well mixed.
  return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 40) & mask;
}

}  // namespace

bool ResultTable::PortIndex::hash_contains(uint32_t k) const {
  size_t mask = slots_.size() - 1;
  for (size_t i = slot_of(k, mask);; i = (i + 1) & mask) {
    if (slots_[i] == k) return true;
    if (slots_[i] == kEmpty) return false;
  }
}

void ResultTable::PortIndex::hash_put(uint32_t k) {
  size_t mask = slots_.size() - 1;
  size_t i = slot_of(k, mask);
  while (slots_[i] != kEmpty && slots_[i] != k) i = (i + 1) & mask;
  slots_[i] = k;
}

bool ResultTable::PortIndex::contains(const std::vector<Entry>& entries, Protocol proto,
                                      uint16_t port) const {
  if (is_linear()) {
    return std::any_of(entries.begin(), entries.end(),
                       [&](const Entry& e) { return e.port == port && e.proto == proto; });
  }
  uint32_t k = key(proto, port);
  if (is_bitmap()) return (slots_[k >> 5] >> (k & 31)) & 1u;
  return hash_contains(k);
}

void ResultTable::PortIndex::rebuild(const std::vector<Entry>& entries, size_t slots) {
  std::vector<uint32_t>().swap(slots_);
  if (slots == kBitmapWords) {
    slots_.assign(kBitmapWords, 0);
    for (const Entry& e : entries) {
      uint32_t k = key(e.proto, e.port);
      slots_[k >> 5] |= 1u << (k & 31);
    }
    return;
  }
  slots_.assign(slots, kEmpty);
  for (const Entry& e : entries) hash_put(key(e.proto, e.port));
}

void ResultTable::PortIndex::insert(const std::vector<Entry>& entries, Protocol proto,
                                    uint16_t port) {
  size_t after = entries.size() + 1;
  uint32_t k = key(proto, port);
  if (is_linear()) {
    if (after <= kLinearMax) return;
    rebuild(entries, std::bit_ceil(2 * after));
  } else if (!is_bitmap() && 2 * after > slots_.size()) {
    rebuild(entries, after > kHashMax ? kBitmapWords : 2 * slots_.size());
  }
  if (is_bitmap()) {
    slots_[k >> 5] |= 1u << (k & 31);
  } else {
    hash_put(k);
  }
}

std::vector<ResultTable::Entry> ResultTable::Host::sorted_entries() const {
  std::vector<Entry> out = entries;
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) {
    if (a.proto != b.proto) return a.proto == Protocol::Tcp;
    return a.port < b.port;
  });
  return out;
}

bool ResultTable::is_host_reply(Reason r) {
  switch (r) {
    case Reason::SynAck:
    case Reason::Reset:
    case Reason::ConnRefused:
    case Reason::ConnAccepted:
    case Reason::PortUnreach:
    case Reason::ProtoUnreach:
    case Reason::UdpResponse:
    case Reason::ArpResponse:
    case Reason::NdResponse:
    case Reason::EchoReply:
    case Reason::TimestampReply:
    case Reason::AddressMaskReply:
    case Reason::LocalhostResponse:
      return true;
    case Reason::UserSet:
    case Reason::NoResponse:
    case Reason::HostUnreach:
    case Reason::NetUnreach:
    case Reason::AdminProhibited:
    case Reason::TimeExceeded:
      return false;
  }
  return false;
}

bool ResultTable::add(const PortResult& r) {
  Host& h = hosts_[r.addr];
  if (h.index.contains(h.entries, r.proto, r.port)) return false;
  if (r.reason == Reason::NoResponse && r.state == PortState::Filtered) return true;
  h.index.insert(h.entries, r.proto, r.port);
  h.entries.push_back(Entry{r.port, r.proto, r.state, r.reason, r.reply_ttl});
  ++entries_;
  ++state_counts_[static_cast<size_t>(r.state)];
  if (!h.answered && is_host_reply(r.reason)) {
    h.answered = true;
    ++hosts_up_;
  }
  return true;
}

void ResultTable::note_host(const IpAddress& a) {
  hosts_.try_emplace(a);
}

}  // namespace gh
