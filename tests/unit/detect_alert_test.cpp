#include "detect/alert.h"

#include <gtest/gtest.h>

#include "detect/blocker.h"
#include "detect/prefix_set.h"

namespace gh::detect {
namespace {

Alert sample() {
  Alert a;
  a.id = "198.18.0.2@1700000000.000001";
  a.src = *IpAddress::parse("198.18.0.2");
  a.type = ProbeType::Xmas;
  a.by_type[static_cast<size_t>(ProbeType::Xmas)] = 9;
  a.shape = Shape::Block;
  a.first_seen_us = 1'700'000'000'000'001;
  a.last_seen_us = 1'700'000'060'500'000;
  a.detected_us = a.first_seen_us;
  a.probes = 9;
  a.ports = 3;
  a.hosts = 3;
  a.sample_ports = {21, 22, 23};
  a.sample_hosts = {*IpAddress::parse("198.18.1.1"), *IpAddress::parse("2001:db8::1")};
  a.score = 256;
  a.detected_by = rule::kTrw | rule::kFlags;
  a.tool = ToolGuess{"nmap", "window \"1024\""};
  return a;
}

TEST(Alert, JsonCarriesEveryField) {
  std::string j = to_json(sample());
  for (
      const char* part :
      {R"({"id":"198.18.0.2@1700000000.000001","event":"new","src":"198.18.0.2","direction":"inbound","type":"xmas","shape":"block",)",
       R"("first_seen":"2023-11-14T22:13:20.000001Z","last_seen":"2023-11-14T22:14:20.500000Z",)",
       R"("probes":9,)", R"("ports":3,"hosts":3,)", R"("sample_ports":[21,22,23],)",
       R"("sample_hosts":["198.18.1.1","2001:db8::1"],)", R"("types":{"xmas":9},)",
       R"("score":256,)", R"("detected_by":["trw","flags"],)",
       R"("tool":{"name":"nmap","guess":true,"evidence":"window \"1024\""},)",
       R"("verified":false,"blocked":false})"})
    EXPECT_NE(j.find(part), std::string::npos) << part << "\n" << j;
}

TEST(Alert, DirectionProofChallengeAndUdpClass) {
  Alert a = sample();
  a.direction = Direction::Internal;
  a.verified = true;
  a.proof = Proof::Challenge;
  a.challenge = "sent";
  a.by_type[static_cast<size_t>(ProbeType::Udp)] = 5;
  a.udp_answered = 4;
  a.udp_refused = 1;
  std::string j = to_json(a);
  for (const char* part :
       {R"("direction":"internal")", R"("verified":true,"proof":"challenge","challenge":"sent")",
        R"("udp":{"class":"open-services","answered":4,"refused":1,"unanswered":0})"})
    EXPECT_NE(j.find(part), std::string::npos) << part << "\n" << j;
  a.udp_answered = 0;
  EXPECT_NE(to_json(a).find(R"("class":"closed-ports")"), std::string::npos);
  EXPECT_NE(to_text(a).find("internal xmas scan"), std::string::npos) << to_text(a);
}

TEST(Alert, ScoreStaysValidJson) {
  Alert a = sample();
  a.score = 1e308 * 10;  // inf
  EXPECT_NE(to_json(a).find(R"("score":1e+300)"), std::string::npos) << to_json(a);
}

TEST(Alert, TextLineForHumans) {
  std::string t = to_text(sample());
  EXPECT_EQ(t.rfind("ALERT 198.18.0.2: xmas scan, block, 9 probes to 3 ports on 3 hosts", 0), 0u)
      << t;
  EXPECT_NE(t.find("likely nmap"), std::string::npos);
}

TEST(Alert, EvidenceIsEscaped) {
  Alert a = sample();
  a.tool->evidence = "a\nb\x01";
  EXPECT_NE(to_json(a).find(R"("evidence":"a\nb\u0001")"), std::string::npos) << to_json(a);
}

TEST(Prefix, ParsesAndMatches) {
  auto p = Prefix::parse("198.18.5.7/16");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->to_string(), "198.18.0.0/16");
  EXPECT_TRUE(p->contains(*IpAddress::parse("198.18.200.1")));
  EXPECT_FALSE(p->contains(*IpAddress::parse("198.19.0.1")));
  EXPECT_FALSE(p->contains(*IpAddress::parse("2001:db8::1")));
  auto h = Prefix::parse("2001:db8::1");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->len, 128);
  EXPECT_TRUE(Prefix::parse("0.0.0.0/0")->contains(*IpAddress::parse("203.0.113.9")));
  for (const char* bad : {"", "/24", "198.18.0.0/", "198.18.0.0/33", "2001:db8::/129", "1.2.3.4/x"})
    EXPECT_FALSE(Prefix::parse(bad)) << bad;
}

TEST(BlockPolicy, OnlyVerifiedSourcesOutsideTheSafeListsAreBlocked) {
  BlockConfig cfg;
  cfg.max_blocked = 2;
  cfg.allow.add(*Prefix::parse("198.18.0.128/25"));
  cfg.local.add(*Prefix::parse("198.18.1.0/24"));
  cfg.gateways.push_back(*IpAddress::parse("198.18.0.1"));
  Alert a = sample();
  a.verified = true;
  EXPECT_TRUE(block_decision(cfg, a, 0).block);
  EXPECT_FALSE(block_decision(cfg, a, 2).block);  // --max-blocked reached
  Alert unverified = a;
  unverified.verified = false;
  EXPECT_FALSE(block_decision(cfg, unverified, 0).block);
  EXPECT_NE(block_decision(cfg, unverified, 0).note.find("spoofed"), std::string::npos);
  for (const char* never : {"198.18.0.200", "198.18.0.1", "198.18.1.5"}) {
    Alert b = a;
    b.src = *IpAddress::parse(never);
    EXPECT_FALSE(block_decision(cfg, b, 0).block) << never;
  }
}

}  // namespace
}  // namespace gh::detect
