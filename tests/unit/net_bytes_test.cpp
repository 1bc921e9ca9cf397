#include "net/bytes.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "net/headers.h"

namespace gh::net {
namespace {

TEST(BytesEndian, Be16AndBe32StoreNetworkOrder) {
  be16 a{};
  a.set(0x1234);
  EXPECT_EQ(a.b[0], 0x12);
  EXPECT_EQ(a.b[1], 0x34);
  EXPECT_EQ(a.get(), 0x1234);

  be32 b{};
  b.set(0xC6120001);  // 198.18.0.1
  EXPECT_EQ(b.b[0], 198);
  EXPECT_EQ(b.b[1], 18);
  EXPECT_EQ(b.b[2], 0);
  EXPECT_EQ(b.b[3], 1);
  EXPECT_EQ(b.get(), 0xC6120001u);
}

TEST(BytesEndian, LoadAndStoreHelpers) {
  uint8_t buf[6] = {};
  store_be16(buf, 0xBEEF);
  store_be32(buf + 2, 0xDEADC0DE);
  const uint8_t want[6] = {0xBE, 0xEF, 0xDE, 0xAD, 0xC0, 0xDE};
  EXPECT_EQ(0, std::memcmp(buf, want, 6));
  EXPECT_EQ(load_be16(buf), 0xBEEF);
  EXPECT_EQ(load_be32(buf + 2), 0xDEADC0DEu);
}

TEST(BytesEndian, WireStructsHaveWireSizesAndNoAlignment) {
  EXPECT_EQ(sizeof(EthernetHeader), 14u);
  EXPECT_EQ(sizeof(Ipv4Header), 20u);
  EXPECT_EQ(sizeof(Ipv6Header), 40u);
  EXPECT_EQ(sizeof(TcpHeader), 20u);
  EXPECT_EQ(sizeof(UdpHeader), 8u);
  EXPECT_EQ(sizeof(IcmpHeader), 8u);
  EXPECT_EQ(sizeof(LinuxSllHeader), 16u);
  EXPECT_EQ(sizeof(LinuxSll2Header), 20u);
  EXPECT_EQ(alignof(TcpHeader), 1u);
  EXPECT_TRUE(is_wire_struct_v<Ipv6Header>);
}

TEST(BytesReader, ReadsBigEndianInOrder) {
  const std::array<uint8_t, 9> data = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09};
  Reader r(data);
  uint8_t a = 0;
  uint16_t b = 0;
  uint32_t c = 0;
  ASSERT_TRUE(r.read_u8(a));
  ASSERT_TRUE(r.read_u16(b));
  ASSERT_TRUE(r.read_u32(c));
  EXPECT_EQ(a, 0x01);
  EXPECT_EQ(b, 0x0203);
  EXPECT_EQ(c, 0x04050607u);
  EXPECT_EQ(r.offset(), 7u);
  EXPECT_EQ(r.remaining(), 2u);
  ASSERT_EQ(r.rest().size(), 2u);
  EXPECT_EQ(r.rest()[0], 0x08);
  EXPECT_TRUE(r.ok());
}

TEST(BytesReader, ShortReadFailsWithoutMovingAndSticks) {
  const std::array<uint8_t, 3> data = {0xAA, 0xBB, 0xCC};
  Reader r(data);
  uint8_t one = 0;
  ASSERT_TRUE(r.read_u8(one));
  uint32_t v = 0x5555;
  EXPECT_FALSE(r.read_u32(v));  // only 2 left
  EXPECT_EQ(v, 0x5555u);        // untouched
  EXPECT_EQ(r.offset(), 1u);    // did not move
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.failed());
  // Sticky: even a read that would fit now fails.
  uint8_t b = 0;
  EXPECT_FALSE(r.read_u8(b));
  EXPECT_FALSE(r.peek_u8(b));
  EXPECT_EQ(r.offset(), 1u);
}

TEST(BytesReader, SkipPeekAndBytes) {
  const std::array<uint8_t, 6> data = {1, 2, 3, 4, 5, 6};
  Reader r(data);
  uint8_t p = 0;
  ASSERT_TRUE(r.peek_u8(p));
  EXPECT_EQ(p, 1);
  EXPECT_EQ(r.offset(), 0u);
  ASSERT_TRUE(r.skip(2));
  std::span<const uint8_t> s;
  ASSERT_TRUE(r.read_bytes(3, s));
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0], 3);
  EXPECT_EQ(s[2], 5);
  uint8_t copy[1] = {};
  ASSERT_TRUE(r.copy_bytes(copy, 1));
  EXPECT_EQ(copy[0], 6);
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_TRUE(r.skip(0));
  EXPECT_FALSE(r.skip(1));
  EXPECT_FALSE(r.ok());
}

TEST(BytesReader, HugeSkipDoesNotWrap) {
  const std::array<uint8_t, 4> data = {1, 2, 3, 4};
  Reader r(data);
  ASSERT_TRUE(r.skip(1));
  EXPECT_FALSE(r.skip(SIZE_MAX));
  EXPECT_EQ(r.offset(), 1u);
  std::span<const uint8_t> s;
  Reader r2(data);
  EXPECT_FALSE(r2.read_bytes(SIZE_MAX - 1, s));
}

TEST(BytesReader, SubReaderIsBoundedAndConsumes) {
  const std::array<uint8_t, 6> data = {0x10, 0x20, 0x30, 0x40, 0x50, 0x60};
  Reader r(data);
  ASSERT_TRUE(r.skip(1));
  Reader sub = r.sub(3);
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(sub.remaining(), 3u);
  EXPECT_EQ(r.offset(), 4u);
  uint16_t v = 0;
  ASSERT_TRUE(sub.read_u16(v));
  EXPECT_EQ(v, 0x2030);
  uint16_t w = 0;
  EXPECT_FALSE(sub.read_u16(w));  // 0x40 is the sub-reader's last byte; 0x50 is outside it
  EXPECT_TRUE(r.ok());            // the parent is unaffected
  uint8_t next = 0;
  ASSERT_TRUE(r.read_u8(next));
  EXPECT_EQ(next, 0x50);

  Reader too_big = r.sub(5);
  EXPECT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.remaining(), 0u);
  EXPECT_FALSE(r.ok());
}

TEST(BytesReader, ReadStructCopiesWireLayout) {
  const std::array<uint8_t, 9> data = {0x9c, 0x40, 0x00, 0x50, 0x00, 0x10, 0xab, 0xcd, 0xff};
  Reader r(data);
  UdpHeader u;
  ASSERT_TRUE(r.read_struct(u));
  EXPECT_EQ(u.sport.get(), 40000);
  EXPECT_EQ(u.dport.get(), 80);
  EXPECT_EQ(u.length.get(), 16);
  EXPECT_EQ(u.checksum.get(), 0xabcd);
  UdpHeader again;
  EXPECT_FALSE(r.read_struct(again));
  EXPECT_EQ(r.offset(), 8u);
}

TEST(BytesReader, EmptyReaderFailsEveryRead) {
  Reader r;
  uint8_t a;
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_TRUE(r.skip(0));
  EXPECT_FALSE(r.read_u8(a));
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace gh::net
