// The probe databases: nmap's format reader, our TOML reader, templates, matching, merging, and
// the shipped data/service-probes.toml (every regex compiles; each rule matches the banner it was
// written from).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/build_paths.h"
#include "core/error.h"
#include "service/nmap_probes.h"
#include "service/probe_db.h"
#include "service/toml_probes.h"
#include "service/version_scan.h"

namespace gh {
namespace {

// The bytes of a string literal with embedded NULs, its length taken from the array (a length
// written by hand read past the literal's end: ASan).
template <size_t N>
std::string bytes(const char (&s)[N]) {
  return std::string(s, N - 1);
}

ProbeDb nmap_db(const std::string& text) {
  std::istringstream in(text);
  return parse_nmap_probes(in, "test", DbSource::Nmap);
}

ProbeDb shipped() {
  return load_toml_probes(std::string(GLASSHOUSE_SOURCE_DATADIR) + "/service-probes.toml");
}

TEST(ServiceTemplate, GroupsPrintableSubstAndIntegers) {
  std::vector<std::string_view> g{"all", "9.2p1",
                                  std::string_view("a\x01"
                                                   "b",
                                                   3),
                                  "1_2_3", std::string_view("\x01\x02", 2)};
  EXPECT_EQ(expand_template("v$1", g), "v9.2p1");
  EXPECT_EQ(expand_template("$P(2)", g), "ab");
  EXPECT_EQ(expand_template("$SUBST(3,\"_\",\".\")", g), "1.2.3");
  EXPECT_EQ(expand_template("$I(4,\">\")", g), "258");
  EXPECT_EQ(expand_template("$I(4,\"<\")", g), "513");
  EXPECT_EQ(expand_template("$9 and $", g), " and $");                // a missing group is empty
  EXPECT_EQ(expand_template("$SUBST(1,\"x\"", g), "$SUBST(1,\"x\"");  // malformed: as is
}

TEST(NmapProbes, ParsesProbesDirectivesAndMatchFields) {
  ProbeDb db = nmap_db(
      "# comment\n"
      "Exclude T:9100\n"
      "Probe TCP NULL q||\n"
      "totalwaitms 6000\n"
      "tcpwrappedms 3000\n"
      "match ssh m|^SSH-([\\d.]+)-OpenSSH_([\\w.]+)|i p/OpenSSH/ v/$2/ i/protocol $1/ "
      "cpe:/a:openbsd:openssh:$2/a\n"
      "softmatch ftp m=^220 =\n"
      "Probe TCP GetRequest q|GET / HTTP/1.0\\r\\n\\r\\n|\n"
      "rarity 1\n"
      "ports 80-85,8080\n"
      "sslports 443\n"
      "fallback NULL\n"
      "match http m|^HTTP/1\\.[01] (\\d\\d\\d).*\\r\\nServer: ([^\\r\\n]+)|s p/$2/ i/status $1/\n");
  ASSERT_EQ(db.probes().size(), 2u);
  const ServiceProbe* null = db.find("NULL", Protocol::Tcp);
  ASSERT_NE(null, nullptr);
  EXPECT_EQ(null->totalwait_ms, 6000u);
  ASSERT_EQ(null->matches.size(), 2u);
  EXPECT_TRUE(null->matches[0].caseless);
  EXPECT_EQ(null->matches[0].cpe.size(), 1u);
  EXPECT_TRUE(null->matches[1].soft);
  const ServiceProbe* get = db.find("GetRequest", Protocol::Tcp);
  ASSERT_NE(get, nullptr);
  EXPECT_EQ(get->payload, "GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(get->rarity, 1);
  EXPECT_TRUE(in_ranges(get->ports, 83));
  EXPECT_FALSE(in_ranges(get->ports, 86));
  EXPECT_TRUE(in_ranges(get->sslports, 443));
  EXPECT_TRUE(get->matches[0].dotall);

  auto m = db.match(*null, "ssh-2.0-openssh_9.2p1 Debian\r\n");  // caseless
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->soft);
  EXPECT_EQ(m->product, "OpenSSH");
  EXPECT_EQ(m->version, "9.2p1");
  EXPECT_EQ(m->info, "protocol 2.0");
  EXPECT_EQ(m->cpe[0], "cpe:/a:openbsd:openssh:9.2p1");
  auto soft = db.match(*null, "220 hello\r\n");
  ASSERT_TRUE(soft);
  EXPECT_TRUE(soft->soft);
  EXPECT_EQ(soft->service, "ftp");
  // A GetRequest reply is also matched against the NULL probe's rules (banner before the reply).
  auto h = db.match(*get, "HTTP/1.1 404 Not Found\r\nDate: x\r\nServer: demo/1\r\n\r\n");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->product, "demo/1");
  EXPECT_EQ(h->info, "status 404");
  auto late_banner = db.match(*get, "SSH-2.0-OpenSSH_8.0\r\nProtocol mismatch.\n");
  ASSERT_TRUE(late_banner);
  EXPECT_EQ(late_banner->service, "ssh");
  EXPECT_FALSE(db.match(*get, bytes("\0\xff\xfe")));
}

TEST(NmapProbes, MalformedLinesNameTheLine) {
  for (const char* bad :
       {"match x m|a|\n", "Probe TCP X q|a|\nmatch http m|a\n", "Probe TCP X q|a|\nrarity eleven\n",
        "Probe SCTP X q||\n", "Probe TCP X q|a|\nports 1-x\n", "Probe TCP X q|a|\nmatch h m|a|z\n",
        "Probe TCP X q|a|\nbogus 1\n"}) {
    try {
      nmap_db(bad);
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("test:"), std::string::npos) << e.what();
    }
  }
}

