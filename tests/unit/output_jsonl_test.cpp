#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <map>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "core/error.h"
#include "output/json.h"
#include "output/jsonl_sink.h"

namespace gh {
namespace {

// ---------------------------------------------------------------------------------------------
// A small strict JSON parser, independent of output/json.cpp, to prove that what the sink writes
// parses, and to read the values back. Objects hold scalars, and arrays of scalars (the header's
// "scan_types").

struct JValue {
  enum Kind { Null, Bool, Number, String, Array } kind = Null;
  bool b = false;
  std::string text;                // the number as written, or the decoded string
  std::vector<std::string> items;  // an array's elements, as `text` holds them
};
using JObject = std::vector<std::pair<std::string, JValue>>;

class StrictParser {
 public:
  explicit StrictParser(std::string_view s) : s_(s) {}

  JObject object() {
    JObject out;
    expect('{');
    if (peek() == '}') {
      ++i_;
    } else {
      while (true) {
        std::string key = string();
        expect(':');
        out.emplace_back(key, value());
        char c = next();
        if (c == '}') break;
        if (c != ',') fail("expected , or }");
      }
    }
    if (i_ != s_.size()) fail("trailing bytes");
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& why) {
    throw std::runtime_error(why + " at offset " + std::to_string(i_) + " in: " + std::string(s_));
  }
  char peek() { return i_ < s_.size() ? s_[i_] : '\0'; }
  char next() {
    if (i_ >= s_.size()) fail("unexpected end");
    return s_[i_++];
  }
  void expect(char c) {
    if (next() != c) fail(std::string("expected ") + c);
  }
  JValue value() {
    JValue v;
    char c = peek();
    if (c == '"') {
      v.kind = JValue::String;
      v.text = string();
    } else if (c == '[') {
      ++i_;
      v.kind = JValue::Array;
      if (peek() == ']') {
        ++i_;
        return v;
      }
      while (true) {
        JValue item = value();
        if (item.kind == JValue::Array) fail("nested array");
        v.items.push_back(item.text);
        char n = next();
        if (n == ']') break;
        if (n != ',') fail("expected , or ]");
      }
    } else if (s_.substr(i_, 4) == "null") {
      i_ += 4;
    } else if (s_.substr(i_, 4) == "true") {
      i_ += 4;
      v.kind = JValue::Bool;
      v.b = true;
    } else if (s_.substr(i_, 5) == "false") {
      i_ += 5;
      v.kind = JValue::Bool;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind = JValue::Number;
      size_t start = i_;
      if (peek() == '-') ++i_;
      if (peek() == '0') {
        ++i_;
      } else if (peek() >= '1' && peek() <= '9') {
        while (peek() >= '0' && peek() <= '9') ++i_;
      } else {
        fail("bad number");
      }
      if (peek() == '.') {
        ++i_;
        if (!(peek() >= '0' && peek() <= '9')) fail("bad fraction");
        while (peek() >= '0' && peek() <= '9') ++i_;
      }
      v.text = std::string(s_.substr(start, i_ - start));
    } else {
      fail("bad value");
    }
    return v;
  }
  static void put_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  uint32_t hex4() {
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = next();
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        fail("bad \\u escape");
      }
    }
    return v;
  }
  // Raw UTF-8 in a string must be well formed (RFC 8259 section 8.1).
  void raw_utf8(std::string& out) {
    auto c = static_cast<unsigned char>(next());
    int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (len == 0 || c > 0xF4 || c < 0xC2) fail("ill-formed UTF-8 lead byte");
    uint32_t cp = c & (0x3F >> (len - 1));
    out += static_cast<char>(c);
    for (int k = 1; k < len; ++k) {
      auto d = static_cast<unsigned char>(next());
      if ((d & 0xC0) != 0x80) fail("ill-formed UTF-8 continuation");
      cp = cp << 6 | (d & 0x3F);
      out += static_cast<char>(d);
    }
    uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) fail("ill-formed UTF-8");
  }
  std::string string() {
    expect('"');
    std::string out;
    while (true) {
      char c = peek();
      if (c == '"') {
        ++i_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) fail("raw control character in string");
      if (static_cast<unsigned char>(c) >= 0x80) {
        raw_utf8(out);
        continue;
      }
      ++i_;
      if (c != '\\') {
        out += c;
        continue;
      }
      switch (next()) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            expect('\\');
            expect('u');
            uint32_t lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail("unpaired surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail("unpaired surrogate");
          }
          put_utf8(out, cp);
          break;
        }
        default:
          fail("bad escape");
      }
    }
  }

  std::string_view s_;
  size_t i_ = 0;
};

