// The result model (output/result.h) and what the table keeps of it: silent ports, host records,
// services.
#include <gtest/gtest.h>

#include <string>

#include "output/result.h"
#include "output/result_table.h"

namespace gh {
namespace {

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}

PortResult silent(const char* addr, uint16_t port, Protocol proto = Protocol::Tcp) {
  // Positional, as the engines write it: the service slot stays empty.
  return PortResult{ip(addr), proto, port, PortState::Filtered, Reason::NoResponse, 0, {}};
}

TEST(ResultModel, Names) {
  EXPECT_EQ(to_string(HostState::Up), "up");
  EXPECT_EQ(to_string(HostState::Down), "down");
  EXPECT_EQ(to_string(Reason::ArpResponse), "arp-response");
  EXPECT_EQ(to_string(Reason::AddressMaskReply), "addressmask-reply");
  EXPECT_EQ(to_string(Reason::UserSet), "user-set");
  EXPECT_EQ(format_mac({0x00, 0x1a, 0x2b, 0xc3, 0x04, 0xff}), "00:1A:2B:C3:04:FF");
  EXPECT_FALSE(silent("192.0.2.1", 1).service.has_value());
}

TEST(ResultTableModel, SilentPortsAreKeptSortedAndWithoutLaterVerdicts) {
  ResultTable t(10, 4);
  EXPECT_TRUE(t.add(silent("192.0.2.1", 80)));
  EXPECT_TRUE(t.add(silent("192.0.2.1", 53, Protocol::Udp)));
  EXPECT_TRUE(t.add(silent("192.0.2.1", 22)));
  EXPECT_TRUE(t.add(silent("192.0.2.1", 22)));  // a repeat is listed once
  const auto& h = t.hosts().at(ip("192.0.2.1"));
  EXPECT_FALSE(h.silent_overflow);
  auto ports = h.silent_ports();
  ASSERT_EQ(ports.size(), 3u);
  EXPECT_EQ(ports[0], std::make_pair(Protocol::Tcp, uint16_t{22}));
  EXPECT_EQ(ports[1], std::make_pair(Protocol::Tcp, uint16_t{80}));
  EXPECT_EQ(ports[2], std::make_pair(Protocol::Udp, uint16_t{53}));
  // A verdict after all: no longer silent. One more silent port goes past the limit of 4.
  EXPECT_TRUE(t.add(
      PortResult{ip("192.0.2.1"), Protocol::Tcp, 80, PortState::Open, Reason::SynAck, 64, {}}));
  EXPECT_TRUE(t.add(silent("192.0.2.1", 443)));
  const auto& h2 = t.hosts().at(ip("192.0.2.1"));
  EXPECT_TRUE(h2.silent_overflow);
  ports = h2.silent_ports();
  ASSERT_EQ(ports.size(), 2u);
  EXPECT_EQ(ports[0].second, 22);
  EXPECT_EQ(ports[1].second, 53);
  EXPECT_EQ(t.hosts_up(), 1u);
}

TEST(ResultTableModel, HostRecordsMergeAndCountUp) {
  ResultTable t(1);
  HostResult down;
  down.addr = ip("198.18.0.9");
  down.state = HostState::Down;
  t.add_host(down);
  EXPECT_EQ(t.hosts_up(), 0u);
  ASSERT_NE(t.hosts().at(ip("198.18.0.9")).record, nullptr);

  HostResult up;
  up.addr = ip("198.18.0.5");
  up.reason = Reason::ArpResponse;
  up.mac = MacBytes{2, 0, 0, 0, 0, 5};
  up.vendor = "Example";
  up.latency = std::chrono::microseconds(420);
  up.hostnames.push_back({"a.example", "user"});
  t.add_host(up);
  EXPECT_EQ(t.hosts_up(), 1u);
  // Later: names from reverse DNS, and a stray "down" that must not undo the reply.
  HostResult later;
  later.addr = up.addr;
  later.state = HostState::Down;
  later.hostnames.push_back({"a.example", "user"});
  later.hostnames.push_back({"ptr.example", "PTR"});
  t.add_host(later);
  EXPECT_EQ(t.hosts_up(), 1u);
  const HostResult& r = *t.hosts().at(up.addr).record;
  EXPECT_EQ(r.state, HostState::Up);
  EXPECT_EQ(r.reason, Reason::ArpResponse);
  ASSERT_TRUE(r.mac.has_value());
  EXPECT_EQ(format_mac(*r.mac), "02:00:00:00:00:05");
  EXPECT_EQ(r.vendor, "Example");
  ASSERT_TRUE(r.latency.has_value());
  EXPECT_EQ(r.latency->count(), 420);
  ASSERT_EQ(r.hostnames.size(), 2u);
  EXPECT_EQ(r.hostnames[1].name, "ptr.example");
  // A port reply on the up host does not count it twice.
  EXPECT_TRUE(
      t.add(PortResult{up.addr, Protocol::Tcp, 22, PortState::Open, Reason::SynAck, 64, {}}));
  EXPECT_EQ(t.hosts_up(), 1u);
  // -Pn: assumed up counts as up, but a user-set reason is no reply of the host.
  EXPECT_FALSE(ResultTable::is_host_reply(Reason::UserSet));
  EXPECT_TRUE(ResultTable::is_host_reply(Reason::EchoReply));
}

TEST(ResultTableModel, ServicesByPortLastOneWins) {
  ResultTable t(2);
  IpAddress a = ip("2001:db8::7");
  EXPECT_EQ(t.hosts().count(a), 0u);
  ServiceInfo s;
  s.addr = a;
  s.port = 22;
  s.name = "ssh";
  s.method = "probed";
  s.confidence = 10;
  s.product = "OpenSSH";
  s.cpe = {"cpe:/a:openbsd:openssh:9.2p1"};
  t.add_service(s);
  s.version = "9.2p1";
  t.add_service(s);
  // A port verdict that carries its service fills the same slot.
  PortResult p{a, Protocol::Tcp, 443, PortState::Open, Reason::SynAck, 64, {}};
  p.service = ServiceInfo{};
  p.service->addr = a;
  p.service->port = 443;
  p.service->name = "https";
  p.service->tls = TlsInfo{};
  p.service->tls->version = "TLSv1.3";
  EXPECT_TRUE(t.add(p));
  const auto& h = t.hosts().at(a);
  const ServiceInfo* ssh = h.service(Protocol::Tcp, 22);
  ASSERT_NE(ssh, nullptr);
  EXPECT_EQ(ssh->version, "9.2p1");
  EXPECT_EQ(ssh->cpe.size(), 1u);
  EXPECT_EQ(h.service(Protocol::Udp, 22), nullptr);
  const ServiceInfo* https = h.service(Protocol::Tcp, 443);
  ASSERT_NE(https, nullptr);
  ASSERT_TRUE(https->tls.has_value());
  EXPECT_EQ(https->tls->version, "TLSv1.3");
  EXPECT_EQ(h.services->size(), 2u);
}

}  // namespace
}  // namespace gh