TEST(NmapProbes, EscapesDecode) {
  EXPECT_EQ(decode_escapes("\\0\\x41\\r\\n\\\\\\t"), bytes("\0A\r\n\\\t"));
  EXPECT_EQ(decode_escapes("\\xZZ"), "xZZ");
}

TEST(ServiceDb, OursWinsTiesWhenMerged) {
  ProbeDb ours = parse_toml_probes(
      "[[probe]]\nname = \"NULL\"\n[[probe.match]]\nservice = \"ssh\"\n"
      "pattern = '^SSH-2.0-Ours'\nproduct = \"ours\"\n",
      "ours.toml");
  ProbeDb theirs = nmap_db(
      "Probe TCP NULL q||\nmatch ssh m|^SSH-| p/theirs/\n"
      "Probe TCP Other q|x|\nmatch x m|^x|\n");
  ours.merge(std::move(theirs));
  ASSERT_EQ(ours.probes().size(), 2u);
  const ServiceProbe* null = ours.find("NULL", Protocol::Tcp);
  EXPECT_EQ(ours.match(*null, "SSH-2.0-Ours\r\n")->product, "ours");
  EXPECT_EQ(ours.match(*null, "SSH-2.0-Else\r\n")->product, "theirs");
  EXPECT_EQ(null->matches.size(), 2u);
}

TEST(ServiceDb, TomlErrorsNameFileAndProbe) {
  for (const char* bad :
       {"[[probe]]\nname = \"A\"\nbogus = 1\n", "[[probe]]\nname = \"A\"\nrarity = 12\n",
        "[[probe]]\nname = \"A\"\n[[probe.match]]\npattern = 'x'\n",
        "[[probe]]\nname = \"A\"\nports = \"1-\"\n",
        "[[probe]]\nname = \"A\"\n[[probe]]\nname = \"A\"\n", "[[probe]\n"}) {
    EXPECT_THROW(parse_toml_probes(bad, "x.toml"), UsageError) << bad;
  }
}

TEST(ServiceDb, BadRegexIsSkippedNotFatal) {
  ProbeDb db = nmap_db("Probe TCP NULL q||\nmatch a m|(unclosed|\nmatch b m|^b|\n");
  EXPECT_EQ(db.match(*db.find("NULL", Protocol::Tcp), "b")->service, "b");
  std::string err;
  EXPECT_FALSE(db.find("NULL", Protocol::Tcp)->matches[0].compile(&err));
  EXPECT_NE(err.find("test:2"), std::string::npos) << err;
}

