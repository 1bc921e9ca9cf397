// Scope files: parsing (valid and malformed, each error naming its line), the window, fitting a
// scan to a scope (refusal, clipping, default ports) and the limits as ceilings.
#include "policy/scope.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "policy/policy.h"
#include "scan/config.h"

namespace gh {
namespace {

using namespace std::chrono;

IpAddress ip(const char* text) {
  auto a = IpAddress::parse(text);
  if (!a) ADD_FAILURE() << "bad test address " << text;
  return a.value_or(IpAddress{});
}

WallClock::time_point utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return time_point_cast<WallClock::duration>(sys_days{year{y} / month{mo} / day{d}}) + hours{h} +
         minutes{mi} + seconds{s};
}

TargetSet targets(std::initializer_list<const char*> specs) {
  TargetSet t;
  for (const char* s : specs) t.add_spec(s, nullptr);
  return t;
}

const char* kIssueScope = R"([engagement]
id = "ACME-2026-11"
authorized_by = "Jane Roe, CISO, ACME Corp"
contact = "secops@acme.example"
not_before = 2026-11-01T00:00:00Z
not_after  = 2026-12-31T23:59:59Z
[targets]
include = ["198.19.0.0/24", "2001:db8::/64"]
exclude = ["198.19.0.128/25"]
ports = "1-1024,8080"          # optional; all ports when absent
[limits]
max_rate = 10000               # packets per second for the whole scan
max_host_rate = 500            # packets per second to any one host, retries included
)";

// The message of the ScopeRefused that parsing `text` throws ("" when it parses).
std::string parse_error(const std::string& text) {
  try {
    parse_scope(text, "s.toml");
  } catch (const ScopeRefused& e) {
    return e.what();
  }
  return "";
}

std::string minimal(const std::string& extra_targets = "", const std::string& tail = "") {
  return "[engagement]\nid = \"E\"\nauthorized_by = \"A\"\n[targets]\ninclude = "
         "[\"198.18.0.0/24\"]\n" +
         extra_targets + tail;
}

TEST(PolicyScope, ParsesTheIssueExample) {
  Scope s = parse_scope(kIssueScope, "acme.toml");
  EXPECT_EQ(s.source, "acme.toml");
  EXPECT_EQ(s.engagement.id, "ACME-2026-11");
  EXPECT_EQ(s.engagement.authorized_by, "Jane Roe, CISO, ACME Corp");
  EXPECT_EQ(s.engagement.contact, "secops@acme.example");
  ASSERT_TRUE(s.engagement.not_before && s.engagement.not_after);
  EXPECT_EQ(*s.engagement.not_before, utc(2026, 11, 1));
  EXPECT_EQ(*s.engagement.not_after, utc(2026, 12, 31, 23, 59, 59));
  EXPECT_TRUE(s.authorized.contains(ip("198.19.0.0")));
  EXPECT_TRUE(s.authorized.contains(ip("198.19.0.127")));
  EXPECT_FALSE(s.authorized.contains(ip("198.19.0.128")));
  EXPECT_FALSE(s.authorized.contains(ip("198.19.0.255")));
  EXPECT_FALSE(s.authorized.contains(ip("198.19.1.0")));
  EXPECT_TRUE(s.authorized.contains(ip("2001:db8::ffff:ffff:ffff:ffff")));
  EXPECT_FALSE(s.authorized.contains(ip("2001:db8:0:1::")));
  ASSERT_TRUE(s.ports.has_value());
  EXPECT_EQ(s.ports->tcp.size(), 1025u);
  EXPECT_EQ(s.ports->tcp.front(), 1);
  EXPECT_EQ(s.ports->tcp.back(), 8080);
  EXPECT_EQ(s.ports_text, "1-1024,8080");
  EXPECT_EQ(s.limits.max_rate, 10000);
  EXPECT_EQ(s.limits.max_host_rate, 500);
  EXPECT_EQ(format_window(s.engagement), "2026-11-01T00:00:00Z to 2026-12-31T23:59:59Z");
}

TEST(PolicyScope, OptionalPartsMayBeLeftOut) {
  Scope s = parse_scope(minimal(), "s.toml");
  EXPECT_FALSE(s.engagement.not_before);
  EXPECT_FALSE(s.engagement.not_after);
  EXPECT_FALSE(s.ports);  // every port
  EXPECT_EQ(s.limits.max_rate, 0);
  EXPECT_EQ(s.limits.max_host_rate, 0);
  EXPECT_EQ(format_window(s.engagement), "any time");
  EXPECT_NO_THROW(check_window(s, utc(1999, 1, 1)));
}

