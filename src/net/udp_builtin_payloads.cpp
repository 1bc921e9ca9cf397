// Glasshouse's own UDP payloads, one request per protocol, each written from the protocol's
// specification (cited at each entry; docs/UDP_PAYLOADS.md says how to add one). Nothing here is
// taken from nmap-payloads or any other scanner's data.
//
// Conventions: every request is the smallest well-formed one that a server must answer (a query
// for something every server has, a NULL procedure, a version or status request). Fields a reply
// echoes at a fixed offset are declared as echo fields (udp_payloads.h) and left zero here: the
// probe module writes its keyed cookie there. Constant identifiers elsewhere spell "GH".
#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <string_view>

#include "net/udp_payloads.h"

namespace gh::net {
namespace {

class Bytes {
 public:
  Bytes& u8(uint8_t v) {
    b_.push_back(v);
    return *this;
  }
  Bytes& u16(uint16_t v) { return u8(static_cast<uint8_t>(v >> 8)).u8(static_cast<uint8_t>(v)); }
  Bytes& u32(uint32_t v) {
    return u16(static_cast<uint16_t>(v >> 16)).u16(static_cast<uint16_t>(v));
  }
  Bytes& zeros(size_t n) {
    b_.insert(b_.end(), n, 0);
    return *this;
  }
  Bytes& raw(std::initializer_list<uint8_t> v) {
    b_.insert(b_.end(), v);
    return *this;
  }
  Bytes& str(std::string_view s) {
    b_.insert(b_.end(), s.begin(), s.end());
    return *this;
  }
  // A DNS name (RFC 1035 section 3.1): length-prefixed labels, then the root's zero byte.
  Bytes& dns_name(std::string_view dotted) {
    while (!dotted.empty()) {
      size_t dot = dotted.find('.');
      std::string_view label = dotted.substr(0, dot);
      u8(static_cast<uint8_t>(label.size())).str(label);
      if (dot == std::string_view::npos) break;
      dotted.remove_prefix(dot + 1);
    }
    return u8(0);
  }
  Bytes& pad_to(size_t n) {
    if (b_.size() < n) b_.resize(n, 0);
    return *this;
  }
  size_t size() const { return b_.size(); }
  std::vector<uint8_t> take() { return std::move(b_); }

