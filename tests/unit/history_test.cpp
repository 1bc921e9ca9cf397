// History features over RunData (src/history): the diff (every kind of change, text and JSON),
// result files (our JSON Lines, nmap XML; truncated and malformed ones), merge of shard files,
// and the HTML report's contents and escaping.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include <fmt/format.h>

#include "audit/json_read.h"
#include "core/error.h"
#include "history/diff.h"
#include "history/merge.h"
#include "history/report.h"
#include "history/result_files.h"

namespace gh {
namespace {

PortRecord port(const std::string& addr, uint16_t n, const std::string& state,
                const std::string& service = "") {
  PortRecord p;
  p.addr = addr;
  p.proto = "tcp";
  p.port = n;
  p.state = state;
  p.reason = state == "open" ? "syn-ack" : state == "closed" ? "reset" : "no-response";
  p.service.name = service;
  return p;
}

RunData run(int64_t id, std::vector<PortRecord> ports, std::vector<std::string> up = {}) {
  RunData r;
  r.meta.id = id;
  r.ports = std::move(ports);
  for (const auto& a : up) r.hosts.push_back({a, "up", "syn-ack", "", "", std::nullopt, ""});
  sort_run(r);
  return r;
}

TEST(Diff, IdenticalRunsHaveNoChanges) {
  RunData a = run(1, {port("198.18.0.1", 22, "open", "ssh")}, {"198.18.0.1"});
  RunData b = run(2, {port("198.18.0.1", 22, "open", "ssh")}, {"198.18.0.1"});
  RunDiff d = diff_runs(a, b);
  EXPECT_TRUE(d.empty());
  EXPECT_NE(format_diff_text(d).find("no changes"), std::string::npos);
}

TEST(Diff, EveryKindOfChange) {
  PortRecord v1 = port("198.18.0.1", 80, "open", "http");
  v1.service.product = "nginx";
  v1.service.version = "1.22";
  PortRecord v2 = v1;
  v2.service.version = "1.24";
  RunData a = run(1,
                  {port("198.18.0.1", 22, "open", "ssh"), v1, port("198.18.0.1", 25, "open"),
                   port("198.18.0.9", 443, "open", "https")},
                  {"198.18.0.1", "198.18.0.9"});
  RunData b = run(2,
                  {port("198.18.0.1", 22, "closed", "ssh"), v2, port("198.18.0.1", 8080, "open"),
                   port("198.18.0.20", 3389, "open", "ms-wbt-server")},
                  {"198.18.0.1", "198.18.0.20"});
  RunDiff d = diff_runs(a, b);
  ASSERT_EQ(d.hosts.size(), 2u);
  EXPECT_EQ(d.hosts[0].kind, HostChange::Kind::Disappeared);
  EXPECT_EQ(d.hosts[0].host.addr, "198.18.0.9");
  EXPECT_EQ(d.hosts[1].kind, HostChange::Kind::Appeared);
  EXPECT_EQ(d.hosts[1].host.addr, "198.18.0.20");
  // In address, then port order: .1:22 state, .1:25 gone, .1:80 service, .1:8080 new,
  // .9:443 gone, .20:3389 new.
  ASSERT_EQ(d.ports.size(), 6u);
  struct Want {
    PortChange::Kind kind;
    const char* addr;
    uint16_t port;
  } want[] = {{PortChange::Kind::State, "198.18.0.1", 22},
              {PortChange::Kind::Disappeared, "198.18.0.1", 25},
              {PortChange::Kind::Service, "198.18.0.1", 80},
              {PortChange::Kind::Appeared, "198.18.0.1", 8080},
              {PortChange::Kind::Disappeared, "198.18.0.9", 443},
              {PortChange::Kind::Appeared, "198.18.0.20", 3389}};
  for (size_t k = 0; k < 6; ++k) {
    const PortRecord& any = d.ports[k].after ? *d.ports[k].after : *d.ports[k].before;
    EXPECT_EQ(d.ports[k].kind, want[k].kind) << k;
    EXPECT_EQ(any.addr, want[k].addr) << k;
    EXPECT_EQ(any.port, want[k].port) << k;
  }
  EXPECT_FALSE(d.ports[3].before.has_value());
  EXPECT_FALSE(d.ports[1].after.has_value());

  std::string text = format_diff_text(d);
  EXPECT_NE(text.find("--- run 1"), std::string::npos);
  EXPECT_NE(text.find("+++ run 2"), std::string::npos);
  EXPECT_NE(text.find("+ host 198.18.0.20 is up"), std::string::npos);
  EXPECT_NE(text.find("- host 198.18.0.9 is gone"), std::string::npos);
  EXPECT_NE(text.find("~ 198.18.0.1:22/tcp open ssh -> closed ssh"), std::string::npos) << text;
  EXPECT_NE(text.find("~ 198.18.0.1:80/tcp open http nginx 1.22 -> open http nginx 1.24"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("+ 198.18.0.1:8080/tcp open"), std::string::npos);
  EXPECT_NE(text.find("- 198.18.0.1:25/tcp open"), std::string::npos);
  EXPECT_NE(text.find("1 host appeared, 1 disappeared; 2 ports appeared, 2 disappeared, 1 "
                      "changed state, 1 changed service"),
            std::string::npos)
      << text;

  std::string err;
  auto json = parse_json(format_diff_json(d), &err);
  ASSERT_TRUE(json) << err;
  const JsonValue* ports = json->get("ports");
  ASSERT_TRUE(ports && ports->items.size() == 6);
  EXPECT_EQ(ports->items[0].get("change")->text, "state");
  EXPECT_EQ(ports->items[0].get("before")->get("state")->text, "open");
  EXPECT_EQ(ports->items[0].get("after")->get("state")->text, "closed");
  EXPECT_EQ(ports->items[3].get("before")->type, JsonValue::Type::Null);
  EXPECT_EQ(ports->items[2].get("after")->get("service")->get("version")->text, "1.24");
  EXPECT_EQ(json->get("summary")->get("service_changed")->as_u64(), 1u);
  EXPECT_EQ(json->get("hosts")->items[1].get("ip")->text, "198.18.0.20");
  EXPECT_EQ(json->get("a")->get("run")->as_u64(), 1u);
}

TEST(Diff, HowAServiceWasFoundIsNotAChange) {
  PortRecord x = port("198.18.0.1", 5713, "filtered", "proshareaudio");
  PortRecord y = x;
  y.service.method = "table";
  y.service.confidence = 3;
  EXPECT_TRUE(diff_runs(run(1, {x}), run(2, {y})).empty());
}

TEST(Diff, IPv6AddressesAreBracketed) {
  RunDiff d = diff_runs(run(1, {}), run(2, {port("2001:db8::5", 22, "open", "ssh")}));
  EXPECT_NE(format_diff_text(d).find("+ [2001:db8::5]:22/tcp open ssh"), std::string::npos);
}

constexpr const char* kJsonl =
    R"({"type":"scan","version":"0.1.0","start":"2026-12-01T10:00:00.000Z","command":"glasshouse scan -sS --seed 7 --shards 2 --shard 0 -p 22,80 198.18.0.0/30","scan_type":"syn","targets":4,"ports":2}
{"type":"port","ip":"198.18.0.2","port":80,"proto":"tcp","state":"open","reason":"syn-ack","service":"http","ttl":64,"time":"2026-12-01T10:00:01.000Z"}
{"type":"port","ip":"198.18.0.1","port":22,"proto":"tcp","state":"open","reason":"syn-ack","service":"ssh","ttl":64,"time":"2026-12-01T10:00:01.000Z"}
{"type":"summary","end":"2026-12-01T10:00:05.000Z","elapsed":5.0,"hosts_up":2,"probes_sent":4,"replies":2,"open_ports":2,"ports_written":2,"interrupted":false,"exit_reason":"done","retries":0,"passes":1,"loss":null,"completeness":null}
)";

TEST(ResultFiles, ReadsJsonLines) {
  RunData r = read_jsonl_results(kJsonl, "a.jsonl");
  EXPECT_EQ(r.meta.source, "a.jsonl");
  EXPECT_EQ(r.meta.scan_type, "syn");
  EXPECT_EQ(r.meta.targets, 4u);
  EXPECT_EQ(r.meta.exit_reason, "done");
  EXPECT_EQ(r.meta.probes_sent, 4u);
  ASSERT_EQ(r.ports.size(), 2u);
  EXPECT_EQ(r.ports[0].addr, "198.18.0.1");
  EXPECT_EQ(r.ports[0].service.name, "ssh");
  EXPECT_EQ(r.ports[0].ttl, 64);
  EXPECT_EQ(r.hosts.size(), 2u);
}

TEST(ResultFiles, BadJsonLinesNameTheLine) {
  std::string bad = std::string(kJsonl) + "{\"type\":\"port\",\"ip\":\"198.18.0.3\"\n";
  try {
    read_jsonl_results(bad, "b.jsonl");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("b.jsonl:5:"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_jsonl_results("{\"type\":\"port\",\"ip\":\"1.2.3.4\",\"port\":1,\"state\":"
                                  "\"open\"}\n",
                                  "c"),
               UsageError);  // no header
  EXPECT_THROW(read_jsonl_results(
                   "{\"type\":\"scan\"}\n{\"type\":\"port\",\"ip\":\"1.2.3.4\",\"port\":70000,"
                   "\"state\":\"open\"}\n",
                   "d"),
               UsageError);
}

// nmap 7.93's shape, trimmed (written by hand for the test).
constexpr const char* kNmapXml = R"(<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<nmaprun scanner="nmap" args="nmap -sV -p 22,80,443 198.18.0.1-2" start="1764583200" startstr="x" version="7.93" xmloutputversion="1.05">
<scaninfo type="syn" protocol="tcp" numservices="3" services="22,80,443"/>
<host starttime="1764583200" endtime="1764583201"><status state="up" reason="arp-response" reason_ttl="0"/>
<address addr="198.18.0.1" addrtype="ipv4"/><address addr="02:00:00:00:00:01" addrtype="mac" vendor="Lab"/>
<hostnames><hostname name="gw.lab" type="PTR"/></hostnames>
<ports><extraports state="closed" count="1"><extrareasons reason="reset" count="1"/></extraports>
<port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="ssh" product="OpenSSH" version="9.2p1 Debian 2" extrainfo="protocol 2.0" ostype="Linux" method="probed" conf="10"><cpe>cpe:/a:openbsd:openssh:9.2p1</cpe><cpe>cpe:/o:linux:linux_kernel</cpe></service></port>
<port protocol="tcp" portid="443"><state state="filtered" reason="no-response" reason_ttl="0"/><service name="https" method="table" conf="3"/></port>
</ports><times srtt="1200" rttvar="500" to="100000"/></host>
<host><status state="down" reason="no-response" reason_ttl="0"/><address addr="198.18.0.2" addrtype="ipv4"/></host>
<runstats><finished time="1764583205" timestr="x" elapsed="5.00" summary="x" exit="success"/><hosts up="1" down="1" total="2"/></runstats>
</nmaprun>
)";

TEST(ResultFiles, ReadsNmapXml) {
  RunData r = read_nmap_xml(kNmapXml, "n.xml");
  EXPECT_EQ(r.meta.scanner, "nmap");
  EXPECT_EQ(r.meta.scan_type, "syn");
  EXPECT_EQ(r.meta.start, "2025-12-01T10:00:00.000Z");
  EXPECT_EQ(r.meta.exit_reason, "done");
  EXPECT_EQ(r.meta.targets, 2u);
  EXPECT_EQ(r.meta.hosts_up, 1u);
  ASSERT_EQ(r.hosts.size(), 2u);
  EXPECT_EQ(r.hosts[0].mac, "02:00:00:00:00:01");
  EXPECT_EQ(r.hosts[0].hostname, "gw.lab");
  ASSERT_TRUE(r.hosts[0].latency);
  EXPECT_DOUBLE_EQ(*r.hosts[0].latency, 0.0012);
  EXPECT_EQ(r.hosts[1].state, "down");
  ASSERT_EQ(r.ports.size(), 2u);
  EXPECT_EQ(r.ports[0].port, 22);
  EXPECT_EQ(r.ports[0].ttl, 64);
  EXPECT_EQ(r.ports[0].service.product, "OpenSSH");
  EXPECT_EQ(r.ports[0].service.version, "9.2p1 Debian 2");
  EXPECT_EQ(r.ports[0].service.extra_info, "protocol 2.0");
  ASSERT_EQ(r.ports[0].service.cpe.size(), 2u);
  EXPECT_EQ(r.ports[0].service.confidence, 10);
  EXPECT_EQ(r.ports[1].state, "filtered");
  EXPECT_EQ(r.ports[1].ttl, -1);
}

TEST(ResultFiles, TruncatedXmlIsOneClearLine) {
  std::string full = kNmapXml;
  for (size_t cut : {full.size() / 3, full.size() / 2, full.size() - 12}) {
    try {
      read_nmap_xml(full.substr(0, cut), "cut.xml");
      FAIL() << "accepted a file cut at " << cut;
    } catch (const UsageError& e) {
      std::string m = e.what();
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
      EXPECT_NE(m.find("cut.xml:"), std::string::npos) << m;
      EXPECT_NE(m.find("truncated"), std::string::npos) << m;
    }
  }
  EXPECT_THROW(read_nmap_xml("<?xml version=\"1.0\"?><other/>", "o.xml"), UsageError);
}

TEST(ResultFiles, XmlPortWithoutProtocolIsTcpAsInJsonLines) {
  // Found by fuzz_diff_xml: a <port> without protocol= was keyed by "", which our JSON Lines
  // reads back as tcp, so a merged file lost a port.
  RunData r = read_nmap_xml(
      "<nmaprun scanner=\"nmap\"><host><status state=\"up\"/><address addr=\"198.18.0.1\" "
      "addrtype=\"ipv4\"/><ports><port portid=\"80\"><state state=\"open\"/></port><port "
      "protocol=\"tcp\" portid=\"80\"><state state=\"closed\"/></port></ports></host>"
      "</nmaprun>",
      "p.xml");
  ASSERT_EQ(r.ports.size(), 1u);
  EXPECT_EQ(r.ports[0].proto, "tcp");
  EXPECT_EQ(r.ports[0].state, "closed");  // the later record wins, as in JSON Lines
}

TEST(ResultFiles, XmlEntitiesAreNotExpanded) {
  // An external entity must not be read (XXE): the document is refused or the entity left out.
  std::string xxe =
      "<?xml version=\"1.0\"?><!DOCTYPE nmaprun [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
      "<nmaprun scanner=\"nmap\" args=\"&x;\"></nmaprun>";
  try {
    RunData r = read_nmap_xml(xxe, "x.xml");
    EXPECT_EQ(r.meta.command.find("root:"), std::string::npos);
  } catch (const UsageError&) {
  }
}

MergeResult merge_of(const std::vector<std::string>& texts, bool mixed = false) {
  std::vector<RunData> runs;
  for (size_t k = 0; k < texts.size(); ++k)
    runs.push_back(read_jsonl_results(texts[k], "s" + std::to_string(k) + ".jsonl"));
  return merge_runs(runs, mixed);
}

std::string shard(int index, const std::vector<std::pair<const char*, int>>& ports,
                  const char* state = "open", const char* extra = "") {
  std::string s = fmt::format(
      R"({{"type":"scan","start":"2026-12-01T10:00:0{}.000Z","command":"glasshouse scan --seed 7 --shards 3 --shard {}{} -p 1-100 198.18.0.0/30","scan_type":"syn","targets":4,"ports":100}})"
      "\n",
      index, index, extra);
  for (auto [ip, p] : ports)
    s += fmt::format(
        R"({{"type":"port","ip":"{}","port":{},"proto":"tcp","state":"{}","reason":"syn-ack","service":"x","ttl":64,"time":"t"}})"
        "\n",
        ip, p, state);
  s +=
      R"({"type":"summary","end":"2026-12-01T10:00:09.000Z","probes_sent":100,"exit_reason":"done"})"
      "\n";
  return s;
}

TEST(Merge, JoinsShardsEachPortOnce) {
  MergeResult m = merge_of({shard(0, {{"198.18.0.1", 22}, {"198.18.0.2", 80}}),
                            shard(1, {{"198.18.0.1", 80}}), shard(2, {{"198.18.0.3", 443}})});
  EXPECT_EQ(m.duplicates, 0u);
  EXPECT_TRUE(m.notes.empty());
  ASSERT_EQ(m.run.ports.size(), 4u);
  EXPECT_EQ(m.run.meta.open_ports, 4u);
  EXPECT_EQ(m.run.meta.probes_sent, 300u);
  EXPECT_EQ(m.run.meta.shards, 3u);
  EXPECT_EQ(m.run.meta.start, "2026-12-01T10:00:00.000Z");
  EXPECT_EQ(m.run.meta.exit_reason, "done");
  // Written and read back: the same ports, one header, one summary.
  std::ostringstream out;
  write_merged_jsonl(m, out);
  RunData back = read_jsonl_results(out.str(), "merged");
  ASSERT_EQ(back.ports.size(), 4u);
  for (size_t k = 0; k < 4; ++k) EXPECT_EQ(back.ports[k].key(), m.run.ports[k].key());
  std::string text = out.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 6);
  EXPECT_TRUE(diff_runs(m.run, back).empty());
}

TEST(Merge, DuplicatesAndConflictsAndMissingShards) {
  // Shard 1 given twice; shard 2 missing; one port reported twice with different states.
  std::string s1 = shard(1, {{"198.18.0.1", 80}});
  MergeResult m =
      merge_of({shard(0, {{"198.18.0.1", 22}}), s1, s1, shard(0, {{"198.18.0.1", 22}}, "closed")});
  EXPECT_EQ(m.duplicates, 2u);
  ASSERT_EQ(m.run.ports.size(), 2u);
  EXPECT_EQ(m.run.ports[0].state, "open");  // open beats closed
  std::string notes;
  for (const auto& n : m.notes) notes += n + "\n";
  EXPECT_NE(notes.find("shard 1 of 3 is given twice"), std::string::npos) << notes;
  EXPECT_NE(notes.find("shard 2 of 3 missing"), std::string::npos) << notes;
  EXPECT_NE(notes.find("198.18.0.1 port 22/tcp: open in s0.jsonl, closed in s3.jsonl; kept open"),
            std::string::npos)
      << notes;
}

TEST(Merge, RefusesFilesOfDifferentScans) {
  try {
    merge_of({shard(0, {}), shard(1, {}, "open", " -T4")});
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("not shards of one scan"), std::string::npos);
  }
  EXPECT_NO_THROW(merge_of({shard(0, {}), shard(1, {}, "open", " -T4")}, true));
  // Where each shard writes is not what it scans: each pod has its own files.
  EXPECT_NO_THROW(merge_of({shard(0, {}, "open", " -oJ /r/shard-0.jsonl --audit-log=/a/0"),
                            shard(1, {}, "open", " -oJ /r/shard-1.jsonl --audit-log=/a/1"),
                            shard(2, {}, "open", " -oJ/r/shard-2.jsonl --db postgresql://x")}));
  EXPECT_EQ(shard_of_command("glasshouse scan --shards 4 --shard 2 x"), std::pair(2u, 4u));
  EXPECT_EQ(shard_of_command("glasshouse scan --shards=4 --shard=3 x"), std::pair(3u, 4u));
  EXPECT_EQ(shard_of_command("glasshouse scan x"), std::pair(0u, 1u));
}