std::map<std::string, JValue> parse_line(const std::string& line) {
  JObject obj = StrictParser(line).object();
  std::map<std::string, JValue> out;
  for (auto& [k, v] : obj) {
    EXPECT_TRUE(out.emplace(k, v).second) << "duplicate key " << k;
  }
  return out;
}

std::vector<std::string> keys_of(const std::string& line) {
  std::vector<std::string> keys;
  for (auto& [k, v] : StrictParser(line).object()) keys.push_back(k);
  return keys;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// 2026-11-22T23:04:01Z
const WallClock::time_point kStart{std::chrono::seconds(1795388641)};

// A string with everything that can break a JSON line: quotes, backslash, newline, a control
// byte, DEL, a lone continuation byte, a truncated sequence, an overlong '/', an encoded surrogate,
// and a valid multi-byte character.
const std::string kHostile =
    "a\"b\\c\nd\x01"
    "e\x7f|\x80|\xe2\x82|\xc0\xaf|\xed\xa0\x80|\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";

// ---------------------------------------------------------------------------------------------

TEST(Json, EscapesQuotesBackslashAndControls) {
  EXPECT_EQ(json_escape("plain ascii / ok"), "plain ascii / ok");
  EXPECT_EQ(json_escape("a\"b\\c"), "a\\\"b\\\\c");
  EXPECT_EQ(json_escape("\b\f\n\r\t"), "\\b\\f\\n\\r\\t");
  EXPECT_EQ(json_escape(std::string("\x00\x01\x1f\x7f", 4)), "\\u0000\\u0001\\u001f\\u007f");
  EXPECT_EQ(json_quote("x\"y"), "\"x\\\"y\"");
}

TEST(Json, PassesWellFormedUtf8AndReplacesIllFormed) {
  EXPECT_EQ(json_escape("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"),
            "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");  // é € 😀
  EXPECT_EQ(json_escape("\xff"), "\\ufffd");
  EXPECT_EQ(json_escape("\x80\x80"), "\\ufffd\\ufffd");             // stray continuations
  EXPECT_EQ(json_escape("\xc3("), "\\ufffd(");                      // missing continuation
  EXPECT_EQ(json_escape("\xe2\x82"), "\\ufffd");                    // truncated at the end: one
  EXPECT_EQ(json_escape("\xe2\x82x"), "\\ufffdx");                  // maximal subpart: one
  EXPECT_EQ(json_escape("\xc0\xaf"), "\\ufffd\\ufffd");             // overlong '/'
  EXPECT_EQ(json_escape("\xe0\x80\xaf"), "\\ufffd\\ufffd\\ufffd");  // overlong, 3 bytes
  EXPECT_EQ(json_escape("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd");  // surrogate D800
  EXPECT_EQ(json_escape("\xf4\x90\x80\x80"), "\\ufffd\\ufffd\\ufffd\\ufffd");  // > U+10FFFF
  EXPECT_EQ(json_escape("\xf0\x9f\x98"), "\\ufffd");                           // truncated 4-byte
  EXPECT_EQ(json_escape("\xe2\x80\xa8\xe2\x80\xa9"), "\\u2028\\u2029");
}

TEST(Json, HostileStringRoundTrips) {
  std::string line = "{\"s\":" + json_quote(kHostile) + "}";
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto obj = parse_line(line);
  const std::string r = "\xef\xbf\xbd";  // U+FFFD
  EXPECT_EQ(obj["s"].text,
            "a\"b\\c\nd\x01"
            "e\x7f|" +
                r + "|" + r + "|" + r + r + "|" + r + r + r +
                "|\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
}

TEST(Json, UtcTimestampHasMillisecondsAndZ) {
  EXPECT_EQ(utc_timestamp(kStart + std::chrono::milliseconds(1123)), "2026-11-22T23:04:02.123Z");
  EXPECT_EQ(utc_timestamp(kStart + std::chrono::microseconds(999999)),
            "2026-11-22T23:04:01.999Z");  // truncated, not rounded
  EXPECT_EQ(utc_timestamp(WallClock::time_point{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(utc_timestamp(WallClock::time_point{} - std::chrono::milliseconds(1)),
            "1969-12-31T23:59:59.999Z");
}

TEST(Json, ObjectBuilder) {
  JsonObject o;
  std::string line = o.str("k\"ey", "v")
                         .num("u", uint64_t{18446744073709551615u})
                         .num("i", int64_t{-5})
                         .num("d", 1.5)
                         .num("nan", std::nan(""))
                         .boolean("t", true)
                         .null("n")
                         .raw("a", "[1,2]")
                         .done();
  EXPECT_EQ(line,
            "{\"k\\\"ey\":\"v\",\"u\":18446744073709551615,\"i\":-5,\"d\":1.500,\"nan\":null,"
            "\"t\":true,\"n\":null,\"a\":[1,2]}");
  EXPECT_EQ(o.done(), "{}");  // reusable after done()
}

// ---------------------------------------------------------------------------------------------

std::string_view fake_services(Protocol proto, uint16_t port) {
  if (proto == Protocol::Tcp && port == 22) return "ssh";
  if (proto == Protocol::Tcp && port == 80) return "http";
  return "unknown";
}

ScanInfo info() {
  ScanInfo i;
  i.command_line = "glasshouse -sS -p 22,80 192.0.2.0/24";
  i.scan_type = "syn";
  i.start = kStart;
  i.targets = 256;
  i.ports = 2;
  return i;
}

PortResult port_result(uint16_t port, PortState state, Reason reason, uint8_t ttl) {
  PortResult r;
  r.addr = *IpAddress::parse("192.0.2.7");
  r.port = port;
  r.state = state;
  r.reason = reason;
  r.reply_ttl = ttl;
  r.seen = kStart + std::chrono::milliseconds(1123);
  return r;
}

ScanSummary summary() {
  ScanSummary s;
  s.end = kStart + std::chrono::milliseconds(12345);
  s.hosts_up = 1;
  s.probes_sent = 514;
  s.replies = 3;
  s.open_ports = 1;
  s.exit_reason = "done";
  return s;
}

JsonlOptions options(ShowFilter show = {}) {
  JsonlOptions o;
  o.show = show;
  o.service_name = fake_services;
  return o;
}

TEST(Jsonl, HeaderNamesEveryScanTypeOfTheRun) {
  std::ostringstream out;
  JsonlSink sink(out, options());
  ScanInfo i = info();
  i.command_line = "glasshouse -sS -sU -p 53 192.0.2.0/24";
  i.scan_types = {"syn", "udp"};
  sink.begin(i);
  auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\"scan_type\":\"syn\",\"scan_types\":[\"syn\",\"udp\"],\"targets\""),
            std::string::npos)
      << lines[0];
  auto head = parse_line(lines[0]);
  EXPECT_EQ(head["scan_type"].text, "syn");
  EXPECT_EQ(head["scan_types"].items, (std::vector<std::string>{"syn", "udp"}));
}

TEST(Jsonl, WritesScanPortAndSummaryRecords) {
  std::ostringstream out;
  JsonlSink sink(out, options());
  ResultTable table(2);
  sink.begin(info());
  sink.port(port_result(22, PortState::Open, Reason::SynAck, 64));
  sink.port(port_result(80, PortState::Closed, Reason::Reset, 64));  // not shown by default
  sink.end(table, summary());

  auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0],
            "{\"type\":\"scan\",\"version\":\"0.1.0\",\"start\":\"2026-11-22T23:04:01.000Z\","
            "\"command\":\"glasshouse -sS -p 22,80 192.0.2.0/24\",\"scan_type\":\"syn\","
            "\"scan_types\":[\"syn\"],\"targets\":256,\"ports\":2}");
  EXPECT_EQ(lines[1],
            "{\"type\":\"port\",\"ip\":\"192.0.2.7\",\"port\":22,\"proto\":\"tcp\","
            "\"state\":\"open\",\"reason\":\"syn-ack\",\"service\":\"ssh\",\"ttl\":64,"
            "\"time\":\"2026-11-22T23:04:02.123Z\"}");
  EXPECT_EQ(lines[2],
            "{\"type\":\"summary\",\"end\":\"2026-11-22T23:04:13.345Z\",\"elapsed\":12.345,"
            "\"hosts_up\":1,\"probes_sent\":514,\"replies\":3,\"open_ports\":1,"
            "\"ports_written\":1,\"interrupted\":false,\"exit_reason\":\"done\","
            "\"retries\":0,\"passes\":0,\"loss\":null,\"completeness\":null}");
  for (const auto& l : lines) EXPECT_NO_THROW(parse_line(l)) << l;
  EXPECT_EQ(sink.ports_written(), 1u);
}

TEST(Jsonl, SummaryCarriesTheMeasuredLossAndCompleteness) {
  std::ostringstream out;
  JsonlSink sink(out, options());
  ResultTable table(2);
  sink.begin(info());
  ScanSummary s = summary();
  s.retries = 1204;
  s.passes = 3;
  s.loss = 0.0081123;
  s.completeness = 0.99998712;
  sink.end(table, s);
  auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("\"retries\":1204,\"passes\":3,\"loss\":0.00811,"
                          "\"completeness\":0.999987}"),
            std::string::npos)
      << lines[1];
}

TEST(Jsonl, PortRecordsCarryTheRequiredFields) {
  std::ostringstream out;
  ShowFilter all = parse_show("all");
  JsonlSink sink(out, options(all));
  sink.begin(info());
  sink.port(port_result(22, PortState::Open, Reason::ConnAccepted, 0));
  sink.port(port_result(81, PortState::Filtered, Reason::NoResponse, 0));
  auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 3u);
  for (size_t i = 1; i < 3; ++i) {
    EXPECT_EQ(keys_of(lines[i]), (std::vector<std::string>{"type", "ip", "port", "proto", "state",
                                                           "reason", "service", "ttl", "time"}));
  }
  auto open = parse_line(lines[1]);
  EXPECT_EQ(open["reason"].text, "syn-ack");  // connect() success reads as nmap's -sT
  EXPECT_EQ(open["ttl"].kind, JValue::Null);  // no reply TTL from connect()
  auto filtered = parse_line(lines[2]);
  EXPECT_EQ(filtered["state"].text, "filtered");
  EXPECT_EQ(filtered["reason"].text, "no-response");
  EXPECT_EQ(filtered["service"].text, "unknown");
  EXPECT_EQ(filtered["port"].kind, JValue::Number);
  EXPECT_EQ(filtered["port"].text, "81");
}

