#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "output/result_table.h"
#include "output/sink.h"

namespace gh {
namespace {

PortResult result(const char* ip, uint16_t port, PortState state, Reason reason,
                  Protocol proto = Protocol::Tcp) {
  PortResult r;
  r.addr = *IpAddress::parse(ip);
  r.proto = proto;
  r.port = port;
  r.state = state;
  r.reason = reason;
  return r;
}

PortResult open_port(const char* ip, uint16_t port) {
  return result(ip, port, PortState::Open, Reason::SynAck);
}
PortResult closed_port(const char* ip, uint16_t port) {
  return result(ip, port, PortState::Closed, Reason::Reset);
}

TEST(ResultTable, SecondAddOfSamePortReturnsFalse) {
  ResultTable t(1000);
  EXPECT_TRUE(t.add(open_port("192.0.2.1", 22)));
  EXPECT_FALSE(t.add(open_port("192.0.2.1", 22)));
  EXPECT_FALSE(t.add(closed_port("192.0.2.1", 22)));  // a different verdict is still a repeat
  EXPECT_TRUE(t.add(open_port("192.0.2.2", 22)));     // another host
  EXPECT_TRUE(t.add(result("192.0.2.1", 22, PortState::OpenFiltered, Reason::NoResponse,
                           Protocol::Udp)));  // another protocol
  const auto& h = t.hosts().at(*IpAddress::parse("192.0.2.1"));
  ASSERT_EQ(h.entries.size(), 2u);
  EXPECT_EQ(h.entries[0].state, PortState::Open);
  EXPECT_EQ(t.entries(), 3u);
  EXPECT_EQ(t.count(PortState::Open), 2u);
  EXPECT_EQ(t.count(PortState::Closed), 0u);
  EXPECT_EQ(t.count(PortState::OpenFiltered), 1u);
  EXPECT_EQ(t.hosts_up(), 2u);
}

// -sV: an open|filtered UDP port that answered becomes open (service/udp_version.h).
TEST(ResultTable, PromoteReplacesTheVerdictAndItsCounts) {
  ResultTable t(10);
  PortResult silent =
      result("192.0.2.1", 5300, PortState::OpenFiltered, Reason::NoResponse, Protocol::Udp);
  ASSERT_TRUE(t.add(silent));
  ASSERT_TRUE(
      t.add(result("192.0.2.1", 520, PortState::OpenFiltered, Reason::NoResponse, Protocol::Udp)));
  EXPECT_EQ(t.hosts_up(), 0u);  // nothing answered yet
  EXPECT_EQ(t.count(PortState::OpenFiltered), 2u);
  PortResult answered =
      result("192.0.2.1", 5300, PortState::Open, Reason::UdpResponse, Protocol::Udp);
  answered.previous = PortState::OpenFiltered;
  EXPECT_TRUE(t.promote(answered));
  EXPECT_FALSE(t.promote(answered));  // nothing changes twice
  EXPECT_EQ(t.count(PortState::OpenFiltered), 1u);
  EXPECT_EQ(t.count(PortState::Open), 1u);
  EXPECT_EQ(t.entries(), 2u);
  EXPECT_EQ(t.hosts_up(), 1u);  // a UDP reply is the host's
  const auto& h = t.hosts().at(*IpAddress::parse("192.0.2.1"));
  auto e = h.sorted_entries();
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].port, 520);
  EXPECT_EQ(e[0].state, PortState::OpenFiltered);
  EXPECT_EQ(e[1].port, 5300);
  EXPECT_EQ(e[1].state, PortState::Open);
  EXPECT_EQ(e[1].reason, Reason::UdpResponse);
  // A port with no stored verdict is added.
  EXPECT_TRUE(
      t.promote(result("192.0.2.2", 53, PortState::Open, Reason::UdpResponse, Protocol::Udp)));
  EXPECT_EQ(t.count(PortState::Open), 2u);
  EXPECT_EQ(t.hosts_up(), 2u);
}

TEST(ResultTable, KeepsReplyTtl) {
  ResultTable t(10);
  PortResult r = open_port("192.0.2.1", 22);
  r.reply_ttl = 64;
  ASSERT_TRUE(t.add(r));
  EXPECT_EQ(t.hosts().begin()->second.entries[0].reply_ttl, 64);
  EXPECT_EQ(sizeof(ResultTable::Entry), 6u);
}