// A real -sS -sU run's outputs (the lab's 198.18.0.2: 22/tcp open, 7777/udp an echo server,
// the rest closed), as two shards: shard 0's -oJ and shard 1's -oX (paths shortened, the XML
// comment line dropped).
constexpr const char* kBothShard0Jsonl =
    R"({"type":"scan","version":"0.1.0","start":"2026-12-04T10:15:11.075Z","command":"glasshouse scan -Pn -sS -sU -p 22,7,7777 --shards 2 --shard 0 --seed 7 --reason --show all -oJ /tmp/lab/s0.jsonl -oX /tmp/lab/s0.xml 198.18.0.2","scan_type":"syn","scan_types":["syn","udp"],"targets":1,"ports":6}
{"type":"port","ip":"198.18.0.2","port":7,"proto":"tcp","state":"closed","reason":"reset","service":"echo","ttl":64,"time":"2026-12-04T10:15:11.081Z"}
{"type":"port","ip":"198.18.0.2","port":7777,"proto":"tcp","state":"closed","reason":"reset","service":"cbt","ttl":64,"time":"2026-12-04T10:15:11.081Z"}
{"type":"port","ip":"198.18.0.2","port":7,"proto":"udp","state":"closed","reason":"port-unreach","service":"echo","ttl":64,"time":"2026-12-04T10:15:11.086Z"}
{"type":"port","ip":"198.18.0.2","port":7777,"proto":"udp","state":"open","reason":"udp-response","service":"cbt","ttl":64,"time":"2026-12-04T10:15:11.086Z"}
{"type":"summary","end":"2026-12-04T10:15:11.087Z","elapsed":0.012,"hosts_up":1,"probes_sent":4,"replies":4,"open_ports":1,"ports_written":4,"interrupted":false,"exit_reason":"done","retries":0,"passes":1,"loss":null,"completeness":null}
)";
constexpr const char* kBothShard1Xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<nmaprun scanner="nmap" args="glasshouse scan -Pn -sS -sU -p 22,7,7777 --shards 2 --shard 1 --seed 7 --reason --show all -oJ /tmp/lab/s1.jsonl -oX /tmp/lab/s1.xml 198.18.0.2" start="1796379311" startstr="Fri Dec  4 10:15:11 2026" version="0.1.0" profile_name="Glasshouse 0.1.0" xmloutputversion="1.05">
<scaninfo type="syn" protocol="tcp" numservices="3" services="7,22,7777"/>
<scaninfo type="udp" protocol="udp" numservices="3" services="7,22,7777"/>
<verbose level="0"/>
<debugging level="0"/>
<host starttime="1796379311" endtime="1796379311"><status state="up" reason="user-set" reason_ttl="0"/>
<address addr="198.18.0.2" addrtype="ipv4"/>
<hostnames>
</hostnames>
<ports><extraports state="filtered" count="4">
<extrareasons reason="no-response" count="4" proto="tcp"/>
</extraports>
<port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="ssh" method="table" conf="3"/></port>
<port protocol="udp" portid="22"><state state="closed" reason="port-unreach" reason_ttl="64"/><service name="ssh" method="table" conf="3"/></port>
</ports>
</host>
<runstats><finished time="1796379311" timestr="Fri Dec  4 10:15:11 2026" summary="Glasshouse done at Fri Dec  4 10:15:11 2026; 1 IP address (1 host up) scanned in 0.02 seconds" elapsed="0.02" exit="success"/><hosts up="1" down="0" total="1"/>
</runstats>
</nmaprun>
)";