// -sV promotes an open|filtered UDP port that answered: the port record is written again, with
// the state it had; a reader takes the later record (history/result_files.h).
TEST(Jsonl, PromotedPortIsWrittenAgainWithItsPreviousState) {
  std::ostringstream out;
  JsonlSink sink(out, options(parse_show("all")));
  sink.begin(info());
  PortResult first = port_result(5300, PortState::OpenFiltered, Reason::NoResponse, 0);
  first.proto = Protocol::Udp;
  sink.port(first);
  PortResult again = port_result(5300, PortState::Open, Reason::UdpResponse, 0);
  again.proto = Protocol::Udp;
  again.previous = PortState::OpenFiltered;
  sink.port(again);
  auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 3u);
  auto a = parse_line(lines[1]);
  EXPECT_EQ(a["state"].text, "open|filtered");
  EXPECT_FALSE(a.contains("previous_state"));
  auto b = parse_line(lines[2]);
  EXPECT_EQ(b["state"].text, "open");
  EXPECT_EQ(b["reason"].text, "udp-response");
  EXPECT_EQ(b["proto"].text, "udp");
  EXPECT_EQ(b["previous_state"].text, "open|filtered");
  // The default filter (open) wrote nothing for the open|filtered verdict: the promoted record
  // is the port's only one.
  std::ostringstream out2;
  JsonlSink open_only(out2, options());
  open_only.begin(info());
  open_only.port(first);
  open_only.port(again);
  lines = lines_of(out2.str());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(parse_line(lines[1])["state"].text, "open");
}