 private:
  std::vector<uint8_t> b_;
};

UdpPayload payload(Bytes b, uint16_t echo_at = 0, uint8_t echo_len = 0, uint16_t reply_at = 0) {
  return UdpPayload{b.take(), echo_at, reply_at, echo_len, "glasshouse", false, {}};
}

// RFC 1035 section 4.1: a header (id, flags, one question), then the question.
Bytes dns_query(std::string_view name, uint16_t qtype, uint16_t qclass, uint16_t flags) {
  Bytes b;
  b.u16(0).u16(flags).u16(1).u16(0).u16(0).u16(0).dns_name(name).u16(qtype).u16(qclass);
  return b;
}

// RFC 5531 section 9 (ONC RPC v2 CALL) with AUTH_NONE credentials and verifier: the NULL
// procedure (0) of `prog` version `vers`, which every RPC server answers.
Bytes rpc_null(uint32_t prog, uint32_t vers) {
  Bytes b;
  b.u32(0).u32(0).u32(2).u32(prog).u32(vers).u32(0).u32(0).u32(0).u32(0).u32(0);
  return b;
}

// An IKEv1 Main Mode first message (RFC 2408 sections 3.1, 3.4-3.6; RFC 2409 appendix A values):
// one proposal (PROTO_ISAKMP) with one KEY_IKE transform: 3DES-CBC, SHA, pre-shared key, MODP
// group 2, 28800 s. A responder answers with its own SA payload or a notification, copying the
// initiator cookie (the first 8 bytes).
Bytes ike_main_mode() {
  Bytes b;
  b.zeros(8);                       // initiator cookie (the echo field)
  b.zeros(8);                       // responder cookie
  b.u8(1).u8(0x10).u8(2);           // next payload SA, version 1.0, exchange Identity Protection
  b.u8(0).u32(0).u32(80);           // flags, message id, length
  b.u8(0).u8(0).u16(52);            // SA payload header
  b.u32(1).u32(1);                  // DOI IPsec, situation identity only
  b.u8(0).u8(0).u16(40);            // proposal payload header
  b.u8(1).u8(1).u8(0).u8(1);        // proposal 1, PROTO_ISAKMP, no SPI, one transform
  b.u8(0).u8(0).u16(32);            // transform payload header
  b.u8(1).u8(1).u16(0);             // transform 1, KEY_IKE
  b.raw({0x80, 0x01, 0x00, 0x05});  // encryption: 3DES-CBC
  b.raw({0x80, 0x02, 0x00, 0x02});  // hash: SHA
  b.raw({0x80, 0x03, 0x00, 0x01});  // authentication: pre-shared key
  b.raw({0x80, 0x04, 0x00, 0x02});  // group: MODP 1024
  b.raw({0x80, 0x0b, 0x00, 0x01});  // life type: seconds
  b.raw({0x80, 0x0c, 0x70, 0x80});  // life duration: 28800
  return b;
}

}  // namespace

// The protocols whose servers still answer when an announced scan's 18-byte tag follows the
// request (UdpPayload::announce_trailer; docs/AUTHORIZATION.md, "UDP"): their parsers stop at
// the request's own end (a count of records, a BER or XDR length, DHCP's end option, SIP's
// Content-Length, RFC 3261 section 18.3), or any answer, an error included, shows the port open.
// Measured against the real daemons of tests/lab/test_auth_announce.sh (dnsmasq DNS, snmpd,
// memcached, chronyd). NTP is listed with a wrapper: chronyd 4.3 drops a request with 18 or 20
// bytes after its 48-byte header (neither a MAC nor an extension field), but answers one whose
// tag ends an RFC 7822 extension field of an unknown type, which RFC 7822 says to ignore
// (kNtpWrap). Not listed, so sent without the tag: ports whose protocol carries its own length
// or a fixed layout and may drop a longer datagram (STUN, IKE, RIP, OpenVPN, CoAP, SSDP, the SQL
// Server browser), and every payload read from an nmap-payloads file.
constexpr uint16_t kTrailerPorts[] = {53,  67,  69,   111,  123,  137,  161,
                                      389, 443, 2049, 5060, 5353, 5355, 11211};
// An NTPv4 extension field (RFC 7822 section 3): type 0x4748 ("GH", unassigned), length 28: its
// header, 6 zero bytes, then the 18-byte block, so that the block still ends the datagram.
const std::vector<uint8_t> kNtpWrap = {0x47, 0x48, 0x00, 0x1c, 0, 0, 0, 0, 0, 0};

UdpPayloads UdpPayloads::builtin() {
  UdpPayloads t;
  auto add = [&t](std::initializer_list<uint16_t> ports, UdpPayload p) {
    std::vector<uint16_t> v(ports);
    p.announce_trailer = std::all_of(v.begin(), v.end(), [](uint16_t port) {
      return std::find(std::begin(kTrailerPorts), std::end(kTrailerPorts), port) !=
             std::end(kTrailerPorts);
    });
    t.add(v, std::move(p));
  };

  // DNS (RFC 1035; RFC 4892 for the CHAOS-class version.bind): servers answer it themselves,
  // with the version or an error, without asking anyone else. The id is echoed.
  add({53}, payload(dns_query("version.bind", 16 /*TXT*/, 3 /*CH*/, 0), 0, 2, 0));
  // A recursion-desired query for the root's NS set: the second try, for servers that refuse
  // CHAOS queries silently.
  add({53}, payload(dns_query("", 2 /*NS*/, 1 /*IN*/, 0x0100), 0, 2, 0));
  // mDNS (RFC 6762 section 6.7, "legacy unicast"): a query from a port other than 5353 is
  // answered by unicast to that port with the id echoed. DNS-SD's service enumeration name
  // (RFC 6763 section 9).
  add({5353}, payload(dns_query("_services._dns-sd._udp.local", 12 /*PTR*/, 1, 0), 0, 2, 0));
  // LLMNR (RFC 4795 section 2.1.1): the DNS format; a responder answers only for its own name,
  // so this mostly shows the port is closed when it is.
  add({5355}, payload(dns_query("localhost", 1 /*A*/, 1, 0), 0, 2, 0));

  // NetBIOS name service (RFC 1002 section 4.2.17): NODE STATUS REQUEST for the wildcard name
  // "*" (first-level encoded, RFC 1001 section 14.1), answered by every NetBIOS node.
  {
    Bytes b;
    b.u16(0).u16(0).u16(1).u16(0).u16(0).u16(0);
    b.u8(32).str("CK").str(std::string(30, 'A')).u8(0);
    b.u16(0x21 /*NBSTAT*/).u16(1 /*IN*/);
    add({137}, payload(std::move(b), 0, 2, 0));
  }

  // NTP (RFC 5905 section 7.3): a version 4 client (mode 3) request. The server copies our
  // transmit timestamp (offset 40) into its origin timestamp (offset 24).
  {
    Bytes b;
    b.u8(0x23).u8(0).u8(4).u8(0xFA).zeros(44);
    UdpPayload ntp = payload(std::move(b), 40, 8, 24);
    ntp.announce_wrap = kNtpWrap;
    add({123}, std::move(ntp));
  }

  // ONC RPC: portmapper (RFC 1833) and NFS v3 (RFC 1813) NULL procedures; the xid is echoed.
  add({111}, payload(rpc_null(100000, 2), 0, 4, 0));
  add({2049}, payload(rpc_null(100003, 3), 0, 4, 0));

  // SNMP. v2c (RFC 3416, RFC 1901) GetRequest for sysDescr.0 (RFC 3418) with the community
  // "public", then, on the next try, SNMPv3 engine discovery (RFC 3414 section 4): a reportable
  // GetRequest with no user and no engine id, which every v3 agent answers with a Report.
  // The request ids are constant (BER lengths before them vary in replies: no fixed echo).
  {
    Bytes b;
    b.raw({0x30, 0x29, 0x02, 0x01, 0x01, 0x04, 0x06}).str("public");
    b.raw({0xa0, 0x1c, 0x02, 0x04}).str("GH01");
    b.raw({0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30, 0x0c, 0x06, 0x08});
    b.raw({0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, 0x05, 0x00});
    add({161}, payload(std::move(b)));
    Bytes v3;
    v3.raw({0x30, 0x3e, 0x02, 0x01, 0x03});                          // version 3
    v3.raw({0x30, 0x11, 0x02, 0x04}).str("GH03");                    // msgID
    v3.raw({0x02, 0x03, 0x00, 0xff, 0xe3});                          // msgMaxSize 65507
    v3.raw({0x04, 0x01, 0x04, 0x02, 0x01, 0x03});                    // reportable; USM
    v3.raw({0x04, 0x10, 0x30, 0x0e, 0x04, 0x00, 0x02, 0x01, 0x00});  // engine id, boots
    v3.raw({0x02, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00, 0x04, 0x00});  // time, user, auth, priv
    v3.raw({0x30, 0x14, 0x04, 0x00, 0x04, 0x00});                    // scoped PDU, context
    v3.raw({0xa0, 0x0e, 0x02, 0x04}).str("GH03");                    // GetRequest, request id
    v3.raw({0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x00});
    add({161}, payload(std::move(v3)));
  }

  // CLDAP (RFC 1798; the LDAP encoding of RFC 4511 section 4.5.1): a base-object search of the
  // root DSE for (objectClass=*), which directory servers answer without a bind.
  {
    Bytes b;
    b.raw({0x30, 0x25, 0x02, 0x01, 0x01, 0x63, 0x20, 0x04, 0x00, 0x0a, 0x01, 0x00});
    b.raw({0x0a, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x01, 0x01, 0x00});
    b.raw({0x87, 0x0b}).str("objectClass").raw({0x30, 0x00});
    add({389}, payload(std::move(b)));
  }

  // IKE: Main Mode on 500; on 4500 (RFC 3948 section 2.2) the same after the 4-byte non-ESP
  // marker. The initiator cookie is echoed.
  add({500}, payload(ike_main_mode(), 0, 8, 0));
  {
    Bytes b;
    b.zeros(4);
    auto ike = ike_main_mode().take();
    for (uint8_t v : ike) b.u8(v);
    add({4500}, payload(std::move(b), 4, 8, 4));
  }

  // RIP version 2 (RFC 2453 section 3.9.1): a request for the whole routing table (one entry,
  // address family 0, metric 16).
  {
    Bytes b;
    b.u8(1).u8(2).u16(0).u16(0).u16(0).u32(0).u32(0).u32(0).u32(16);
    add({520}, payload(std::move(b)));
  }

  // SQL Server Browser ([MS-SQLR] section 2.2.3, CLNT_UCAST_EX): one byte, answered with the
  // instance list.
  add({1434}, payload(Bytes().u8(0x03)));

  // OpenVPN (the protocol description in OpenVPN's ssl.h/reliable.h, "P_CONTROL_HARD_RESET_
  // CLIENT_V2"): opcode 7, key id 0, a session id, no acks, packet id 0. Servers without
  // tls-auth answer with P_CONTROL_HARD_RESET_SERVER_V2.
  {
    Bytes b;
    b.u8(0x38).str("GHprobe1").u8(0).u32(0);
    add({1194}, payload(std::move(b)));
  }

  // SSDP (UPnP Device Architecture 1.1 section 1.3.2): M-SEARCH for all devices and services.
  add({1900}, payload(Bytes().str("M-SEARCH * HTTP/1.1\r\n"
                                  "HOST: 239.255.255.250:1900\r\n"
                                  "MAN: \"ssdp:discover\"\r\n"
                                  "MX: 1\r\n"
                                  "ST: ssdp:all\r\n\r\n")));

  // SIP (RFC 3261 section 11): OPTIONS, which every SIP element must answer.
  add({5060}, payload(Bytes().str("OPTIONS sip:glasshouse.invalid SIP/2.0\r\n"
                                  "Via: SIP/2.0/UDP glasshouse.invalid;branch=z9hG4bK-gh-probe\r\n"
                                  "Max-Forwards: 70\r\n"
                                  "To: <sip:glasshouse.invalid>\r\n"
                                  "From: <sip:probe@glasshouse.invalid>;tag=gh\r\n"
                                  "Call-ID: gh-probe@glasshouse.invalid\r\n"
                                  "CSeq: 1 OPTIONS\r\n"
                                  "Accept: application/sdp\r\n"
                                  "Content-Length: 0\r\n\r\n")));

  // CoAP (RFC 7252 sections 3, 5.10; RFC 6690): a confirmable GET of /.well-known/core. The
  // message id (offset 2) comes back in the ACK.
  {
    Bytes b;
    b.u8(0x40).u8(0x01).u16(0).u8(0xBB).str(".well-known").u8(0x04).str("core");
    add({5683}, payload(std::move(b), 2, 2, 2));
  }

  // memcached (its protocol.txt, "UDP protocol"): the 8-byte frame header (request id, sequence
  // 0, one datagram), then "version". The request id is echoed.
  {
    Bytes b;
    b.u16(0).u16(0).u16(1).u16(0).str("version\r\n");
    add({11211}, payload(std::move(b), 0, 2, 0));
  }

  // QUIC (RFC 9000 sections 6, 14.1, 15, 17.2.1): a long-header packet of a reserved version
  // (0x?a?a?a?a) padded to 1200 bytes, which a server must answer with Version Negotiation. It
  // echoes our source connection id (8 bytes at 16) as its destination id (at 6).
  {
    Bytes b;
    b.u8(0xC0).u32(0x1a2a3a4a).u8(9).str("GHquicDCI").u8(8).zeros(8).pad_to(1200);
    add({443}, payload(std::move(b), 16, 8, 6));
  }

  // TFTP (RFC 1350): a read request in octet mode. A server answers with data or an error.
  add({69}, payload(Bytes().u16(1).str("glasshouse-probe").u8(0).str("octet").u8(0)));

  // DHCP (RFC 2131 section 2, RFC 2132): a DHCPDISCOVER. Servers answer the client port (68),
  // so this rarely shows a server as open; it is sent so that the port sees a real request.
  {
    Bytes b;
    b.u8(1).u8(1).u8(6).u8(0).u32(0).u16(0).u16(0);  // op, htype, hlen, hops, xid, secs, flags
    b.zeros(16);                                     // ciaddr, yiaddr, siaddr, giaddr
    b.raw({0x02, 0x00, 0x5e, 0x00, 0x53, 0x01}).zeros(10);  // chaddr (RFC 7042 doc. MAC)
    b.zeros(64 + 128);                                      // sname, file
    b.raw({0x63, 0x82, 0x53, 0x63, 53, 1, 1, 255}).pad_to(300);
    add({67}, payload(std::move(b), 4, 4, 4));
  }

  // STUN (RFC 8489 section 5): a Binding request; the 96-bit transaction id (its first 8 bytes
  // at offset 8 are the echo field) is echoed.
  {
    Bytes b;
    b.u16(1).u16(0).u32(0x2112A442).zeros(12);
    add({3478}, payload(std::move(b), 8, 8, 8));
  }

  // NAT-PMP (RFC 6886 section 3.2): the external address request.
  add({5351}, payload(Bytes().u8(0).u8(0)));

  // RMCP/ASF presence ping (DMTF DSP0136 section 3.2.4.1), answered by IPMI BMCs on 623.
  add({623}, payload(Bytes().raw(
                 {0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, 0x00, 0x00, 0x00})));

  // BACnet/IP (ASHRAE 135 annex J.2.11, clause 16.10.1): an unconfirmed Who-Is to every device.
  add({47808}, payload(Bytes().raw(
                   {0x81, 0x0a, 0x00, 0x0c, 0x01, 0x20, 0xff, 0xff, 0x00, 0xff, 0x10, 0x08})));

  // XDMCP (X Display Manager Control Protocol 1.1, "Query"): version 1, no authentication names.
  add({177}, payload(Bytes().u16(1).u16(2).u16(1).u8(0)));

  // Echo, character generator, quote, daytime and time (RFC 862, 864, 865, 867, 868) answer any
  // datagram: a line break makes the exchange visible in a capture.
  add({7, 13, 17, 19, 37}, payload(Bytes().str("\r\n")));

  return t;
}

}  // namespace gh::net
