// What a UDP scan probe carries to each port (-sU; docs/UDP_PAYLOADS.md).
//
// A closed UDP port answers with ICMP port unreachable whatever the datagram holds, but an open
// one usually answers only a request its protocol understands: an empty datagram to a DNS server
// gets no reply, and the port can only be reported open|filtered. So well-known ports get a
// request written from their protocol's specification (ours: builtin_udp_payloads(), in
// udp_builtin_payloads.cpp), and, when nmap is installed, the user's own nmap-payloads file adds
// payloads for the ports ours do not cover (read at run time, never shipped). Other ports get an
// empty datagram.
//
// A port may have several payloads (SNMP: v2c `public`, then v3 discovery): attempt k of a probe
// carries payload k mod n, so a retry asks in another way.
//
// Echo fields: where a protocol copies a field of the request into its reply at a fixed place
// (the DNS transaction id, the RPC xid, NTP's transmit timestamp coming back as the origin
// timestamp), the payload says where (`echo_at` in the request, `reply_at` in the reply, `echo_len`
// bytes, an even offset and length). The probe module writes a keyed cookie there and checks it
// in the reply, on top of the cookie in the source port.
//
// Thread safety: a UdpPayloads is immutable once built; instance() is loaded once.
#pragma once

#include <cstdint>
#include <istream>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace gh::net {

struct UdpPayload {
  std::vector<uint8_t> bytes;
  uint16_t echo_at = 0;   // where the cookie goes in the request
  uint16_t reply_at = 0;  // where the reply carries it back
  uint8_t echo_len = 0;   // 0: no echo field; else 2, 4 or 8
  std::string source;     // "glasshouse" or the file it was read from (docs, -v)
  // scan --announce: the protocol's servers still answer with the 18-byte tag appended
  // (net/announce_option.h, "UDP"); false: the probe is sent without a tag. Ours only, measured
  // per protocol (udp_builtin_payloads.cpp); false for an nmap-payloads file's.
  bool announce_trailer = false;
  // Bytes that go between the payload and the tag block, where the protocol needs the tag
  // wrapped to ignore it (NTP: an extension field's header and padding).
  std::vector<uint8_t> announce_wrap;
};

class UdpPayloads {
 public:
  // The largest payload kept: a probe must fit one frame on any Ethernet path (QUIC's 1200-byte
  // minimum fits). Longer payloads in a file are skipped.
  static constexpr size_t kMaxPayload = 1400;

  // Ours only (udp_builtin_payloads.cpp).
  static UdpPayloads builtin();
  // Adds the payloads of an nmap-payloads file (nmap's format: `udp PORTS "C string" ...`, strings
  // continued on the following lines, an optional `source PORT`, which is ignored: the source
  // port carries our cookie) for the ports that have none yet. Throws UsageError naming `name`
  // and the line on anything malformed.
  void add_nmap_file(std::istream& in, const std::string& name);

  // The payload attempt `attempt` of a probe to `port` carries (nullptr: an empty datagram).
  const UdpPayload* pick(uint16_t port, unsigned attempt) const {
    auto it = by_port_.find(port);
    if (it == by_port_.end() || it->second.empty()) return nullptr;
    return &payloads_[it->second[attempt % it->second.size()]];
  }
  size_t count(uint16_t port) const {
    auto it = by_port_.find(port);
    return it == by_port_.end() ? 0 : it->second.size();
  }
  size_t ports() const { return by_port_.size(); }
  // Where the table came from, for -v: "glasshouse" plus any file.
  const std::string& sources() const { return sources_; }

  // Adds one payload for each of `ports` (the builtin table and tests).
  void add(std::span<const uint16_t> ports, UdpPayload payload);

  // The scan's table: ours, then the user's nmap-payloads. `file` "" means the default
  // locations ($GLASSHOUSE_NMAP_PAYLOADS, /usr/share/nmap/nmap-payloads,
  // /usr/local/share/nmap/nmap-payloads; an unreadable or malformed default file is skipped with
  // a warning), "none" means ours only, anything else must be a readable, well-formed
  // nmap-payloads file (UsageError otherwise). Call configure() before the first instance()
  // (the CLI does, so that a bad file is bad input, exit 2); instance() alone uses the defaults.
  static void configure(const std::string& file);
  static const UdpPayloads& instance();

 private:
  std::vector<UdpPayload> payloads_;
  std::unordered_map<uint16_t, std::vector<uint32_t>> by_port_;
  std::string sources_ = "glasshouse";
};

// Decodes one nmap-payloads C string body (without the quotes): \xHH, \0, \a \b \f \n \r \t \v,
// \\ \" and \' ; false on a bad escape. Appends to `out`.
bool decode_c_string(std::string_view body, std::vector<uint8_t>& out);

}  // namespace gh::net