TEST(PolicyScope, OffsetsAndBareDates) {
  Scope s = parse_scope(
      "[engagement]\nid = \"E\"\nauthorized_by = \"A\"\nnot_before = 2026-11-01T09:00:00+02:00\n"
      "not_after = 2026-11-30\n[targets]\ninclude = [\"198.18.0.1\"]\n",
      "s.toml");
  EXPECT_EQ(*s.engagement.not_before, utc(2026, 11, 1, 7));
  // A bare not_after date includes that whole day (UTC).
  EXPECT_GT(*s.engagement.not_after, utc(2026, 11, 30, 23, 59, 59));
  EXPECT_LT(*s.engagement.not_after, utc(2026, 12, 1));
  EXPECT_NO_THROW(check_window(s, utc(2026, 11, 30, 23, 59, 59)));
  EXPECT_THROW(check_window(s, utc(2026, 12, 1)), ScopeRefused);
}

TEST(PolicyScope, MalformedFilesNameTheLine) {
  struct Case {
    std::string text;
    std::string expect;  // substring of the message, after "s.toml:"
  };
  std::vector<Case> cases = {
      {"[engagement]\nid = \"E\"\nauthorized_by = \n", "s.toml:3"},  // TOML syntax
      {"[engagement]\nid = \"E\"\nauthorized_by = \"A\"\n[targets]\ninclude = "
       "[\"198.18.0.0/33\"]\n",
       "s.toml:5: targets.include[0]: invalid target"},
      {minimal("exlude = [\"198.18.0.1\"]\n"), "s.toml:6: unknown key \"exlude\" in [targets]"},
      {minimal("", "[limit]\nmax_rate = 5\n"), "s.toml:6: unknown table [limit]"},
      {"[engagement]\nauthorized_by = \"A\"\n[targets]\ninclude = [\"198.18.0.1\"]\n",
       "s.toml:1: [engagement] has no id"},
      {"[engagement]\nid = \"E\"\n[targets]\ninclude = [\"198.18.0.1\"]\n", "has no authorized_by"},
      {"[engagement]\nid = 7\nauthorized_by = \"A\"\n[targets]\ninclude = [\"198.18.0.1\"]\n",
       "s.toml:2: engagement.id must be a string"},
      {"[engagement]\nid = \"  \"\nauthorized_by = \"A\"\n[targets]\ninclude = [\"198.18.0.1\"]\n",
       "s.toml:2: engagement.id is empty"},
      {"[engagement]\nid = \"E\"\nauthorized_by = \"A\"\n", "no [targets] table"},
      {"[engagement]\nid = \"E\"\nauthorized_by = \"A\"\n[targets]\ninclude = []\n",
       "s.toml:5: targets.include is empty"},
      {"[engagement]\nid = \"E\"\nauthorized_by = \"A\"\n[targets]\ninclude = "
       "\"198.18.0.0/24\"\n",
       "s.toml:5: targets.include must be a list"},
      {"[engagement]\nid = \"E\"\nauthorized_by = \"A\"\n[targets]\ninclude = "
       "[\"198.18.0.1\",\n  \"scanme.example\"]\n",
       "s.toml:6: targets.include[1]"},
      {minimal("exclude = [\"198.18.0.0/16\"]\n"), "removes every address"},
      {minimal("ports = \"1-99999\"\n"), "s.toml:6: targets.ports"},
      {minimal("ports = 80\n"), "s.toml:6: targets.ports must be a string"},
      {minimal("", "[limits]\nmax_rate = -5\n"), "s.toml:7: limits.max_rate must be a positive"},
      {minimal("", "[limits]\nmax_host_rate = \"fast\"\n"), "s.toml:7: limits.max_host_rate"},
      {"[engagement]\nid = \"E\"\nauthorized_by = \"A\"\nnot_before = 2026-11-01T00:00:00\n"
       "[targets]\ninclude = [\"198.18.0.1\"]\n",
       "s.toml:4: engagement.not_before has no time zone"},
      {"[engagement]\nid = \"E\"\nauthorized_by = \"A\"\nnot_before = \"2026-11-01\"\n"
       "[targets]\ninclude = [\"198.18.0.1\"]\n",
       "s.toml:4: engagement.not_before must be a date-time"},
      {"[engagement]\nid = \"E\"\nauthorized_by = \"A\"\nnot_before = 2026-12-01T00:00:00Z\n"
       "not_after = 2026-11-01T00:00:00Z\n[targets]\ninclude = [\"198.18.0.1\"]\n",
       "s.toml:5: engagement.not_after is before engagement.not_before"},
      {"engagement = 5\n[targets]\ninclude = [\"198.18.0.1\"]\n",
       "s.toml:1: \"engagement\" must be"},
  };
  for (const auto& c : cases) {
    std::string msg = parse_error(c.text);
    EXPECT_NE(msg.find("malformed scope file"), std::string::npos) << c.text << "\n-> " << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.text << "\n-> " << msg;
  }
}