TEST(ResultFiles, BothScanTypesOfAnSsSuRun) {
  RunData j = read_jsonl_results(kBothShard0Jsonl, "s0.jsonl");
  EXPECT_EQ(j.meta.scan_types, (std::vector<std::string>{"syn", "udp"}));
  EXPECT_EQ(j.meta.scan_type, "syn");
  EXPECT_EQ(j.meta.ports, 6u);
  RunData x = read_nmap_xml(kBothShard1Xml, "s1.xml");
  EXPECT_EQ(x.meta.scan_types, (std::vector<std::string>{"syn", "udp"}));
  EXPECT_EQ(x.meta.scan_type, "syn");
  EXPECT_EQ(x.meta.ports, 6u);
  // Files written before "scan_types" (and nmap's XML of one type) name one type.
  EXPECT_EQ(read_jsonl_results(kJsonl, "a").meta.scan_types, std::vector<std::string>{"syn"});
  EXPECT_EQ(read_nmap_xml(kNmapXml, "n").meta.scan_types, std::vector<std::string>{"syn"});
}

TEST(Merge, AnSsSuRunsShardsKeepBothScanTypes) {
  std::vector<RunData> runs{read_jsonl_results(kBothShard0Jsonl, "s0.jsonl"),
                            read_nmap_xml(kBothShard1Xml, "s1.xml")};
  MergeResult m = merge_runs(runs, false);
  EXPECT_TRUE(m.notes.empty()) << m.notes.front();
  EXPECT_EQ(m.duplicates, 0u);
  ASSERT_EQ(m.run.ports.size(), 6u);  // 7, 22, 7777 over TCP and UDP, each once
  std::ostringstream out;
  write_merged_jsonl(m, out);
  auto head = parse_json(out.str().substr(0, out.str().find('\n')));
  ASSERT_TRUE(head);
  EXPECT_EQ(head->get("scan_type")->text, "syn");
  const JsonValue* types = head->get("scan_types");
  ASSERT_NE(types, nullptr);
  ASSERT_EQ(types->items.size(), 2u);
  EXPECT_EQ(types->items[0].text, "syn");
  EXPECT_EQ(types->items[1].text, "udp");
  // Read back: both types, every port.
  RunData back = read_jsonl_results(out.str(), "merged");
  EXPECT_EQ(back.meta.scan_types, (std::vector<std::string>{"syn", "udp"}));
  EXPECT_TRUE(diff_runs(m.run, back).empty());
  // A -sS file is another scan than a -sS -sU one, even with the same counts and command.
  std::string only_syn = kBothShard0Jsonl;
  only_syn.replace(only_syn.find("\"scan_types\":[\"syn\",\"udp\"]"),
                   std::string_view("\"scan_types\":[\"syn\",\"udp\"]").size(),
                   "\"scan_types\":[\"syn\"]");
  runs[0] = read_jsonl_results(only_syn, "syn.jsonl");
  try {
    merge_runs(runs, false);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("(scan type syn vs syn+udp)"), std::string::npos)
        << e.what();
  }
}