TEST(ResultTable, NoResponseIsDerivedNotStored) {
  ResultTable t(100);
  EXPECT_TRUE(t.add(result("192.0.2.1", 81, PortState::Filtered, Reason::NoResponse)));
  const auto& h = t.hosts().at(*IpAddress::parse("192.0.2.1"));
  EXPECT_TRUE(h.entries.empty());
  EXPECT_FALSE(h.answered);
  EXPECT_EQ(t.unanswered(h), 100u);
  EXPECT_EQ(t.hosts_up(), 0u);

  ASSERT_TRUE(t.add(closed_port("192.0.2.1", 80)));
  EXPECT_EQ(t.unanswered(h), 99u);
  // A no-response verdict for a port that already has one is a repeat.
  EXPECT_FALSE(t.add(result("192.0.2.1", 80, PortState::Filtered, Reason::NoResponse)));
  EXPECT_EQ(t.count(PortState::Filtered), 0u);
}

TEST(ResultTable, RouterErrorsDoNotMakeAHostUp) {
  ResultTable t(10);
  ASSERT_TRUE(t.add(result("192.0.2.1", 1, PortState::Filtered, Reason::HostUnreach)));
  ASSERT_TRUE(t.add(result("192.0.2.1", 2, PortState::Filtered, Reason::AdminProhibited)));
  ASSERT_TRUE(t.add(result("192.0.2.1", 3, PortState::Filtered, Reason::TimeExceeded)));
  const auto& h = t.hosts().at(*IpAddress::parse("192.0.2.1"));
  EXPECT_FALSE(h.answered);
  EXPECT_EQ(h.entries.size(), 3u);
  EXPECT_EQ(t.count(PortState::Filtered), 3u);
  EXPECT_EQ(t.hosts_up(), 0u);
  ASSERT_TRUE(t.add(result("192.0.2.1", 4, PortState::Closed, Reason::ConnRefused)));
  EXPECT_TRUE(t.hosts().at(*IpAddress::parse("192.0.2.1")).answered);
  EXPECT_EQ(t.hosts_up(), 1u);
  EXPECT_TRUE(ResultTable::is_host_reply(Reason::PortUnreach));
  EXPECT_TRUE(ResultTable::is_host_reply(Reason::UdpResponse));
  EXPECT_FALSE(ResultTable::is_host_reply(Reason::NoResponse));
}

TEST(ResultTable, NoteHostListsSilentHosts) {
  ResultTable t(1000);
  t.note_host(*IpAddress::parse("2001:db8::1"));
  t.note_host(*IpAddress::parse("192.0.2.9"));
  t.note_host(*IpAddress::parse("192.0.2.9"));
  ASSERT_EQ(t.hosts().size(), 2u);
  EXPECT_EQ(t.hosts().begin()->first.to_string(), "192.0.2.9");  // IPv4 sorts first
  EXPECT_EQ(t.hosts_up(), 0u);
  EXPECT_EQ(t.unanswered(t.hosts().begin()->second), 1000u);
  ResultTable unknown;
  unknown.note_host(*IpAddress::parse("192.0.2.9"));
  EXPECT_EQ(unknown.unanswered(unknown.hosts().begin()->second), 0u);
}

TEST(ResultTable, SortedEntriesPutTcpFirstThenPort) {
  ResultTable t(10);
  t.add(open_port("192.0.2.1", 443));
  t.add(result("192.0.2.1", 53, PortState::Open, Reason::UdpResponse, Protocol::Udp));
  t.add(open_port("192.0.2.1", 22));
  t.add(result("192.0.2.1", 7, PortState::Closed, Reason::PortUnreach, Protocol::Udp));
  auto sorted = t.hosts().begin()->second.sorted_entries();
  ASSERT_EQ(sorted.size(), 4u);
  EXPECT_EQ(sorted[0].port, 22);
  EXPECT_EQ(sorted[1].port, 443);
  EXPECT_EQ(sorted[2].port, 7);
  EXPECT_EQ(sorted[2].proto, Protocol::Udp);
  EXPECT_EQ(sorted[3].port, 53);
}

// The index changes representation as the host grows; every stage must still catch repeats.
TEST(ResultTable, DedupAcrossIndexStages) {
  ResultTable t(65536 * 2);
  const IpAddress a = *IpAddress::parse("192.0.2.1");
  auto index = [&]() -> const ResultTable::PortIndex& { return t.hosts().at(a).index; };
  for (uint16_t p = 1; p <= 2000; ++p) {
    ASSERT_TRUE(t.add(closed_port("192.0.2.1", p))) << p;
    // Earlier ports (sampled) are repeats now; the next add() of a new port must succeed.
    for (uint16_t q : {uint16_t{1}, static_cast<uint16_t>(p / 2 + 1), p})
      ASSERT_FALSE(t.add(closed_port("192.0.2.1", q))) << p << " " << q;
    if (p == ResultTable::PortIndex::kLinearMax) {
      EXPECT_TRUE(index().is_linear());
      EXPECT_EQ(index().bytes(), 0u);
    }
    if (p == ResultTable::PortIndex::kLinearMax + 1) {
      EXPECT_FALSE(index().is_linear());
    }
    if (p == ResultTable::PortIndex::kHashMax) {
      EXPECT_FALSE(index().is_bitmap());
      EXPECT_LE(index().bytes(), 8192u);
    }
    if (p == ResultTable::PortIndex::kHashMax + 1) {
      EXPECT_TRUE(index().is_bitmap());
    }
  }
  // UDP keys are distinct from TCP keys in every stage.
  EXPECT_TRUE(
      t.add(result("192.0.2.1", 1, PortState::OpenFiltered, Reason::NoResponse, Protocol::Udp)));
  EXPECT_FALSE(
      t.add(result("192.0.2.1", 1, PortState::OpenFiltered, Reason::NoResponse, Protocol::Udp)));
  EXPECT_EQ(t.hosts().at(a).entries.size(), 2001u);
  EXPECT_EQ(t.count(PortState::Closed), 2000u);
  EXPECT_EQ(t.unanswered(t.hosts().at(a)), 65536u * 2 - 2001u);
}

