// -oX and -oG from a table holding every kind of record (output/xml_sink.h, grepable_sink.h).
// The lab test (tests/lab/test_xml_output.sh) validates real scans against nmap's DTD.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "core/error.h"
#include "output/grepable_sink.h"
#include "output/port_listing.h"
#include "output/table_codec.h"
#include "output/xml_sink.h"

namespace gh {
namespace {

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

struct Fixture {
  ScanInfo info;
  ResultTable table{30};
  ScanSummary summary;
  Fixture() {
    info.command_line = "glasshouse scan -sS --reason -p 1-30 198.18.0.5";
    info.scan_type = "syn";
    info.targets = 2;
    info.ports = 30;
    info.tcp_ports = "1-30";
    info.start = WallClock::time_point(std::chrono::seconds(1796321751));
    summary.end = info.start + std::chrono::seconds(3);
    summary.exit_reason = "done";
    IpAddress a = ip("198.18.0.5");
    HostResult h;
    h.addr = a;
    h.reason = Reason::ArpResponse;
    h.mac = MacBytes{0x52, 0x54, 0, 0x12, 0x34, 0x56};
    h.vendor = "QEMU & <friends>";
    h.srtt = std::chrono::microseconds(420);
    h.rttvar = std::chrono::microseconds(100);
    h.hostnames.push_back({"target.example", "user"});
    table.add_host(h);
    table.add(PortResult{a, Protocol::Tcp, 22, PortState::Open, Reason::SynAck, 64, {}});
    table.add(PortResult{a, Protocol::Tcp, 23, PortState::Closed, Reason::Reset, 64, {}});
    for (uint16_t p = 1; p <= 30; ++p)
      if (p != 22 && p != 23)
        table.add(PortResult{a, Protocol::Tcp, p, PortState::Filtered, Reason::NoResponse, 0, {}});
    ServiceInfo s;
    s.addr = a;
    s.port = 22;
    s.name = "ssh";
    s.product = "OpenSSH";
    s.version = "9.2p1 Debian 2";
    s.extra_info = "protocol 2.0";
    s.cpe = {"cpe:/a:openbsd:openssh:9.2p1"};
    s.method = "probed";
    s.confidence = 10;
    s.tls = TlsInfo{};
    s.tls->subject = "CN=target.example";
    s.tls->sans = {"DNS:target.example"};
    s.tls->self_signed = true;
    table.add_service(s);
    summary.hosts_up = table.hosts_up();
  }
};

std::string xml_of(Fixture& f, bool interrupted = false) {
  auto out = std::make_unique<std::ostringstream>();
  auto* raw = out.get();
  XmlSink sink(std::move(out), XmlOptions{});
  sink.begin(f.info);
  f.summary.interrupted = interrupted;
  if (interrupted) f.summary.exit_reason = "interrupted";
  sink.end(f.table, f.summary);
  return raw->str();
}

TEST(XmlSink, WritesEveryRecordOfTheModel) {
  Fixture f;
  std::string x = xml_of(f);
  EXPECT_NE(x.find("<nmaprun scanner=\"nmap\""), std::string::npos) << x;
  EXPECT_NE(x.find("<!-- Glasshouse "), std::string::npos);
  EXPECT_NE(x.find("as: glasshouse scan -sS -&#45;reason -p"), std::string::npos);  // no "--"
  EXPECT_NE(
      x.find("<scaninfo type=\"syn\" protocol=\"tcp\" numservices=\"30\" services=\"1-30\"/>"),
      std::string::npos);
  EXPECT_NE(x.find("<status state=\"up\" reason=\"arp-response\" reason_ttl=\"0\"/>"),
            std::string::npos);
  EXPECT_NE(x.find("<address addr=\"52:54:00:12:34:56\" addrtype=\"mac\" "
                   "vendor=\"QEMU &amp; &lt;friends&gt;\"/>"),
            std::string::npos);
  EXPECT_NE(x.find("<hostname name=\"target.example\" type=\"user\"/>"), std::string::npos);
  // 28 silent ports are more than 25: one <extraports>, and the two others listed.
  EXPECT_NE(x.find("<extraports state=\"filtered\" count=\"28\">"), std::string::npos);
  EXPECT_NE(x.find("<extrareasons reason=\"no-response\" count=\"28\" proto=\"tcp\"/>"),
            std::string::npos);
  EXPECT_NE(x.find("<port protocol=\"tcp\" portid=\"22\"><state state=\"open\" reason=\"syn-ack\" "
                   "reason_ttl=\"64\"/><service name=\"ssh\" product=\"OpenSSH\" version=\"9.2p1 "
                   "Debian 2\" extrainfo=\"protocol 2.0\" method=\"probed\" conf=\"10\">"
                   "<cpe>cpe:/a:openbsd:openssh:9.2p1</cpe></service><script id=\"ssl-cert\""),
            std::string::npos)
      << x;
  EXPECT_NE(x.find("<port protocol=\"tcp\" portid=\"23\"><state state=\"closed\" reason=\"reset\""),
            std::string::npos);
  EXPECT_NE(x.find("<times srtt=\"420\" rttvar=\"100\" to=\"1680\"/>"), std::string::npos);
  EXPECT_NE(x.find("<hosts up=\"1\" down=\"1\" total=\"2\"/>"), std::string::npos);
  EXPECT_NE(x.find("exit=\"success\""), std::string::npos);
  EXPECT_EQ(x.substr(x.size() - 11), "</nmaprun>\n");
}

TEST(XmlSink, AHostWithoutDiscoveryGetsThePortScansRoundTripAsItsTimes) {
  // -Pn, unprivileged, loopback: no discovery record; the first timed verdict's round trip is
  // the host's <times>, as nmap writes its port scan's (one sample: rttvar = srtt, to >= 100 ms).
  ScanInfo info;
  info.command_line = "glasshouse scan -sT -Pn -p 22,23 127.0.0.1";
  info.scan_type = "connect";
  info.targets = 1;
  info.ports = 2;
  info.tcp_ports = "22-23";
  ResultTable table{2};
  ScanSummary summary;
  summary.exit_reason = "done";
  PortResult closed{
      ip("127.0.0.1"), Protocol::Tcp, 22, PortState::Closed, Reason::ConnRefused, 0, {}};
  closed.rtt = std::chrono::microseconds(87);
  table.add(closed);
  table.add(PortResult{
      ip("127.0.0.1"), Protocol::Tcp, 23, PortState::Closed, Reason::ConnRefused, 0, {}});
  summary.hosts_up = table.hosts_up();
  auto out = std::make_unique<std::ostringstream>();
  auto* raw = out.get();
  XmlSink sink(std::move(out), XmlOptions{});
  sink.begin(info);
  sink.end(table, summary);
  std::string x = raw->str();
  EXPECT_NE(x.find("<times srtt=\"87\" rttvar=\"87\" to=\"100000\"/>\n</host>"), std::string::npos)
      << x;
}

TEST(XmlSink, StopPathClosesTheDocumentWithAnError) {
  Fixture f;
  std::string x = xml_of(f, true);
  EXPECT_NE(x.find("exit=\"error\" errormsg=\"interrupted: results are incomplete\""),
            std::string::npos);
  EXPECT_EQ(x.substr(x.size() - 11), "</nmaprun>\n");
}

TEST(XmlSink, EscapesHostileText) {
  EXPECT_EQ(xml_escape("a\"b<c>&'"), "a&quot;b&lt;c&gt;&amp;&apos;");
  EXPECT_EQ(xml_escape("tab\there\n"), "tab&#9;here&#10;");
  EXPECT_EQ(xml_escape(std::string("nul\0x", 5)), "nul\xEF\xBF\xBDx");
  EXPECT_EQ(xml_escape("\xC3\xA9"), "\xC3\xA9");    // é passes
  EXPECT_EQ(xml_escape("\xC3("), "\xEF\xBF\xBD(");  // truncated sequence
  EXPECT_EQ(xml_escape("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(port_ranges({80, 22, 23, 24, 443, 22}), "22-24,80,443");
}

TEST(GrepableSink, OneStatusAndOnePortsLinePerHost) {
  Fixture f;
  auto out = std::make_unique<std::ostringstream>();
  auto* raw = out.get();
  GrepableSink sink(std::move(out), GrepableOptions{});
  sink.begin(f.info);
  sink.end(f.table, f.summary);
  std::string g = raw->str();
  EXPECT_EQ(g.rfind("# Glasshouse ", 0), 0u);
  EXPECT_NE(g.find("Host: 198.18.0.5 (target.example)\tStatus: Up\n"), std::string::npos) << g;
  EXPECT_NE(
      g.find("Host: 198.18.0.5 (target.example)\tPorts: 22/open/tcp//ssh//OpenSSH 9.2p1 "
             "Debian 2 (protocol 2.0)/, 23/closed/tcp//telnet///\tIgnored State: filtered (28)\n"),
      std::string::npos)
      << g;
  EXPECT_NE(g.find("# Glasshouse done at "), std::string::npos);
}

TEST(GrepableSink, PortsScannedLineWithVerbose) {
  // nmap -v -oG: "# Ports scanned: TCP(N;ranges) UDP(0;) SCTP(0;) PROTOCOLS(0;)" after the header.
  Fixture f;
  f.info.tcp_ports = "22,80,1000-1009";
  for (int v : {0, 1}) {
    auto out = std::make_unique<std::ostringstream>();
    auto* raw = out.get();
    GrepableOptions o;
    o.verbosity = v;
    GrepableSink sink(std::move(out), o);
    sink.begin(f.info);
    bool has = raw->str().find(
                   "\n# Ports scanned: TCP(12;22,80,1000-1009) UDP(0;) SCTP(0;) "
                   "PROTOCOLS(0;)\n") != std::string::npos;
    EXPECT_EQ(has, v > 0) << raw->str();
  }
}

TEST(TableCodec, RestoresWhatTheOutputsWrite) {
  // The resume file's table: the restored one gives the same grepable file (services are not
  // kept: -sV probes again on resume) and the same counts.
  Fixture f;
  f.table.add(PortResult{
      ip("2001:db8::7"), Protocol::Udp, 53, PortState::Open, Reason::UdpResponse, 63, {}});
  f.table.note_host(ip("198.18.0.9"));
  std::string bytes = encode_table(f.table);
  ResultTable back(30);
  decode_table(bytes, back, "r.resume");
  EXPECT_EQ(encode_table(back), bytes);
  EXPECT_EQ(back.hosts().size(), 3u);
  EXPECT_EQ(back.hosts_up(), f.table.hosts_up());
  EXPECT_EQ(back.entries(), f.table.entries());
  EXPECT_EQ(back.count(PortState::Open), 2u);
  const ResultTable::Host& h = back.hosts().at(ip("198.18.0.5"));
  EXPECT_EQ(h.silent_ports().size(), 28u);
  ASSERT_TRUE(h.record);
  EXPECT_EQ(h.record->vendor, "QEMU & <friends>");
  EXPECT_EQ(h.record->srtt, std::chrono::microseconds(420));
  EXPECT_FALSE(h.record->latency);
  ASSERT_EQ(h.record->hostnames.size(), 1u);
  EXPECT_EQ(h.record->hostnames[0].name, "target.example");
  auto grepable = [&](const ResultTable& t) {
    auto out = std::make_unique<std::ostringstream>();
    auto* raw = out.get();
    GrepableSink sink(std::move(out), GrepableOptions{});
    sink.begin(f.info);
    sink.end(t, f.summary);
    std::string g = raw->str();
    return g.substr(g.find('\n'));  // the header names the time it was written
  };
  ResultTable no_services(30);
  decode_table(encode_table(f.table), no_services, "r");
  EXPECT_EQ(grepable(back), grepable(no_services));
  EXPECT_NE(grepable(back).find("Ports: 22/open/tcp//ssh///, 23/closed/tcp//telnet///"),
            std::string::npos)
      << grepable(back);
}

TEST(TableCodec, KeepsTheOsHintAndReadsVersion1) {
  // -O's hint is part of the host record: a resumed run does not probe again the port whose
  // SYN-ACK gave it, so the resume file must carry it.
  ResultTable t(30);
  HostResult h;
  h.addr = ip("198.18.0.2");
  h.state = HostState::Up;
  h.reason = Reason::UserSet;
  OsHint o;
  o.name = "Linux 2.6+";
  o.evidence = "initial TTL 64, window 64240, options MSS,SACK,TS,NOP,WS";
  o.facts.ttl = 64;
  o.facts.window = 64240;
  o.facts.mss = 1460;
  o.facts.wscale = 7;
  o.facts.option_count = 5;
  o.facts.options = {2, 4, 8, 1, 3};
  o.facts.port = 22;
  h.os_hint = o;
  t.add_host(h);
  std::string bytes = encode_table(t);
  ResultTable back(30);
  decode_table(bytes, back, "r");
  const auto& rec = back.hosts().at(ip("198.18.0.2")).record;
  ASSERT_TRUE(rec);
  ASSERT_TRUE(rec->os_hint);
  EXPECT_EQ(rec->os_hint->name, "Linux 2.6+");
  EXPECT_EQ(rec->os_hint->evidence, o.evidence);
  EXPECT_EQ(rec->os_hint->facts.window, 64240);
  EXPECT_EQ(rec->os_hint->facts.wscale, 7);
  EXPECT_EQ(rec->os_hint->facts.options, o.facts.options);
  EXPECT_EQ(rec->os_hint->facts.port, 22);
  EXPECT_EQ(encode_table(back), bytes);
  // A version-1 table (no hint byte after a record) is still read.
  h.os_hint.reset();
  ResultTable plain(30);
  plain.add_host(h);
  std::string v1 = encode_table(plain);
  ASSERT_EQ(v1.back(), '\0');  // the last record's has_hint
  v1.pop_back();
  v1.replace(0, 8, "GHTABLE1");
  ResultTable old(30);
  decode_table(v1, old, "r");
  ASSERT_TRUE(old.hosts().at(ip("198.18.0.2")).record);
  EXPECT_FALSE(old.hosts().at(ip("198.18.0.2")).record->os_hint);
}

TEST(TableCodec, DamagedBytesAreOneUsageError) {
  Fixture f;
  std::string bytes = encode_table(f.table);
  for (size_t n = 0; n < bytes.size(); ++n) {
    ResultTable t(30);
    EXPECT_THROW(decode_table(bytes.substr(0, n), t, "r"), UsageError) << n;
  }
  ResultTable other(31);  // another scan's ports
  EXPECT_THROW(decode_table(bytes, other, "r"), UsageError);
  std::string longer = bytes + "x";
  ResultTable t(30);
  EXPECT_THROW(decode_table(longer, t, "r"), UsageError);
}

TEST(PortListing, FewSilentPortsAreListed) {
  ResultTable t(3);
  IpAddress a = ip("198.18.0.1");
  t.add(PortResult{a, Protocol::Tcp, 80, PortState::Open, Reason::SynAck, 64, {}});
  t.add(PortResult{a, Protocol::Tcp, 81, PortState::Filtered, Reason::NoResponse, 0, {}});
  t.add(PortResult{a, Protocol::Tcp, 79, PortState::Filtered, Reason::NoResponse, 0, {}});
  PortListing l = list_ports(t, t.hosts().at(a), 0, false);
  ASSERT_EQ(l.listed.size(), 3u);
  EXPECT_EQ(l.listed[0].port, 79);
  EXPECT_EQ(l.listed[0].state, PortState::Filtered);
  EXPECT_EQ(l.listed[1].port, 80);
  EXPECT_TRUE(l.extra.empty());
  EXPECT_EQ(l.total, 3u);
}

}  // namespace
}  // namespace gh