TEST(Report, HoldsEverySectionAndEscapesWhatServicesSay) {
  PortRecord evil = port("198.18.0.1", 80, "open", "http");
  evil.service.product = "<script>alert(1)</script>";
  evil.service.extra_info = "\"onmouseover='x'";
  RunData r =
      run(3,
          {port("198.18.0.1", 22, "open", "ssh"), evil, port("198.18.0.2", 22, "open", "ssh"),
           port("198.18.0.2", 23, "closed", "telnet")},
          {"198.18.0.1", "198.18.0.2"});
  r.meta.command = "glasshouse scan <x>";
  RunData before = run(2, {port("198.18.0.1", 22, "open", "ssh")}, {"198.18.0.1"});
  RunDiff d = diff_runs(before, r);
  std::string html = render_report(r, &d);
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_EQ(html.find("glasshouse scan <x>"), std::string::npos);
  // No fetches: no src= or href= attributes to anything, a CSP that forbids them.
  EXPECT_EQ(html.find(" src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_NE(html.find("default-src 'none'"), std::string::npos);
  // One table row per port, the chart's bars (ssh 2, http 1), the changes.
  size_t rows = 0;
  for (size_t at = html.find("<tr data-order="); at != std::string::npos;
       at = html.find("<tr data-order=", at + 1))
    ++rows;
  EXPECT_EQ(rows, 4u);
  EXPECT_NE(html.find("data-service=\"ssh\" data-count=\"2\""), std::string::npos);
  EXPECT_NE(html.find("data-service=\"http\" data-count=\"1\""), std::string::npos);
  EXPECT_LT(html.find("data-service=\"ssh\" data-count"),
            html.find("data-service=\"http\" data-count"));
  EXPECT_NE(html.find("data-change=\"host-appeared\""), std::string::npos);
  EXPECT_NE(html.find("data-change=\"appeared\" data-ip=\"198.18.0.1\" data-port=\"80\""),
            std::string::npos);
  std::string none = render_report(r, nullptr);
  EXPECT_NE(none.find("No earlier run of the same targets"), std::string::npos);
  EXPECT_EQ(html_escape("a&b<'\">\x01"), "a&amp;b&lt;&#39;&quot;&gt;&#xFFFD;");
}

}  // namespace
}  // namespace gh