TEST(ResultTable, FullPortRangeOfOneHost) {
  ResultTable t(65535);
  for (uint32_t p = 1; p <= 65535; ++p)
    ASSERT_TRUE(t.add(closed_port("192.0.2.1", static_cast<uint16_t>(p))));
  for (uint32_t p = 1; p <= 65535; ++p)
    ASSERT_FALSE(t.add(open_port("192.0.2.1", static_cast<uint16_t>(p))));
  const auto& h = t.hosts().begin()->second;
  EXPECT_EQ(h.entries.size(), 65535u);
  EXPECT_EQ(t.count(PortState::Closed), 65535u);
  EXPECT_EQ(t.count(PortState::Open), 0u);
  EXPECT_EQ(t.unanswered(h), 0u);
  EXPECT_TRUE(h.index.is_bitmap());
  EXPECT_EQ(h.index.bytes(), 16384u);
  // Port 0 is a port like any other.
  EXPECT_TRUE(t.add(closed_port("192.0.2.1", 0)));
  EXPECT_FALSE(t.add(closed_port("192.0.2.1", 0)));
}

TEST(ShowFilter, DefaultShowsOpenOnly) {
  ShowFilter f;
  EXPECT_TRUE(f.accepts(PortState::Open));
  EXPECT_FALSE(f.accepts(PortState::Closed));
  EXPECT_FALSE(f.accepts(PortState::Filtered));
  EXPECT_FALSE(f.accepts(PortState::OpenFiltered));
}

TEST(ShowFilter, FilteredCoversTheAmbiguousStates) {
  ShowFilter f;
  f.open = false;
  f.filtered = true;
  EXPECT_FALSE(f.accepts(PortState::Open));
  EXPECT_FALSE(f.accepts(PortState::Closed));
  for (PortState s : {PortState::Filtered, PortState::Unfiltered, PortState::OpenFiltered,
                      PortState::ClosedFiltered})
    EXPECT_TRUE(f.accepts(s)) << to_string(s);
}

TEST(ShowFilter, ParsesMasscanValues) {
  ShowFilter f = parse_show("open");
  EXPECT_TRUE(f.open);
  EXPECT_FALSE(f.closed);
  EXPECT_FALSE(f.filtered);

  f = parse_show("closed");  // adds to the default, as masscan
  EXPECT_TRUE(f.open);
  EXPECT_TRUE(f.closed);
  EXPECT_FALSE(f.filtered);

  f = parse_show(" closed , filtered ");
  EXPECT_TRUE(f.open);
  EXPECT_TRUE(f.closed);
  EXPECT_TRUE(f.filtered);

  f = parse_show("all");
  EXPECT_TRUE(f.open && f.closed && f.filtered);
  EXPECT_TRUE(f.accepts(PortState::ClosedFiltered));
}

std::string show_error(std::string_view value) {
  try {
    parse_show(value);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ShowFilter, RejectsAnythingElseNamingIt) {
  EXPECT_EQ(show_error("open,bogus"),
            "--show: unknown state 'bogus' (expected open, closed, filtered or all)");
  EXPECT_EQ(show_error("Open"),
            "--show: unknown state 'Open' (expected open, closed, filtered or all)");
  EXPECT_EQ(show_error("host"),
            "--show: unknown state 'host' (expected open, closed, filtered or all)");
  EXPECT_EQ(show_error(""), "--show: empty value (expected open, closed, filtered or all)");
  EXPECT_EQ(show_error("  "), "--show: empty value (expected open, closed, filtered or all)");
  EXPECT_EQ(show_error("open,,closed"), "--show: empty item in 'open,,closed'");
  EXPECT_EQ(show_error("open,"), "--show: empty item in 'open,'");
}

}  // namespace
}  // namespace gh