TEST(PolicyScope, MissingFileIsRefused) {
  EXPECT_THROW(load_scope("/nonexistent/scope.toml"), ScopeRefused);
}

TEST(PolicyScope, WindowRefusalNamesTheWindow) {
  Scope s = parse_scope(kIssueScope, "acme.toml");
  EXPECT_NO_THROW(check_window(s, utc(2026, 11, 1)));
  EXPECT_NO_THROW(check_window(s, utc(2026, 12, 31, 23, 59, 59)));
  for (auto when : {utc(2026, 10, 31, 23, 59, 59), utc(2027, 1, 1)}) {
    try {
      check_window(s, when);
      ADD_FAILURE() << "not refused";
    } catch (const ScopeRefused& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find("2026-11-01T00:00:00Z to 2026-12-31T23:59:59Z"), std::string::npos) << msg;
      EXPECT_NE(msg.find("ACME-2026-11"), std::string::npos) << msg;
    }
  }
}

TEST(PolicyScope, CountsAndRangesAsText) {
  EXPECT_EQ(count_text(0), "0");
  EXPECT_EQ(count_text(999), "999");
  EXPECT_EQ(count_text(65280), "65,280");
  EXPECT_EQ(count_text(u128{1} << 64), "18,446,744,073,709,551,616");
  EXPECT_EQ(exact_size(targets({"2001:db8::/64"})), u128{1} << 64);
  EXPECT_EQ(exact_size(targets({"::/0"})), ~u128{0});  // saturates
  EXPECT_EQ(first_ranges_text(targets({"198.19.0.128/25", "198.19.1.0/24"})),
            "198.19.0.128/25, "
            "198.19.1.0/24");
  EXPECT_EQ(first_ranges_text(targets({"198.19.0.3-198.19.0.9"})),
            "198.19.0.3, 198.19.0.4/30, 198.19.0.8/31");
  EXPECT_EQ(first_ranges_text(targets({"198.19.0.1", "198.19.0.3", "198.19.0.5", "198.19.0.7"})),
            "198.19.0.1, 198.19.0.3, 198.19.0.5, ...");
  EXPECT_EQ(first_ranges_text(targets({"198.19.0.1-198.19.255.254"})), "198.19.0.1-198.19.255.254");
  EXPECT_EQ(ports_text(PortList{{22, 80, 81, 82, 443}, {53}}), "22,80-82,443,U:53");
}

TEST(PolicyScope, InsideTheScopeChangesNothing) {
  Scope s = parse_scope(kIssueScope, "acme.toml");
  TargetSet t = targets({"198.19.0.0/25", "2001:db8::1"});
  PortList p{{22, 80, 8080}, {}};
  std::vector<std::string> notes;
  apply_scope(s, t, p, true, false, notes);
  EXPECT_TRUE(notes.empty());
  EXPECT_EQ(t.size(), 129u);
  EXPECT_EQ(p.tcp.size(), 3u);
}

TEST(PolicyScope, OutsideIsRefusedWithCountAndFirstFew) {
  Scope s = parse_scope(kIssueScope, "acme.toml");
  TargetSet t = targets({"198.19.0.0/16"});
  PortList p{{22}, {}};
  // A range that splits into a few CIDR blocks is named by them.
  TargetSet few = targets({"198.19.0.0/23"});
  std::vector<std::string> few_notes;
  try {
    apply_scope(s, few, p, true, false, few_notes);
    ADD_FAILURE() << "not refused";
  } catch (const ScopeRefused& e) {
    EXPECT_NE(std::string(e.what()).find("384 of 512 targets are outside the scope of engagement "
                                         "ACME-2026-11 (acme.toml), the first: 198.19.0.128/25, "
                                         "198.19.1.0/24;"),
              std::string::npos)
        << e.what();
  }
  std::vector<std::string> notes;
  try {
    apply_scope(s, t, p, true, false, notes);
    FAIL() << "not refused";
  } catch (const ScopeRefused& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("65,408 of 65,536 targets are outside the scope"), std::string::npos) << msg;
    EXPECT_NE(msg.find("the first: 198.19.0.128-198.19.255.255;"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--clip-to-scope"), std::string::npos) << msg;
  }
  EXPECT_EQ(t.size(), 65536u);  // untouched
}

TEST(PolicyScope, PortsOutsideAreRefused) {
  Scope s = parse_scope(kIssueScope, "acme.toml");
  TargetSet t = targets({"198.19.0.1"});
  PortList p{{80, 8080, 8081, 9000}, {}};
  std::vector<std::string> notes;
  try {
    apply_scope(s, t, p, true, false, notes);
    FAIL() << "not refused";
  } catch (const ScopeRefused& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("ports 8081,9000 are outside the scope's ports (1-1024,8080)"),
              std::string::npos)
        << msg;
  }
}

