// The block's netlink transaction (detect/nft_netlink.h), parsed back with libnftnl: the
// messages, their order and sequence numbers, and the element (table, set, key, timeout).
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cstring>
#include <string>
#include <vector>

#include "detect/alert.h"
#include "detect/nft_netlink.h"

namespace gh::detect {
namespace {

struct Parsed {
  std::vector<uint16_t> types;
  std::vector<uint32_t> seqs;
  uint16_t elem_flags = 0;
  uint8_t family = 0;
  std::string table, set;
  std::vector<uint8_t> key;
  uint64_t timeout_ms = 0;
  int elements = 0;
};

Parsed parse(const std::vector<char>& buf, size_t len) {
  Parsed out;
  const nlmsghdr* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
  int left = static_cast<int>(len);
  while (mnl_nlmsg_ok(nlh, left)) {
    out.types.push_back(nlh->nlmsg_type);
    out.seqs.push_back(nlh->nlmsg_seq);
    if (nlh->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM)) {
      out.elem_flags = nlh->nlmsg_flags;
      out.family = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh))->nfgen_family;
      nftnl_set* s = nftnl_set_alloc();
      EXPECT_EQ(nftnl_set_elems_nlmsg_parse(nlh, s), 0);
      out.table = nftnl_set_get_str(s, NFTNL_SET_TABLE);
      out.set = nftnl_set_get_str(s, NFTNL_SET_NAME);
      nftnl_set_elem_foreach(
          s,
          [](nftnl_set_elem* e, void* data) {
            auto* p = static_cast<Parsed*>(data);
            uint32_t klen = 0;
            auto* k = static_cast<const uint8_t*>(nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &klen));
            p->key.assign(k, k + klen);
            p->timeout_ms = nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_TIMEOUT);
            ++p->elements;
            return 0;
          },
          &out);
      nftnl_set_free(s);
    }
    nlh = mnl_nlmsg_next(nlh, &left);
  }
  EXPECT_EQ(left, 0);
  return out;
}

TEST(NftNetlink, Ipv4ElementBatch) {
  std::vector<char> buf(kSetElemBatchMax);
  size_t n = build_setelem_batch(buf, 1000, "gh_table", "blocked4",
                                 *IpAddress::parse("198.18.0.10"), 600'000);
  ASSERT_GT(n, 0u);
  Parsed p = parse(buf, n);
  ASSERT_EQ(p.types.size(), 3u);
  EXPECT_EQ(p.types[0], NFNL_MSG_BATCH_BEGIN);
  EXPECT_EQ(p.types[1], (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM);
  EXPECT_EQ(p.types[2], NFNL_MSG_BATCH_END);
  EXPECT_EQ(p.seqs, (std::vector<uint32_t>{1000, 1001, 1002}));
  EXPECT_EQ(p.elem_flags & (NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK),
            NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK);
  EXPECT_EQ(p.family, NFPROTO_INET);
  EXPECT_EQ(p.table, "gh_table");
  EXPECT_EQ(p.set, "blocked4");
  EXPECT_EQ(p.elements, 1);
  EXPECT_EQ(p.key, (std::vector<uint8_t>{198, 18, 0, 10}));
  EXPECT_EQ(p.timeout_ms, 600'000u);
}

TEST(NftNetlink, Ipv6ElementBatch) {
  std::vector<char> buf(kSetElemBatchMax);
  size_t n = build_setelem_batch(buf, 7, "glasshouse", "blocked6",
                                 *IpAddress::parse("2001:db8::1:2"), 1000);
  ASSERT_GT(n, 0u);
  Parsed p = parse(buf, n);
  ASSERT_EQ(p.key.size(), 16u);
  std::vector<uint8_t> want = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2};
  EXPECT_EQ(p.key, want);
  EXPECT_EQ(p.set, "blocked6");
  EXPECT_EQ(p.timeout_ms, 1000u);
}

TEST(NftNetlink, BufferTooSmall) {
  std::vector<char> buf(kSetElemBatchMax - 1);
  EXPECT_EQ(build_setelem_batch(buf, 1, "t", "s", *IpAddress::parse("198.18.0.1"), 1), 0u);
}

TEST(NftNetlink, AlertCarriesTheBlockLatency) {
  Alert a;
  a.src = *IpAddress::parse("198.18.0.10");
  a.blocked = true;
  EXPECT_EQ(to_json(a).find("block_latency_us"), std::string::npos);
  a.block_latency = Alert::Latency{120, 35, 80, 40, 300};
  EXPECT_NE(to_json(a).find(R"("block_latency_us":{"probe_wait":120,"challenge_rtt":35,)"
                            R"("answer_wait":80,"nft":40,"total":300})"),
            std::string::npos)
      << to_json(a);
}

}  // namespace
}  // namespace gh::detect
