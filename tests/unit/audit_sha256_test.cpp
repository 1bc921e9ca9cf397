// SHA-256 and HMAC-SHA-256 through OpenSSL (audit/sha256.h): the published test vectors, the
// streamed forms equal to the one-shot ones, and the constant-time comparison.
#include "audit/sha256.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gh {
namespace {

std::string hmac_hex(const std::vector<uint8_t>& key, const std::vector<std::string>& pieces) {
  HmacSha256Stream mac(key);
  for (const auto& p : pieces) mac.update(p);
  return to_hex(mac.finish());
}

TEST(Sha256, KnownDigests) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, StreamEqualsOneShot) {
  std::string text = "glasshouse resume file body, in three pieces";
  Sha256Stream s;
  s.update(text.substr(0, 5));
  s.update("");
  s.update(text.substr(5));
  EXPECT_EQ(s.finish(), sha256(text));
}

// RFC 4231, test cases 1, 2 and 6 (a key longer than the block).
TEST(HmacSha256, Rfc4231Vectors) {
  EXPECT_EQ(hmac_hex(std::vector<uint8_t>(20, 0x0b), {"Hi There"}),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(hmac_hex({'J', 'e', 'f', 'e'}, {"what do ya want ", "for nothing?"}),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hmac_hex(std::vector<uint8_t>(131, 0xaa),
                     {"Test Using Larger Than Block-Size Key - Hash Key First"}),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(HmacSha256, KeyMatters) {
  EXPECT_NE(hmac_hex(std::vector<uint8_t>(32, 1), {"x"}),
            hmac_hex(std::vector<uint8_t>(32, 2), {"x"}));
}

TEST(SameBytesConstantTime, ComparesContentsAndSizes) {
  EXPECT_TRUE(same_bytes_constant_time("", ""));
  EXPECT_TRUE(same_bytes_constant_time("abc", "abc"));
  EXPECT_FALSE(same_bytes_constant_time("abc", "abd"));
  EXPECT_FALSE(same_bytes_constant_time("abc", "ab"));
  EXPECT_FALSE(same_bytes_constant_time(std::string("a\0b", 3), std::string("a\0c", 3)));
}

}  // namespace
}  // namespace gh
