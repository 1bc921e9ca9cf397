#include "targets/target_set.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"

namespace gh {
namespace {

constexpr uint64_t kMax64 = std::numeric_limits<uint64_t>::max();

IpAddress ip(const char* text) {
  auto a = IpAddress::parse(text);
  if (!a) ADD_FAILURE() << "bad test address " << text;
  return a.value_or(IpAddress{});
}

AddressRange range(const char* first, const char* last) {
  return {ip(first), ip(last)};
}

// Numeric forms must never reach a resolver.
std::vector<IpAddress> no_dns(const std::string& name) {
  ADD_FAILURE() << "unexpected resolver call for " << name;
  return {};
}

// IPv6 first on purpose: the set must still pick the IPv4 address.
std::vector<IpAddress> fake_resolver(const std::string& name) {
  if (name == "lab.example")
    return {ip("2001:db8::10"), ip("198.18.5.7"), ip("198.18.5.8"), ip("198.18.9.9")};
  return {};
}

std::vector<IpAddress> v6_only_resolver(const std::string& name) {
  if (name == "lab.example") return {ip("2001:db8::20"), ip("2001:db8::21")};
  return {};
}

int g_resolver_calls = 0;
std::vector<IpAddress> counting_resolver(const std::string& name) {
  ++g_resolver_calls;
  return fake_resolver(name);
}

TargetSet set_of(std::initializer_list<const char*> specs, Resolver resolver = no_dns) {
  TargetSet s;
  for (const char* spec : specs) s.add_spec(spec, resolver);
  return s;
}

std::string ranges_text(const TargetSet& s) {
  std::string out;
  for (const auto& r : s.ranges()) {
    if (!out.empty()) out += ' ';
    out += r.first.to_string();
    if (r.last != r.first) {
      out += '-';  // not "-" + string: GCC 12 at -O3 warns (-Wrestrict, a false positive)
      out += r.last.to_string();
    }
  }
  return out;
}

// Every index maps to an address the set contains and back; indices are strictly increasing.
void expect_round_trip(const TargetSet& s) {
  ASSERT_LT(s.size(), 1'000'000u);
  IpAddress prev{};
  for (uint64_t i = 0; i < s.size(); ++i) {
    IpAddress a = s.at(i);
    ASSERT_TRUE(s.contains(a)) << a.to_string();
    ASSERT_EQ(s.index_of(a), i) << a.to_string();
    if (i > 0) {
      ASSERT_LT(prev, a);
    }
    prev = a;
  }
}

std::string usage_error(std::string_view spec, Resolver resolver = no_dns) {
  TargetSet s;
  try {
    s.add_spec(spec, resolver);
  } catch (const UsageError& e) {
    EXPECT_TRUE(s.empty());
    return e.what();
  }
  ADD_FAILURE() << "no UsageError for \"" << spec << "\"";
  return {};
}

// --- single addresses and CIDR ----------------------------------------------------------------

TEST(TargetSet, StartsEmpty) {
  TargetSet s;
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.size(), 0u);
  EXPECT_FALSE(s.has_v4());
  EXPECT_FALSE(s.has_v6());
  EXPECT_FALSE(s.contains(ip("10.0.0.1")));
  EXPECT_EQ(s.index_of(ip("10.0.0.1")), kMax64);
  EXPECT_THROW(s.at(0), std::out_of_range);
}

TEST(TargetSet, SingleAddresses) {
  auto s = set_of({"198.18.0.1", "2001:db8::1", "[2001:db8::2]"});
  EXPECT_EQ(ranges_text(s), "198.18.0.1 2001:db8::1-2001:db8::2");
  EXPECT_EQ(s.size(), 3u);
  EXPECT_TRUE(s.has_v4());
  EXPECT_TRUE(s.has_v6());
  EXPECT_EQ(s.at(0), ip("198.18.0.1"));
  EXPECT_EQ(s.at(2), ip("2001:db8::2"));
}

TEST(TargetSet, Ipv4Cidr) {
  auto s = set_of({"198.18.0.77/24"});  // host bits ignored
  ASSERT_EQ(s.ranges().size(), 1u);
  EXPECT_EQ(s.ranges()[0], range("198.18.0.0", "198.18.0.255"));
  EXPECT_EQ(s.size(), 256u);
  EXPECT_EQ(set_of({"198.18.0.77/32"}).ranges()[0], range("198.18.0.77", "198.18.0.77"));
  EXPECT_EQ(set_of({"198.18.0.77/31"}).ranges()[0], range("198.18.0.76", "198.18.0.77"));
  auto all = set_of({"1.2.3.4/0"});
  EXPECT_EQ(all.ranges()[0], range("0.0.0.0", "255.255.255.255"));
  EXPECT_EQ(all.size(), 1ull << 32);
  EXPECT_EQ(all.at((1ull << 32) - 1), ip("255.255.255.255"));
  EXPECT_EQ(all.index_of(ip("255.255.255.255")), (1ull << 32) - 1);
  EXPECT_FALSE(all.contains(ip("::")));
}

TEST(TargetSet, SlashEightIsOneRange) {
  auto s = set_of({"10.1.2.3/8"});
  ASSERT_EQ(s.ranges().size(), 1u);
  EXPECT_EQ(s.size(), 16'777'216u);
  EXPECT_EQ(s.at(0), ip("10.0.0.0"));
  EXPECT_EQ(s.at(16'777'215), ip("10.255.255.255"));
  EXPECT_EQ(s.at(65'536 + 256 + 1), ip("10.1.1.1"));
  EXPECT_EQ(s.index_of(ip("10.1.1.1")), 65'536u + 256 + 1);
}

TEST(TargetSet, Ipv6Cidr) {
  auto s = set_of({"2001:db8::1234/120"});
  ASSERT_EQ(s.ranges().size(), 1u);
  EXPECT_EQ(s.ranges()[0], range("2001:db8::1200", "2001:db8::12ff"));
  EXPECT_EQ(s.size(), 256u);
  EXPECT_EQ(set_of({"[2001:db8::1]/64"}).ranges()[0],
            range("2001:db8::", "2001:db8::ffff:ffff:ffff:ffff"));
  EXPECT_EQ(set_of({"2001:db8::1/128"}).size(), 1u);
  // A /64 holds exactly 2^64 addresses: one more than UINT64_MAX, so it saturates.
  EXPECT_EQ(set_of({"2001:db8::/64"}).size(), kMax64);
  EXPECT_EQ(set_of({"2001:db8::/65"}).size(), 1ull << 63);
}

TEST(TargetSet, Ipv6SlashZeroSaturates) {
  auto s = set_of({"::/0"});
  ASSERT_EQ(s.ranges().size(), 1u);
  EXPECT_EQ(s.ranges()[0], range("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  EXPECT_EQ(s.size(), kMax64);
  EXPECT_FALSE(s.has_v4());
  EXPECT_TRUE(s.has_v6());
  EXPECT_EQ(s.at(0), ip("::"));
  EXPECT_EQ(s.at(kMax64 - 1), ip("::ffff:ffff:ffff:fffe"));
  EXPECT_EQ(s.index_of(ip("::ffff:ffff:ffff:fffe")), kMax64 - 1);
  EXPECT_TRUE(s.contains(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
  EXPECT_EQ(s.index_of(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")), kMax64);  // unreachable
  // Adding IPv4 before it keeps the saturated total and shifts IPv6 indices.
  s.add_spec("10.0.0.0/30", no_dns);
  EXPECT_EQ(s.size(), kMax64);
  EXPECT_EQ(s.at(3), ip("10.0.0.3"));
  EXPECT_EQ(s.at(4), ip("::"));
  EXPECT_EQ(s.index_of(ip("::1")), 5u);
}

// --- nmap octet ranges ----------------------------------------------------------------------

TEST(TargetSet, OctetRanges) {
  auto s = set_of({"10.0.0-3.1-254"});
  ASSERT_EQ(s.ranges().size(), 4u);
  EXPECT_EQ(s.ranges()[0], range("10.0.0.1", "10.0.0.254"));
  EXPECT_EQ(s.ranges()[3], range("10.0.3.1", "10.0.3.254"));
  EXPECT_EQ(s.size(), 4u * 254);
  EXPECT_EQ(s.at(253), ip("10.0.0.254"));
  EXPECT_EQ(s.at(254), ip("10.0.1.1"));
  EXPECT_FALSE(s.contains(ip("10.0.1.0")));
  EXPECT_FALSE(s.contains(ip("10.0.4.1")));
}

TEST(TargetSet, OctetListsAndStar) {
  auto s = set_of({"192.168.*.1,3,5-7"});
  EXPECT_EQ(s.ranges().size(), 256u * 3);
  EXPECT_EQ(s.size(), 256u * 5);
  EXPECT_EQ(s.at(0), ip("192.168.0.1"));
  EXPECT_EQ(s.at(1), ip("192.168.0.3"));
  EXPECT_EQ(s.at(2), ip("192.168.0.5"));
  EXPECT_EQ(s.at(5), ip("192.168.1.1"));
  EXPECT_EQ(s.at(256 * 5 - 1), ip("192.168.255.7"));
  EXPECT_FALSE(s.contains(ip("192.168.7.4")));
  EXPECT_TRUE(s.contains(ip("192.168.7.6")));
  expect_round_trip(s);
}

TEST(TargetSet, OctetOpenRanges) {
  EXPECT_EQ(ranges_text(set_of({"10.0.0.-5"})), "10.0.0.0-10.0.0.5");
  EXPECT_EQ(ranges_text(set_of({"10.0.0.250-"})), "10.0.0.250-10.0.0.255");
  EXPECT_EQ(ranges_text(set_of({"10.0.0.-1,254-"})), "10.0.0.0-10.0.0.1 10.0.0.254-10.0.0.255");
  EXPECT_EQ(ranges_text(set_of({"10.0.0.5,1-3,2"})), "10.0.0.1-10.0.0.3 10.0.0.5");
}

TEST(TargetSet, TrailingFullOctetsMergeIntoOneRange) {
  auto s = set_of({"10.*.*.*"});
  ASSERT_EQ(s.ranges().size(), 1u);
  EXPECT_EQ(s.ranges()[0], range("10.0.0.0", "10.255.255.255"));
  auto t = set_of({"10.0-3.*.*"});
  ASSERT_EQ(t.ranges().size(), 1u);
  EXPECT_EQ(t.ranges()[0], range("10.0.0.0", "10.3.255.255"));
  auto all = set_of({"*.*.*.*"});
  ASSERT_EQ(all.ranges().size(), 1u);
  EXPECT_EQ(all.size(), 1ull << 32);
  // Full octets written as 0-255 are full too, and adjacent prefixes merge.
  EXPECT_EQ(ranges_text(set_of({"10.0.0,1.0-255"})), "10.0.0.0-10.0.1.255");
  EXPECT_EQ(ranges_text(set_of({"10.1,3.*.*"})), "10.1.0.0-10.1.255.255 10.3.0.0-10.3.255.255");
}

TEST(TargetSet, LastPartialOctetDrivesRangeCount) {
  auto s = set_of({"10.0-255.0-255.1-254"});
  EXPECT_EQ(s.ranges().size(), 65'536u);
  EXPECT_EQ(s.size(), 65'536u * 254);
  EXPECT_EQ(s.at(0), ip("10.0.0.1"));
  EXPECT_EQ(s.at(254), ip("10.0.1.1"));
  EXPECT_EQ(s.at(65'536u * 254 - 1), ip("10.255.255.254"));
  EXPECT_EQ(s.index_of(ip("10.1.0.1")), 256u * 254);
  EXPECT_EQ(s.index_of(ip("10.1.0.0")), kMax64);
}

TEST(TargetSet, TooFragmentedOctetsAreRefused) {
  for (const char* spec : {"*.*.*.1", "*.*.*.0,2", "0-64.*.*.1", "1-128.*.*.1,3"}) {
    std::string msg = usage_error(spec);
    EXPECT_NE(msg.find("too fragmented"), std::string::npos) << msg;
    EXPECT_NE(msg.find(std::string("\"") + spec + "\""), std::string::npos) << msg;
  }
  EXPECT_NE(usage_error("*.*.*.1").find("16777216"), std::string::npos);
  // Under the limit: 256 * 256 values times two runs in the third octet.
  auto ok = set_of({"*.*.1-3,5.*"});
  EXPECT_EQ(ok.ranges().size(), 65'536u * 2);
  EXPECT_EQ(ok.size(), 65'536u * 4 * 256);
  EXPECT_EQ(ok.at(4 * 256), ip("0.1.1.0"));
}

// --- dash ranges ----------------------------------------------------------------------------

TEST(TargetSet, DashRanges) {
  auto s = set_of({"10.0.0.1-10.0.0.50"});
  EXPECT_EQ(ranges_text(s), "10.0.0.1-10.0.0.50");
  EXPECT_EQ(s.size(), 50u);
  auto crossing = set_of({"10.0.0.250-10.0.1.5"});
  EXPECT_EQ(crossing.size(), 12u);
  EXPECT_EQ(crossing.at(6), ip("10.0.1.0"));
  auto v6 = set_of({"2001:db8::1-2001:db8::ff"});
  EXPECT_EQ(ranges_text(v6), "2001:db8::1-2001:db8::ff");
  EXPECT_EQ(v6.size(), 255u);
  EXPECT_EQ(ranges_text(set_of({"[2001:db8::1]-[2001:db8::3]"})), "2001:db8::1-2001:db8::3");
  EXPECT_EQ(set_of({"10.0.0.7-10.0.0.7"}).size(), 1u);
  auto whole = set_of({"::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"});
  EXPECT_EQ(whole.size(), kMax64);
}

// --- host names -----------------------------------------------------------------------------

TEST(TargetSet, HostNameUsesFirstIpv4Address) {
  auto s = set_of({"lab.example"}, fake_resolver);
  EXPECT_EQ(ranges_text(s), "198.18.5.7");
  auto cidr = set_of({"lab.example/24"}, fake_resolver);
  EXPECT_EQ(ranges_text(cidr), "198.18.5.0-198.18.5.255");
  EXPECT_EQ(ranges_text(set_of({"LAB.example."},
                               [](const std::string& n) {
                                 return n == "LAB.example." ? fake_resolver("lab.example")
                                                            : std::vector<IpAddress>{};
                               })),
            "198.18.5.7");
}

TEST(TargetSet, HostNameFallsBackToFirstIpv6Address) {
  auto s = set_of({"lab.example"}, v6_only_resolver);
  EXPECT_EQ(ranges_text(s), "2001:db8::20");
  auto cidr = set_of({"lab.example/120"}, v6_only_resolver);
  EXPECT_EQ(ranges_text(cidr), "2001:db8::-2001:db8::ff");
}

TEST(TargetSet, HostNameErrors) {
  std::string msg = usage_error("nope.example", fake_resolver);
  EXPECT_NE(msg.find("cannot resolve host nope.example"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"nope.example\""), std::string::npos) << msg;
  msg = usage_error("nope.example/24", fake_resolver);
  EXPECT_NE(msg.find("cannot resolve host nope.example"), std::string::npos) << msg;
  // The prefix must fit the family of the resolved address.
  msg = usage_error("lab.example/64", fake_resolver);
  EXPECT_NE(msg.find("out of range for IPv4"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"lab.example/64\""), std::string::npos) << msg;
  EXPECT_NO_THROW(set_of({"lab.example/64"}, v6_only_resolver));
  // Lookups can be switched off.
  msg = usage_error("lab.example", nullptr);
  EXPECT_NE(msg.find("cannot resolve host lab.example"), std::string::npos) << msg;
}

TEST(TargetSet, NumericFormsNeverResolve) {
  // no_dns fails the test when called; "1.2.3" must not go to getaddrinfo (it would mean 1.2.0.3).
  for (const char* spec : {"1.2.3", "123", "1.2.3.4.5", "a.1", "1.2"}) usage_error(spec, no_dns);
}

// --- merging --------------------------------------------------------------------------------

TEST(TargetSet, MergesOverlappingAndAdjacentRanges) {
  auto s = set_of({"10.0.0.128/25", "10.0.0.0/25"});
  EXPECT_EQ(ranges_text(s), "10.0.0.0-10.0.0.255");
  auto d = set_of({"10.0.0.0/24", "10.0.0.10-10.0.0.20", "10.0.0.255", "10.0.0.5", "10.0.0.0/24"});
  ASSERT_EQ(d.ranges().size(), 1u);
  EXPECT_EQ(d.size(), 256u);
  auto bridge = set_of({"10.0.0.1-10.0.0.10", "10.0.0.20-10.0.0.30", "10.0.0.5-10.0.0.25"});
  EXPECT_EQ(ranges_text(bridge), "10.0.0.1-10.0.0.30");
  auto gap = set_of({"10.0.0.1", "10.0.0.3"});
  EXPECT_EQ(gap.ranges().size(), 2u);
  gap.add_spec("10.0.0.2", no_dns);
  EXPECT_EQ(ranges_text(gap), "10.0.0.1-10.0.0.3");
  // Out-of-order additions end up sorted.
  auto order = set_of({"10.0.0.9", "10.0.0.1", "2001:db8::1", "10.0.0.5", "::1"});
  EXPECT_EQ(ranges_text(order), "10.0.0.1 10.0.0.5 10.0.0.9 ::1 2001:db8::1");
}

TEST(TargetSet, NeverMergesAcrossFamilies) {
  // 255.255.255.255 and :: are neighbours in (family, value) order but not one range.
  auto s = set_of({"::", "255.255.255.255"});
  ASSERT_EQ(s.ranges().size(), 2u);
  EXPECT_EQ(s.ranges()[0], range("255.255.255.255", "255.255.255.255"));
  EXPECT_EQ(s.ranges()[1], range("::", "::"));
  // IPv4 value 1 and IPv6 ::1 are different addresses.
  auto t = set_of({"0.0.0.1", "::1", "0.0.0.0/31", "::/127"});
  EXPECT_EQ(ranges_text(t), "0.0.0.0-0.0.0.1 ::-::1");
  EXPECT_EQ(t.size(), 4u);
}

TEST(TargetSet, AddRange) {
  TargetSet s;
  s.add_range(range("10.0.0.5", "10.0.0.9"));
  s.add_range(range("10.0.0.1", "10.0.0.4"));
  s.add_range(range("2001:db8::", "2001:db8::1"));
  EXPECT_EQ(ranges_text(s), "10.0.0.1-10.0.0.9 2001:db8::-2001:db8::1");
  EXPECT_THROW(s.add_range(range("10.0.0.9", "10.0.0.1")), UsageError);
  EXPECT_THROW(s.add_range({ip("10.0.0.1"), ip("::1")}), UsageError);
  EXPECT_THROW(
      s.add_range({IpAddress{Family::V4, u128{1} << 40}, IpAddress{Family::V4, u128{1} << 40}}),
      UsageError);
  EXPECT_EQ(s.size(), 11u);
}

TEST(TargetSet, ManySingleAddressesInAnyOrder) {
  std::vector<uint32_t> values;
  for (uint32_t i = 0; i < 100'000; ++i) values.push_back(0x0A000000u + i * 3);  // gaps of 2
  std::mt19937 rng(42);
  std::shuffle(values.begin(), values.end(), rng);
  std::ostringstream text;
  for (uint32_t v : values) text << IpAddress::v4(v).to_string() << '\n';
  std::istringstream in(text.str());
  TargetSet s;
  s.add_stream(in, "many.txt", no_dns);
  EXPECT_EQ(s.ranges().size(), 100'000u);
  EXPECT_EQ(s.size(), 100'000u);
  EXPECT_EQ(s.at(0), IpAddress::v4(0x0A000000u));
  EXPECT_EQ(s.at(99'999), IpAddress::v4(0x0A000000u + 99'999u * 3));
  EXPECT_EQ(s.index_of(IpAddress::v4(0x0A000000u + 500u * 3)), 500u);
  EXPECT_EQ(s.index_of(IpAddress::v4(0x0A000000u + 500u * 3 + 1)), kMax64);

  // One at a time in ascending order (the common command-line case) takes the append path.
  TargetSet t;
  std::sort(values.begin(), values.end());
  for (uint32_t v : values) t.add_range({IpAddress::v4(v), IpAddress::v4(v)});
  EXPECT_EQ(t.ranges(), s.ranges());
  EXPECT_EQ(t.size(), 100'000u);
}

TEST(TargetSet, ManySingleSpecsInRandomOrder) {
  // One add_spec per address, as the CLI does for command-line targets: appends only, one sort.
  std::vector<uint32_t> values;
  for (uint32_t i = 0; i < 100'000; ++i) values.push_back(0xC6120000u + i * 2);
  std::mt19937 rng(3);
  std::shuffle(values.begin(), values.end(), rng);
  TargetSet s;
  for (uint32_t v : values) s.add_spec(IpAddress::v4(v).to_string(), no_dns);
  EXPECT_EQ(s.size(), 100'000u);
  EXPECT_EQ(s.ranges().size(), 100'000u);
  EXPECT_EQ(s.at(1), IpAddress::v4(0xC6120002u));
  // Filling the gaps merges everything into one range.
  for (uint32_t v : values) s.add_range({IpAddress::v4(v + 1), IpAddress::v4(v + 1)});
  ASSERT_EQ(s.ranges().size(), 1u);
  EXPECT_EQ(s.size(), 200'000u);
}

TEST(TargetSet, ConcurrentReadersOfAFreshlyFilledSet) {
  TargetSet s;
  for (uint32_t i = 0; i < 5'000; ++i)
    s.add_range({IpAddress::v4(i * 7), IpAddress::v4(i * 7 + 2)});
  const TargetSet& shared = s;  // not normalized yet: the readers race to do it
  std::vector<std::thread> readers;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t)
    readers.emplace_back([&shared, &bad, t] {
      for (uint64_t i = 0; i < 15'000; i += 7) {
        IpAddress a = shared.at(i);
        if (a != IpAddress::v4(static_cast<uint32_t>(i / 3 * 7 + i % 3)) || shared.index_of(a) != i)
          ++bad[static_cast<size_t>(t)];
      }
    });
  for (auto& r : readers) r.join();
  EXPECT_EQ(bad, std::vector<int>(4, 0));
  EXPECT_EQ(s.size(), 15'000u);
}

TEST(TargetSet, CopyAndMove) {
  TargetSet a;
  a.add_spec("10.0.0.0/30", no_dns);
  a.add_spec("10.0.0.4", no_dns);  // still pending when copied
  TargetSet b = a;
  EXPECT_EQ(ranges_text(b), "10.0.0.0-10.0.0.4");
  b.add_spec("::1", no_dns);
  EXPECT_EQ(a.size(), 5u);
  EXPECT_EQ(b.size(), 6u);
  TargetSet c = std::move(b);
  EXPECT_EQ(c.size(), 6u);
  EXPECT_EQ(c.at(5), ip("::1"));
  TargetSet d;
  d.add_spec("192.168.0.1", no_dns);
  d = c;
  EXPECT_EQ(ranges_text(d), "10.0.0.0-10.0.0.4 ::1");
  d = std::move(a);
  EXPECT_EQ(ranges_text(d), "10.0.0.0-10.0.0.4");
  const TargetSet& alias = d;
  d = alias;  // self-assignment keeps the contents
  EXPECT_EQ(d.size(), 5u);
}

// Random sequences of every mutator against a std::set model over a small universe of both
// families, checking all accessors after every step.
TEST(TargetSet, MatchesASetModel) {
  std::mt19937 rng(1234);
  auto addr = [](int v) {
    return v < 64 ? IpAddress::v4(0x0A000000u + static_cast<uint32_t>(v))
                  : IpAddress::v6((u128{0x20010db8u} << 96) + static_cast<u128>(v - 64));
  };
  auto random_ranges = [&](TargetSet& set, std::set<IpAddress>& model, int count) {
    for (int n = 0; n < count; ++n) {
      int lo = static_cast<int>(rng() % 128);
      int hi = std::min(lo + static_cast<int>(rng() % 8), lo < 64 ? 63 : 127);
      set.add_range({addr(lo), addr(hi)});
      for (int v = lo; v <= hi; ++v) model.insert(addr(v));
    }
  };
  for (int round = 0; round < 50; ++round) {
    TargetSet s;
    std::set<IpAddress> model;
    for (int step = 0; step < 12; ++step) {
      TargetSet other;
      std::set<IpAddress> other_model;
      switch (rng() % 4) {
        case 0:
        case 1:
          random_ranges(s, model, 1 + static_cast<int>(rng() % 4));
          break;
        case 2: {
          random_ranges(other, other_model, 1 + static_cast<int>(rng() % 4));
          s.subtract(other);
          for (const auto& a : other_model) model.erase(a);
          break;
        }
        default: {
          random_ranges(other, other_model, 4 + static_cast<int>(rng() % 8));
          s.intersect(other);
          std::set<IpAddress> kept;
          for (const auto& a : model)
            if (other_model.count(a)) kept.insert(a);
          model = kept;
        }
      }
      ASSERT_EQ(s.size(), model.size());
      ASSERT_EQ(s.empty(), model.empty());
      const auto& r = s.ranges();
      for (size_t k = 0; k + 1 < r.size(); ++k) {
        // Sorted, disjoint, and not mergeable.
        ASSERT_LT(r[k].last, r[k + 1].first);
        ASSERT_TRUE(r[k].first.family != r[k + 1].first.family ||
                    r[k].last.value + 1 < r[k + 1].first.value);
      }
      uint64_t i = 0;
      for (const auto& a : model) {
        ASSERT_EQ(s.at(i), a);
        ASSERT_EQ(s.index_of(a), i);
        ++i;
      }
      for (int v = 0; v < 128; ++v) ASSERT_EQ(s.contains(addr(v)), model.count(addr(v)) == 1);
      ASSERT_EQ(s.has_v4(), !model.empty() && model.begin()->is_v4());
      ASSERT_EQ(s.has_v6(), !model.empty() && model.rbegin()->is_v6());
    }
  }
}

// --- index ----------------------------------------------------------------------------------

TEST(TargetSet, IndexRoundTrip) {
  expect_round_trip(set_of({"10.0.0.1"}));
  expect_round_trip(set_of({"10.0.0.0/28", "10.0.1.0/30", "10.0.0.20-10.0.0.22"}));
  expect_round_trip(set_of({"10.0.0-3.1-254"}));
  expect_round_trip(set_of({"192.168.1,3.1,3,5-7", "2001:db8::/122", "::1", "10.9.9.9"}));
  expect_round_trip(set_of({"2001:db8::1-2001:db8::40", "2001:db8:1::/120", "198.18.0.0/23"}));
  auto mixed = set_of({"255.255.255.250-255.255.255.255", "::-::5"});
  expect_round_trip(mixed);
  EXPECT_EQ(mixed.at(5), ip("255.255.255.255"));
  EXPECT_EQ(mixed.at(6), ip("::"));
  EXPECT_EQ(mixed.index_of(ip("::5")), 11u);
  EXPECT_EQ(mixed.index_of(ip("::6")), kMax64);
  EXPECT_EQ(mixed.index_of(ip("0.0.0.0")), kMax64);
}

TEST(TargetSet, IndexRoundTripOnLargeSets) {
  auto s = set_of({"10.0.0.0/8", "172.16.0.0/12", "2001:db8::/96", "192.168.*.1-100"});
  uint64_t v4 = (1ull << 24) + (1ull << 20) + 256 * 100;
  EXPECT_EQ(s.size(), v4 + (1ull << 32));
  std::mt19937_64 rng(7);
  for (int n = 0; n < 20'000; ++n) {
    uint64_t i = rng() % s.size();
    IpAddress a = s.at(i);
    ASSERT_EQ(s.index_of(a), i) << a.to_string();
  }
  EXPECT_EQ(s.at(v4 - 1), ip("192.168.255.100"));
  EXPECT_EQ(s.at(v4), ip("2001:db8::"));
  EXPECT_EQ(s.at(s.size() - 1), ip("2001:db8::ffff:ffff"));
}

// --- subtract / intersect -------------------------------------------------------------------

TEST(TargetSet, SubtractCarvesHoles) {
  auto s = set_of({"10.0.0.0/24"});
  s.subtract(set_of({"10.0.0.10-10.0.0.19"}));
  EXPECT_EQ(ranges_text(s), "10.0.0.0-10.0.0.9 10.0.0.20-10.0.0.255");
  EXPECT_EQ(s.size(), 246u);
  EXPECT_EQ(s.at(10), ip("10.0.0.20"));
  s.subtract(set_of({"10.0.0.0", "10.0.0.255", "10.0.0.100", "192.168.0.0/16", "::/0"}));
  EXPECT_EQ(ranges_text(s), "10.0.0.1-10.0.0.9 10.0.0.20-10.0.0.99 10.0.0.101-10.0.0.254");
  expect_round_trip(s);
}

TEST(TargetSet, SubtractSpanningSeveralRanges) {
  auto s = set_of({"10.0.0.1-10.0.0.10", "10.0.0.20-10.0.0.30", "10.0.0.40-10.0.0.50"});
  s.subtract(set_of({"10.0.0.5-10.0.0.45"}));
  EXPECT_EQ(ranges_text(s), "10.0.0.1-10.0.0.4 10.0.0.46-10.0.0.50");
  // One range of `other` covering the ends of two ranges of ours.
  auto t = set_of({"10.0.0.0/30", "10.0.0.8/30"});
  t.subtract(set_of({"10.0.0.3-10.0.0.8", "10.0.0.11"}));
  EXPECT_EQ(ranges_text(t), "10.0.0.0-10.0.0.2 10.0.0.9-10.0.0.10");
}

TEST(TargetSet, SubtractEdgeCases) {
  auto s = set_of({"10.0.0.0/24", "2001:db8::/126"});
  s.subtract(set_of({"10.0.0.0/16"}));
  EXPECT_EQ(ranges_text(s), "2001:db8::-2001:db8::3");
  EXPECT_FALSE(s.has_v4());
  s.subtract(s);  // self
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.size(), 0u);
  s.subtract(set_of({"10.0.0.1"}));  // from empty
  EXPECT_TRUE(s.empty());
  auto unchanged = set_of({"10.0.0.0/30"});
  unchanged.subtract(TargetSet{});
  EXPECT_EQ(unchanged.size(), 4u);
  // The extremes of the IPv6 space: no wrap-around.
  auto all = set_of({"::/0"});
  all.subtract(set_of({"::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}));
  EXPECT_EQ(ranges_text(all), "::1-ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe");
  EXPECT_EQ(all.size(), kMax64);
  EXPECT_EQ(all.at(0), ip("::1"));
  // Excluding a /8 from the whole IPv4 space keeps two ranges.
  auto v4 = set_of({"0.0.0.0/0"});
  v4.subtract(set_of({"10.0.0.0/8"}));
  EXPECT_EQ(ranges_text(v4), "0.0.0.0-9.255.255.255 11.0.0.0-255.255.255.255");
  EXPECT_EQ(v4.size(), (1ull << 32) - (1ull << 24));
}

TEST(TargetSet, Intersect) {
  auto s = set_of({"10.0.0.0/24", "10.0.2.0/24", "2001:db8::/120"});
  s.intersect(set_of({"10.0.0.128-10.0.2.127", "2001:db8::ff-2001:db8::1ff", "192.168.0.1"}));
  EXPECT_EQ(ranges_text(s), "10.0.0.128-10.0.0.255 10.0.2.0-10.0.2.127 2001:db8::ff");
  EXPECT_EQ(s.size(), 128u + 128 + 1);
  expect_round_trip(s);

  auto self = set_of({"10.0.0.0/30", "::1"});
  self.intersect(self);
  EXPECT_EQ(ranges_text(self), "10.0.0.0-10.0.0.3 ::1");

  auto disjoint = set_of({"10.0.0.0/24"});
  disjoint.intersect(set_of({"::/0"}));  // IPv4 value 10.0.0.x is not IPv6 ::a00:x
  EXPECT_TRUE(disjoint.empty());
  EXPECT_EQ(disjoint.size(), 0u);

  auto many = set_of({"10.0.0.0/16"});
  many.intersect(set_of({"10.0.1-3.1,5", "10.1.0.0/16"}));
  EXPECT_EQ(ranges_text(many), "10.0.1.1 10.0.1.5 10.0.2.1 10.0.2.5 10.0.3.1 10.0.3.5");
}

// --- malformed specs ------------------------------------------------------------------------

TEST(TargetSetErrors, ExactMessage) {
  EXPECT_EQ(usage_error("10.0.0.300"),
            "invalid target \"10.0.0.300\": octet 300 out of range 0-255");
}

TEST(TargetSetErrors, MalformedSpecsThrowNamingTheSpec) {
  const char* bad[] = {"10.0.0.300",
                       "10.0.0",
                       "10.0.0.0.1",
                       "1.2.3.4.5",
                       "10.0.0.5-3",
                       "10.0.0.1-10.0.0.0",
                       "10.0.0.1/33",
                       "10.0.0.1/",
                       "/24",
                       "10.0.0.1/24/8",
                       "10.0.0.1/-1",
                       "10.0.0.1/abc",
                       "10.0.0.1/24x",
                       "10.0.0.1/99999999999999999999",
                       "::/129",
                       "2001:db8::1/1000",
                       "2001:db8::2-2001:db8::1",
                       "10.0.0.1-::1",
                       "::1-10.0.0.1",
                       "[10.0.0.1]",
                       "[2001:db8::1",
                       "2001:db8::1]",
                       "[[::1]]",
                       "2001:db8::g",
                       "2001:db8:::1",
                       "fe80::1%eth0",
                       "2001:db8::1-2001:db8::2-2001:db8::3",
                       "2001:db8::1-ff",
                       "10.0.0.*/24",
                       "10.0.0.1-5/30",
                       "10.0.0.1,,2",
                       "10.0.0.1,",
                       ",10.0.0.1",
                       "10.0.0.1-2-3",
                       "10.0.0.-",
                       "10.0.0.**",
                       "10.0.0.1*",
                       "10.0.0.01",
                       "10.0.0.256-",
                       "10.0.0.-256",
                       "10.0.0.1000",
                       "10..0.1",
                       ".10.0.0",
                       "10.0.0.1-10.0.0.50/24",
                       "10.0.0.1-10.0.0",
                       "10.0.0.1-10.0.0.x",
                       "123",
                       "1.2.3",
                       "a.1",
                       "-host",
                       "host-",
                       "a..b",
                       ".",
                       "bad_host",
                       "host.example/",
                       "h\xc3\xa9llo",
                       "a/b/c",
                       "10.0.0.1:80",
                       "*",
                       "-",
                       "10.0.0.1;rm",
                       "http://x",
                       "01.2.3.4x"};
  for (const char* spec : bad) {
    std::string msg = usage_error(spec, fake_resolver);
    EXPECT_EQ(msg.rfind("invalid target \"", 0), 0u) << spec << " -> " << msg;
    if (std::string_view(spec).find('\xc3') == std::string_view::npos) {
      EXPECT_NE(msg.find(std::string("\"") + spec + "\""), std::string::npos) << msg;
    }
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(TargetSetErrors, EmptyAndWhitespace) {
  EXPECT_EQ(usage_error(""), "invalid target \"\": empty target");
  EXPECT_NE(usage_error(" ").find("whitespace"), std::string::npos);
  EXPECT_NE(usage_error("10.0.0.1 ").find("\"10.0.0.1 \""), std::string::npos);
  EXPECT_NE(usage_error("\t10.0.0.1").find("whitespace"), std::string::npos);
  // Control characters are escaped so that the message stays on one line.
  std::string msg = usage_error(std::string_view("10.0.0.1\n", 9));
  EXPECT_NE(msg.find("\"10.0.0.1\\x0a\""), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos);
  msg = usage_error(std::string_view("a\0b", 3));
  EXPECT_NE(msg.find("control character"), std::string::npos) << msg;
  // A huge spec is cut in the message.
  std::string huge(100'000, '9');
  msg = usage_error(huge);
  EXPECT_LT(msg.size(), 400u);
}

TEST(TargetSetErrors, SpecificReasons) {
  EXPECT_NE(usage_error("10.0.0.5-3").find("reversed"), std::string::npos);
  EXPECT_NE(usage_error("10.0.0.1-10.0.0.0").find("reversed"), std::string::npos);
  EXPECT_NE(usage_error("2001:db8::2-2001:db8::1").find("reversed"), std::string::npos);
  EXPECT_NE(usage_error("10.0.0.1-::1").find("mixes IPv4 and IPv6"), std::string::npos);
  EXPECT_NE(usage_error("10.0.0.1/33").find("/33 out of range for IPv4 (0-32)"), std::string::npos);
  EXPECT_NE(usage_error("::/129").find("/129 out of range"), std::string::npos);
  EXPECT_NE(usage_error("10.0.0").find("expected 4"), std::string::npos);
  EXPECT_NE(usage_error("10.0.0.01").find("leading zero"), std::string::npos);
}

TEST(TargetSetErrors, FailedSpecLeavesSetUnchanged) {
  auto s = set_of({"10.0.0.0/30"});
  EXPECT_THROW(s.add_spec("10.0.1.300", no_dns), UsageError);
  EXPECT_THROW(s.add_spec("*.*.*.1", no_dns), UsageError);
  EXPECT_EQ(ranges_text(s), "10.0.0.0-10.0.0.3");
  EXPECT_EQ(s.size(), 4u);
}

// --- streams --------------------------------------------------------------------------------

TEST(TargetSetStream, ReadsSpecsAndSkipsComments) {
  std::istringstream in(
      "# lab targets\n"
      "10.0.0.1 10.0.0.2\t10.0.0.3   # three in a row\r\n"
      "\n"
      "   \n"
      "#10.9.9.9\n"
      "2001:db8::/126#no space before the comment\n"
      "lab.example 10.0.1.0-3\n"
      "lab.example/31");
  TargetSet s;
  s.add_stream(in, "targets.txt", fake_resolver);
  EXPECT_EQ(ranges_text(s),
            "10.0.0.1-10.0.0.3 10.0.1.0-10.0.1.3 198.18.5.6-198.18.5.7 2001:db8::-2001:db8::3");
  EXPECT_EQ(s.size(), 13u);
  EXPECT_FALSE(s.contains(ip("10.9.9.9")));
}

TEST(TargetSetStream, ResolvesEachNameOnce) {
  std::istringstream in("lab.example lab.example/30\nlab.example\n");
  g_resolver_calls = 0;
  TargetSet s;
  s.add_stream(in, "t", counting_resolver);
  EXPECT_EQ(g_resolver_calls, 1);
  EXPECT_EQ(ranges_text(s), "198.18.5.4-198.18.5.7");
}

TEST(TargetSetStream, ErrorsNameSourceAndLine) {
  std::istringstream in(
      "10.0.0.1\n"
      "# comment 10.0.0.300\n"
      "10.0.0.2 10.0.0.256 10.0.0.3\n");
  TargetSet s = set_of({"192.168.0.1"});
  try {
    s.add_stream(in, "lab/targets.txt", no_dns);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(),
                 "lab/targets.txt:3: invalid target \"10.0.0.256\": octet 256 out of range 0-255");
  }
  // Nothing from the failed stream was added.
  EXPECT_EQ(ranges_text(s), "192.168.0.1");

  std::istringstream unresolved("10.0.0.1\n\n\n  nope.example # why\n");
  try {
    s.add_stream(unresolved, "list", fake_resolver);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.rfind("list:4: ", 0), 0u) << msg;
    EXPECT_NE(msg.find("cannot resolve host nope.example"), std::string::npos) << msg;
  }
}

TEST(TargetSetStream, EmptyStream) {
  std::istringstream in("# nothing\n\n");
  TargetSet s;
  s.add_stream(in, "empty", no_dns);
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.size(), 0u);
}

// --- the real resolver, on localhost only ----------------------------------------------------

TEST(TargetSetResolver, LocalhostIsLoopback) {
  auto found = resolve_with_getaddrinfo("localhost");
  ASSERT_FALSE(found.empty());
  for (const auto& a : found) {
    if (a.is_v4()) {
      EXPECT_EQ(a.v4_value() >> 24, 127u) << a.to_string();
    } else {
      EXPECT_EQ(a, ip("::1"));
    }
  }
  for (size_t i = 0; i < found.size(); ++i)
    for (size_t j = i + 1; j < found.size(); ++j) EXPECT_NE(found[i], found[j]);
  EXPECT_TRUE(resolve_with_getaddrinfo("").empty());
}

}  // namespace
}  // namespace gh
