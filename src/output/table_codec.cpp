#include "output/table_codec.h"

#include <optional>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"

namespace gh {
namespace {

constexpr std::string_view kMagic = "GHTABLE2";
constexpr std::string_view kMagicV1 = "GHTABLE1";  // no OS hint in host records
constexpr int64_t kMaxMicros = int64_t{1} << 53;   // about 285 years either side of 1970

class Writer {
 public:
  void u8(uint8_t v) { out_ += static_cast<char>(v); }
  void u16(uint16_t v) { put(v, 2); }
  void u32(uint32_t v) { put(v, 4); }
  void u64(uint64_t v) { put(v, 8); }
  void str(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  void addr(const IpAddress& a) {
    u8(static_cast<uint8_t>(a.family));
    for (int i = 15; i >= 0; --i) u8(static_cast<uint8_t>(a.value >> (8 * i)));
  }
  // An optional duration in microseconds: -1 when none.
  void micros(const std::optional<std::chrono::microseconds>& d) {
    u64(static_cast<uint64_t>(d ? d->count() : -1));
  }
  std::string take() { return std::move(out_); }

 private:
  void put(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_ += static_cast<char>((v >> (8 * i)) & 0xff);
  }
  std::string out_;
};

class Reader {
 public:
  Reader(std::string_view data, std::string_view name) : data_(data), name_(name) {}
  uint8_t u8() { return static_cast<uint8_t>(take(1)[0]); }
  uint16_t u16() { return static_cast<uint16_t>(get(2)); }
  uint32_t u32() { return static_cast<uint32_t>(get(4)); }
  uint64_t u64() { return get(8); }
  std::string str() {
    uint32_t n = u32();
    return std::string(take(n));
  }
  IpAddress addr() {
    uint8_t family = u8();
    u128 v = 0;
    for (int i = 0; i < 16; ++i) v = (v << 8) | u8();
    if (family == static_cast<uint8_t>(Family::V4) && v <= 0xFFFFFFFFu)
      return IpAddress::v4(static_cast<uint32_t>(v));
    if (family != static_cast<uint8_t>(Family::V6)) fail("an address of an unknown family");
    return IpAddress::v6(v);
  }
  std::optional<std::chrono::microseconds> micros() {
    auto v = static_cast<int64_t>(u64());
    if (v == -1) return std::nullopt;
    if (v < 0 || v > (int64_t{1} << 53)) fail("a duration out of range");
    return std::chrono::microseconds(v);
  }
  size_t left() const { return data_.size() - pos_; }
  [[noreturn]] void fail(std::string_view what) const {
    throw UsageError(
        fmt::format("resume file {} is malformed: its result table has {}", name_, what));
  }

 private:
  uint64_t get(int n) {
    std::string_view b = take(static_cast<size_t>(n));
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[i]);
    return v;
  }
  std::string_view take(size_t n) {
    if (n > left()) fail("a field cut short");
    std::string_view b = data_.substr(pos_, n);
    pos_ += n;
    return b;
  }
  std::string_view data_;
  std::string_view name_;
  size_t pos_ = 0;
};

// An enum value written by this program: in range, and one to_string() knows.
template <typename E>
E checked(Reader& r, uint8_t v, uint8_t last, std::string_view what) {
  if (v > last || to_string(static_cast<E>(v)) == "unknown") r.fail(what);
  return static_cast<E>(v);
}

Protocol proto_of(Reader& r, uint8_t v) {
  if (v != static_cast<uint8_t>(Protocol::Tcp) && v != static_cast<uint8_t>(Protocol::Udp))
    r.fail("an unknown protocol");
  return static_cast<Protocol>(v);
}

void encode_record(Writer& w, const HostResult& h) {
  w.u8(static_cast<uint8_t>(h.state));
  w.u8(static_cast<uint8_t>(h.reason));
  w.u8(h.reason_ttl);
  w.u8(h.mac ? 1 : 0);
  if (h.mac)
    for (uint8_t b : *h.mac) w.u8(b);
  w.str(h.vendor);
  w.micros(h.latency);
  w.micros(h.srtt);
  w.micros(h.rttvar);
  w.micros(h.timeout);
  w.u32(static_cast<uint32_t>(h.hostnames.size()));
  for (const Hostname& n : h.hostnames) {
    w.str(n.name);
    w.str(n.type);
  }
  w.u64(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(h.seen.time_since_epoch()).count()));
  w.u8(h.os_hint ? 1 : 0);
  if (h.os_hint) {
    const OsHint& o = *h.os_hint;
    w.str(o.name);
    w.str(o.evidence);
    w.u8(o.facts.ttl);
    w.u16(o.facts.window);
    w.u16(o.facts.mss);
    w.u8(static_cast<uint8_t>(o.facts.wscale));
    w.u8(o.facts.option_count);
    for (uint8_t k : o.facts.options) w.u8(k);
    w.u16(o.facts.port);
  }
}

HostResult decode_record(Reader& r, const IpAddress& addr, bool v1) {
  HostResult h;
  h.addr = addr;
  uint8_t state = r.u8();
  if (state > static_cast<uint8_t>(HostState::Up)) r.fail("an unknown host state");
  h.state = static_cast<HostState>(state);
  h.reason = checked<Reason>(r, r.u8(), 63, "an unknown host reason");
  h.reason_ttl = r.u8();
  uint8_t has_mac = r.u8();
  if (has_mac > 1) r.fail("a bad MAC flag");
  if (has_mac == 1) {
    MacBytes m{};
    for (uint8_t& b : m) b = r.u8();
    h.mac = m;
  }
  h.vendor = r.str();
  h.latency = r.micros();
  h.srtt = r.micros();
  h.rttvar = r.micros();
  h.timeout = r.micros();
  uint32_t names = r.u32();
  if (names > r.left() / 8) r.fail("more host names than bytes");
  for (uint32_t i = 0; i < names; ++i) {
    Hostname n;
    n.name = r.str();
    n.type = r.str();
    h.hostnames.push_back(std::move(n));
  }
  auto seen = static_cast<int64_t>(r.u64());
  if (seen > kMaxMicros || seen < -kMaxMicros) r.fail("a time out of range");
  h.seen = WallClock::time_point(std::chrono::microseconds(seen));
  if (v1) return h;
  uint8_t has_hint = r.u8();
  if (has_hint > 1) r.fail("a bad OS hint flag");
  if (has_hint == 1) {
    OsHint o;
    o.name = r.str();
    o.evidence = r.str();
    o.facts.ttl = r.u8();
    o.facts.window = r.u16();
    o.facts.mss = r.u16();
    o.facts.wscale = static_cast<int8_t>(r.u8());
    o.facts.option_count = r.u8();
    if (o.facts.option_count > o.facts.options.size()) r.fail("an OS hint with too many options");
    for (uint8_t& k : o.facts.options) k = r.u8();
    o.facts.port = r.u16();
    h.os_hint = std::move(o);
  }
  return h;
}

}  // namespace