TEST(Jsonl, ShowFilterSelectsStates) {
  std::ostringstream out;
  JsonlSink sink(out, options(parse_show("closed")));
  sink.begin(info());
  sink.port(port_result(22, PortState::Open, Reason::SynAck, 64));
  sink.port(port_result(23, PortState::Closed, Reason::Reset, 64));
  sink.port(port_result(24, PortState::Filtered, Reason::AdminProhibited, 250));
  sink.port(port_result(25, PortState::OpenFiltered, Reason::NoResponse, 0));
  auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(parse_line(lines[1])["port"].text, "22");
  EXPECT_EQ(parse_line(lines[2])["port"].text, "23");
}

TEST(Jsonl, EngagementOnEveryRecord) {
  std::ostringstream out;
  JsonlSink sink(out, options());
  ScanInfo i = info();
  i.engagement_id = "ENG-2026-042";
  ResultTable table(2);
  sink.begin(i);
  sink.port(port_result(22, PortState::Open, Reason::SynAck, 64));
  sink.end(table, summary());
  auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 3u);
  for (const auto& l : lines) {
    auto obj = parse_line(l);
    EXPECT_EQ(obj["engagement"].text, "ENG-2026-042") << l;
    EXPECT_EQ(keys_of(l).back(), "engagement");
  }
}