TEST(ServiceDb, RunawayRegexIsBounded) {
  ProbeDb db = nmap_db("Probe TCP NULL q||\nmatch a m|^(a+)+$|\n");
  std::string evil(40, 'a');
  evil += '!';
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(db.match(*db.find("NULL", Protocol::Tcp), evil));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

// Every shipped rule compiles, and each daemon's own banner (as Debian 12's packages send it)
// gets the product and version the lab test expects.
TEST(ShippedProbes, CompileAndNameTheBannersTheyWereWrittenFrom) {
  ProbeDb db = shipped();
  for (const auto& p : db.probes())
    for (const auto& r : p.matches) {
      std::string err;
      EXPECT_TRUE(r.compile(&err)) << err;
    }
  struct Case {
    const char* probe;
    std::string reply;
    const char* service;
    const char* product;
    const char* version;
  };
  const Case cases[] = {
      {"NULL", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", "ssh", "OpenSSH", "9.2p1"},
      {"NULL", "220 lab.example ESMTP Postfix (Debian/GNU)\r\n", "smtp", "Postfix smtpd", ""},
      {"NULL", "220 (vsFTPd 3.0.3)\r\n", "ftp", "vsftpd", "3.0.3"},
      {"NULL",
       "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
       "STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n",
       "imap", "Dovecot imapd", ""},
      {"NULL", "+OK Dovecot (Debian) ready.\r\n", "pop3", "Dovecot pop3d", ""},
      {"NULL",
       bytes("\x59\0\0\0\x0a"
             "5.5.5-10.11.6-MariaDB-0+deb12u1\0\x08\0\0\0"),
       "mysql", "MariaDB", "10.11.6"},
      {"GetRequest", "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: x\r\n\r\n<title>x</title>",
       "http", "nginx", "1.22.1"},
      {"RedisInfo",
       "$3000\r\n# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:0\r\n"
       "redis_mode:standalone\r\n",
       "redis", "Redis key-value store", "7.0.15"},
      {"MemcachedVersion", "VERSION 1.6.18\r\n", "memcached", "Memcached", "1.6.18"},
      {"PostgresStartup", bytes("E\0\0\0\x60SFATAL\0VFATAL\0C28000\0Mno pg_hba.conf entry"),
       "postgresql", "PostgreSQL DB", ""},
      {"MqttConnect",
       bytes(" \x02\0\0\x90\x03\0\x01\0\x31\x2f\0\x13$SYS/broker/versionmosquitto version "
             "2.0.11"),
       "mqtt", "Mosquitto", "2.0.11"},
      {"LdapRootDse",
       bytes("0\x3b\x02\x01\x01\x64\x36\x04\0\x30\x32\x30\x30\x04\x0bobjectClass1!"
             "\x04\x03top\x04\x0fOpenLDAProotDSE"),
       "ldap", "OpenLDAP", ""},
      {"DnsVersionBindTcp",
       bytes("\0\x3b\xbe\xef\x85\x80\0\x01\0\x01\0\0\0\0\x07version\x04"
             "bind\0\0\x10\0\x03"
             "\xc0\x0c\0\x10\0\x03\0\0\0\0\0\x0d\x0c"
             "dnsmasq-2.90"),
       "domain", "dnsmasq", "2.90"},
  };
  for (const Case& c : cases) {
    const ServiceProbe* p = db.find(c.probe, Protocol::Tcp);
    ASSERT_NE(p, nullptr) << c.probe;
    auto m = db.match(*p, c.reply);
    ASSERT_TRUE(m) << c.probe << ": " << printable(c.reply);
    EXPECT_FALSE(m->soft) << c.probe;
    EXPECT_EQ(m->service, c.service) << c.probe;
    EXPECT_EQ(m->product, c.product) << c.probe;
    EXPECT_EQ(m->version, c.version) << c.probe;
  }
}

// nmap's own file, when installed: it loads, nearly every regex compiles with PCRE2, and it
// combines with ours.
TEST(ShippedProbes, LoadsTheInstalledNmapFile) {
  std::ifstream in("/usr/share/nmap/nmap-service-probes");
  if (!in) GTEST_SKIP() << "nmap is not installed";
  ProbeDb nm = parse_nmap_probes(in, "nmap-service-probes", DbSource::Nmap);
  EXPECT_GT(nm.probes().size(), 100u);
  size_t rules = 0, broken = 0;
  for (const auto& p : nm.probes())
    for (const auto& r : p.matches) {
      ++rules;
      if (!r.compile(nullptr)) ++broken;
    }
  EXPECT_GT(rules, 10000u);
  EXPECT_LT(broken * 1000, rules) << broken << " of " << rules << " did not compile";
  std::string summary;
  ProbeDb both = load_service_db("", &summary);
  EXPECT_NE(summary.find("nmap-service-probes"), std::string::npos) << summary;
  EXPECT_EQ(both.find("NULL", Protocol::Tcp)->matches.front().source, DbSource::Ours);
  EXPECT_THROW(load_service_db("/nonexistent/probes"), UsageError);
}

TEST(ProbeOrder, PortListedFirstThenTlsThenRarity) {
  ProbeDb db = shipped();
  auto order = probe_order(db, 6379, false, 7, false, {});
  ASSERT_FALSE(order.empty());
  ASSERT_NE(order[0], nullptr);
  EXPECT_EQ(order[0]->name, "RedisInfo");
  EXPECT_EQ(order[1], nullptr);  // then a TLS handshake, before the rarer probes
  auto tls_port = probe_order(db, 443, false, 7, false, {});
  EXPECT_EQ(tls_port[0], nullptr);  // 443 is in GetRequest's sslports: TLS first
  auto inside = probe_order(db, 443, true, 7, true, {});
  EXPECT_EQ(inside[0]->name, "GetRequest");
  for (auto* p : inside) EXPECT_NE(p, nullptr);
  auto light = probe_order(db, 40000, false, 0, true, {});
  EXPECT_TRUE(light.empty());  // intensity 0: only probes that list the port
  auto soft = probe_order(db, 40000, false, 9, false, "redis");
  for (auto* p : soft) EXPECT_TRUE(p != nullptr && db.can_identify(*p, "redis"));
}

TEST(HttpDetails, StatusServerTitleLocation) {
  HttpInfo h = parse_http(
      "HTTP/1.1 301 Moved Permanently\r\nServer: nginx/1.22.1\r\nLocation: https://x/\r\n\r\n"
      "<html><head><TITLE>\r\n  301 Moved\r\n</TITLE></head>");
  EXPECT_EQ(h.status, 301);
  EXPECT_EQ(h.server, "nginx/1.22.1");
  EXPECT_EQ(h.location, "https://x/");
  EXPECT_EQ(h.title, "301 Moved");
  EXPECT_EQ(parse_http("garbage").status, 0);
}

}  // namespace
}  // namespace gh