TEST(PolicyScope, ClipKeepsTheIntersectionAndSaysWhatItLeftOut) {
  Scope s = parse_scope(kIssueScope, "acme.toml");
  TargetSet t = targets({"198.19.0.0/16", "2001:db8::/126", "2001:db8:1::1"});
  PortList p{{80, 8080, 9000}, {}};
  std::vector<std::string> notes;
  apply_scope(s, t, p, true, true, notes);
  EXPECT_EQ(t.size(), 128u + 4u);
  EXPECT_TRUE(t.contains(ip("198.19.0.127")));
  EXPECT_FALSE(t.contains(ip("198.19.0.128")));
  EXPECT_FALSE(t.contains(ip("2001:db8:1::1")));
  EXPECT_EQ(p.tcp, (std::vector<uint16_t>{80, 8080}));
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_NE(notes[0].find("left out 65,409 targets"), std::string::npos) << notes[0];
  EXPECT_NE(notes[1].find("left out port 9000"), std::string::npos) << notes[1];
}

TEST(PolicyScope, ClipWithNothingInsideIsRefused) {
  Scope s = parse_scope(kIssueScope, "acme.toml");
  TargetSet t = targets({"198.18.0.0/24"});
  PortList p{{80}, {}};
  std::vector<std::string> notes;
  EXPECT_THROW(apply_scope(s, t, p, true, true, notes), ScopeRefused);
}

TEST(PolicyScope, DefaultPortsAreFittedNotRefused) {
  Scope s = parse_scope(kIssueScope, "acme.toml");
  TargetSet t = targets({"198.19.0.1"});
  PortList p{{22, 80, 443, 3389, 8080, 8443}, {}};  // as if from --top-ports
  std::vector<std::string> notes;
  apply_scope(s, t, p, false, false, notes);
  EXPECT_EQ(p.tcp, (std::vector<uint16_t>{22, 80, 443, 8080}));
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("default ports were limited"), std::string::npos);
}

TEST(PolicyScope, LimitsAreCeilings) {
  Scope s = parse_scope(kIssueScope, "acme.toml");
  auto run = [&](double max_rate, double min_rate, double host_rate) {
    ScanConfig c;
    c.targets = targets({"198.19.0.1"});
    c.ports = PortList{{80}, {}};
    c.policy.ports_given = true;
    c.timing.max_rate = max_rate;
    c.timing.min_rate = min_rate;
    c.policy.max_host_rate = host_rate;
    PolicyPlan plan = apply_policy(c, &s, utc(2026, 11, 15));
    return std::make_pair(c, plan);
  };
  {
    auto [c, plan] = run(50000, 0, 0);  // above: lowered, with a note
    EXPECT_EQ(c.timing.max_rate, 10000);
    EXPECT_EQ(c.policy.max_host_rate, 500);
    ASSERT_FALSE(plan.notes.empty());
    EXPECT_NE(plan.notes[0].find("rate lowered from 50000"), std::string::npos) << plan.notes[0];
    EXPECT_TRUE(plan.gate.authorized.has_value());
    EXPECT_EQ(plan.gate.max_host_rate, 500);
    EXPECT_TRUE(plan.gate.closes_at.has_value());
  }
  {
    auto [c, plan] = run(0, 0, 0);  // no cap at all (-T5): the scope's
    EXPECT_EQ(c.timing.max_rate, 10000);
  }
  {
    auto [c, plan] = run(100, 0, 20);  // below: kept, no note
    EXPECT_EQ(c.timing.max_rate, 100);
    EXPECT_EQ(c.policy.max_host_rate, 20);
    EXPECT_TRUE(plan.notes.empty());
  }
  {
    auto [c, plan] = run(50000, 40000, 900);
    EXPECT_EQ(c.timing.min_rate, 10000);
    EXPECT_EQ(c.policy.max_host_rate, 500);
    EXPECT_EQ(plan.notes.size(), 3u);
  }
}

TEST(PolicyScope, ApplyPolicyRefusesOutsideTheWindow) {
  Scope s = parse_scope(kIssueScope, "acme.toml");
  ScanConfig c;
  c.targets = targets({"198.19.0.1"});
  c.ports = PortList{{80}, {}};
  EXPECT_THROW(apply_policy(c, &s, utc(2027, 3, 1)), ScopeRefused);
}

}  // namespace
}  // namespace gh