TEST(Jsonl, HostileStringsStayOneValidLine) {
  std::ostringstream out;
  JsonlSink sink(out, JsonlOptions{ShowFilter{}, [](Protocol, uint16_t) -> std::string_view {
                                     return kHostile;
                                   }});
  ScanInfo i = info();
  i.command_line = kHostile;
  i.engagement_id = kHostile;
  ResultTable table(2);
  ScanSummary s = summary();
  s.exit_reason = kHostile;
  s.interrupted = true;
  sink.begin(i);
  sink.port(port_result(22, PortState::Open, Reason::SynAck, 64));
  sink.end(table, s);
  auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 3u);
  const std::string r = "\xef\xbf\xbd";
  const std::string decoded =
      "a\"b\\c\nd\x01"
      "e\x7f|" +
      r + "|" + r + "|" + r + r + "|" + r + r + r + "|\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
  auto scan = parse_line(lines[0]);
  EXPECT_EQ(scan["command"].text, decoded);
  EXPECT_EQ(scan["engagement"].text, decoded);
  EXPECT_EQ(parse_line(lines[1])["service"].text, decoded);
  auto sum = parse_line(lines[2]);
  EXPECT_EQ(sum["exit_reason"].text, decoded);
  EXPECT_EQ(sum["interrupted"].kind, JValue::Bool);
  EXPECT_TRUE(sum["interrupted"].b);
}

TEST(Jsonl, WriteFailureThrowsRuntimeError) {
  std::ostringstream out;
  out.setstate(std::ios::badbit);
  JsonlOptions o = options();
  o.name = "scan.jsonl";
  JsonlSink sink(out, o);
  try {
    sink.begin(info());
    FAIL() << "no error";
  } catch (const RuntimeError& e) {
    EXPECT_STREQ(e.what(), "writing scan.jsonl failed");
  }
}

TEST(Jsonl, OwnsAStreamItIsGiven) {
  auto stream = std::make_unique<std::ostringstream>();
  auto* raw = stream.get();
  JsonlSink sink(std::move(stream), options());
  sink.begin(info());
  sink.flush();
  EXPECT_EQ(lines_of(raw->str()).size(), 1u);
}

}  // namespace
}  // namespace gh
