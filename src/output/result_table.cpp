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
    case Reason::UserSet:  // assumed up (-Pn), nothing replied
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
  if (r.rtt && !h.port_rtt) h.port_rtt = r.rtt;
  if (r.reason == Reason::NoResponse && r.state == PortState::Filtered) {
    if (h.silent.size() < silent_kept_)
      h.silent.push_back(key(r.proto, r.port));
    else
      h.silent_overflow = true;
    if (r.service) add_service(*r.service);
    return true;
  }
  h.index.insert(h.entries, r.proto, r.port);
  h.entries.push_back(Entry{r.port, r.proto, r.state, r.reason, r.reply_ttl});
  ++entries_;
  ++state_counts_[static_cast<size_t>(r.state)];
  if (!h.answered && is_host_reply(r.reason)) {
    h.answered = true;
    ++hosts_up_;
  }
  if (r.service) add_service(*r.service);
  return true;
}

bool ResultTable::promote(const PortResult& r) {
  Host& h = hosts_[r.addr];
  auto it = std::find_if(h.entries.begin(), h.entries.end(),
                         [&](const Entry& e) { return e.proto == r.proto && e.port == r.port; });
  if (it == h.entries.end()) return add(r);
  if (it->state == r.state && it->reason == r.reason) return false;
  --state_counts_[static_cast<size_t>(it->state)];
  ++state_counts_[static_cast<size_t>(r.state)];
  it->state = r.state;
  it->reason = r.reason;
  it->reply_ttl = r.reply_ttl;
  if (!h.answered && is_host_reply(r.reason)) {
    h.answered = true;
    ++hosts_up_;
  }
  if (r.service) add_service(*r.service);
  return true;
}

void ResultTable::note_host(const IpAddress& a) {
  hosts_.try_emplace(a);
}

void ResultTable::add_host(const HostResult& r) {
  Host& h = hosts_[r.addr];
  if (!h.record) {
    h.record = std::make_unique<HostResult>(r);
  } else {
    HostResult merged = r;
    const HostResult& old = *h.record;
    if (!merged.mac) merged.mac = old.mac;
    if (merged.vendor.empty()) merged.vendor = old.vendor;
    if (!merged.latency) merged.latency = old.latency;
    if (!merged.srtt) merged.srtt = old.srtt;
    if (!merged.rttvar) merged.rttvar = old.rttvar;
    if (!merged.timeout) merged.timeout = old.timeout;
    if (!merged.os_hint) merged.os_hint = old.os_hint;
    for (const Hostname& n : old.hostnames)
      if (std::find(merged.hostnames.begin(), merged.hostnames.end(), n) == merged.hostnames.end())
        merged.hostnames.push_back(n);
    // Up is final: a reply came. A later "down" keeps the facts it brings but not its state.
    if (old.state == HostState::Up && merged.state == HostState::Down) {
      merged.state = HostState::Up;
      merged.reason = old.reason;
      merged.reason_ttl = old.reason_ttl;
    }
    *h.record = std::move(merged);
  }
  if (!h.answered && h.record->state == HostState::Up) {
    h.answered = true;
    ++hosts_up_;
  }
}

void ResultTable::add_service(const ServiceInfo& s) {
  Host& h = hosts_[s.addr];
  if (!h.services) h.services = std::make_unique<std::vector<std::pair<uint32_t, ServiceInfo>>>();
  uint32_t k = key(s.proto, s.port);
  for (auto& [have, info] : *h.services) {
    if (have == k) {
      info = s;
      return;
    }
  }
  h.services->emplace_back(k, s);
}

std::vector<std::pair<Protocol, uint16_t>> ResultTable::Host::silent_ports() const {
  std::vector<uint32_t> keys = silent;
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::vector<std::pair<Protocol, uint16_t>> out;
  for (uint32_t k : keys)
    if (!index.contains(entries, key_proto(k), key_port(k)))
      out.emplace_back(key_proto(k), key_port(k));
  return out;
}

const ServiceInfo* ResultTable::Host::service(Protocol proto, uint16_t port) const {
  if (!services) return nullptr;
  uint32_t k = key(proto, port);
  for (const auto& [have, info] : *services)
    if (have == k) return &info;
  return nullptr;
}

}  // namespace gh