std::string encode_table(const ResultTable& table) {
  Writer w;
  for (char c : kMagic) w.u8(static_cast<uint8_t>(c));
  w.u64(table.ports_per_host());
  w.u64(table.hosts().size());
  for (const auto& [addr, host] : table.hosts()) {
    w.addr(addr);
    w.u32(static_cast<uint32_t>(host.entries.size()));
    for (const ResultTable::Entry& e : host.entries) {
      w.u16(e.port);
      w.u8(static_cast<uint8_t>(e.proto));
      w.u8(static_cast<uint8_t>(e.state));
      w.u8(static_cast<uint8_t>(e.reason));
      w.u8(e.reply_ttl);
    }
    w.u32(static_cast<uint32_t>(host.silent.size()));
    for (uint32_t k : host.silent) w.u32(k);
    w.u8(host.silent_overflow ? 1 : 0);
    w.u8(host.record ? 1 : 0);
    if (host.record) encode_record(w, *host.record);
  }
  return w.take();
}

void decode_table(std::string_view bytes, ResultTable& table, std::string_view name) {
  Reader r(bytes, name);
  const bool v1 = bytes.substr(0, kMagicV1.size()) == kMagicV1;
  for (char c : v1 ? kMagicV1 : kMagic)
    if (r.u8() != static_cast<uint8_t>(c)) r.fail("an unknown format");
  if (r.u64() != table.ports_per_host()) r.fail("another number of ports per host");
  uint64_t hosts = r.u64();
  if (hosts > r.left() / 27) r.fail("more hosts than bytes");  // 17 + 4 + 4 + 1 + 1 at least
  std::optional<IpAddress> previous;
  for (uint64_t i = 0; i < hosts; ++i) {
    IpAddress addr = r.addr();
    if (previous && !(*previous < addr)) r.fail("hosts out of order");
    previous = addr;
    table.note_host(addr);
    uint32_t entries = r.u32();
    if (entries > r.left() / 6) r.fail("more ports than bytes");
    std::vector<PortResult> stored;
    for (uint32_t k = 0; k < entries; ++k) {
      PortResult p;
      p.addr = addr;
      p.port = r.u16();
      p.proto = proto_of(r, r.u8());
      p.state = checked<PortState>(r, r.u8(), 63, "an unknown port state");
      p.reason = checked<Reason>(r, r.u8(), 63, "an unknown reason");
      p.reply_ttl = r.u8();
      if (p.state == PortState::Filtered && p.reason == Reason::NoResponse)
        r.fail("a no-response verdict among the stored ones");
      stored.push_back(p);
    }
    // The silent ports first: one may have got a stored verdict later, as in the saved table.
    uint32_t silent = r.u32();
    if (silent > ResultTable::kSilentKept) r.fail("more silent ports than a table keeps");
    for (uint32_t k = 0; k < silent; ++k) {
      uint32_t key = r.u32();
      if (key > 0x1FFFFu) r.fail("a bad port key");
      PortResult p;
      p.addr = addr;
      p.proto = ResultTable::key_proto(key);
      p.port = ResultTable::key_port(key);
      table.add(p);  // filtered, no-response: kept in the silent list
    }
    for (const PortResult& p : stored)
      if (!table.add(p)) r.fail("a port twice");
    uint8_t overflow = r.u8();
    if (overflow > 1) r.fail("a bad overflow flag");
    if (overflow == 1) table.note_silent_overflow(addr);
    uint8_t has_record = r.u8();
    if (has_record > 1) r.fail("a bad record flag");
    if (has_record == 1) table.add_host(decode_record(r, addr, v1));
  }
  if (r.left() != 0) r.fail("bytes after its last host");
}

}  // namespace gh
