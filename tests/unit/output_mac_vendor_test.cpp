// MAC vendors from IEEE registry files (a small registry written here, in the format of Debian's
// ieee-data): the longest block wins, quoted names, unknown and locally administered addresses.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "output/mac_vendor.h"

namespace gh {
namespace {

namespace fs = std::filesystem;

class MacVendorFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("gh-mac-vendor-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    write("oui.csv",
          "Registry,Assignment,Organization Name,Organization Address\r\n"
          "MA-L,002272,American Micro-Fuel Device Corp.,2181 Buchanan Loop Ferndale WA US 98248\r\n"
          "MA-L,00D0EF,\"IGT, Inc.\",9295 Prototype Drive Reno NV US 89511\r\n"
          "MA-L,70B3D5,IEEE Registration Authority,445 Hoes Lane Piscataway NJ US 08554\r\n"
          "MA-L,ABCDEF,,no name\r\n"
          "MA-L,0022,Short Assignment,\r\n"
          "MA-L,002272,A Later Duplicate,\r\n");
    write("mam.csv",
          "Registry,Assignment,Organization Name,Organization Address\n"
          "MA-M,70B3D51,Twenty-Eight Bits Ltd,\n");
    write("oui36.csv",
          "Registry,Assignment,Organization Name,Organization Address\n"
          "MA-S,70B3D5123,Thirty-Six Bits GmbH  ,\n");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const char* name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  fs::path dir_;
};

TEST_F(MacVendorFiles, TheLongestBlockWinsAndNamesAreParsedAsTheRegistryWritesThem) {
  MacVendors v(dir_.string());
  ASSERT_TRUE(v.loaded());
  EXPECT_EQ(v.size(), 5u);  // the header, the empty name and the short assignment are not blocks
  EXPECT_EQ(v.vendor({0x00, 0x22, 0x72, 0x01, 0x02, 0x03}), "American Micro-Fuel Device Corp.");
  EXPECT_EQ(v.vendor({0x00, 0xd0, 0xef, 0x00, 0x00, 0x01}), "IGT, Inc.");
  EXPECT_EQ(v.vendor({0x70, 0xb3, 0xd5, 0x12, 0x34, 0x56}), "Thirty-Six Bits GmbH");
  EXPECT_EQ(v.vendor({0x70, 0xb3, 0xd5, 0x1f, 0xff, 0xff}), "Twenty-Eight Bits Ltd");
  EXPECT_EQ(v.vendor({0x70, 0xb3, 0xd5, 0x2f, 0xff, 0xff}), "IEEE Registration Authority");
  EXPECT_EQ(v.vendor({0xab, 0xcd, 0xef, 0x00, 0x00, 0x00}), "Unknown");  // its name is empty
  EXPECT_EQ(v.vendor({0x02, 0x00, 0x00, 0x00, 0x00, 0x01}), "Unknown");
}

TEST_F(MacVendorFiles, TheFirstLookupsReadTheFilesAndAgreeWithTheIndex) {
  // The first lookups read the files line by line (no index); later ones use the index. Both
  // must give what the index gives: the longest block, the first line of a key, and the
  // shorter block when the longer one's name is blank.
  const std::array<uint8_t, 6> macs[] = {
      {0x00, 0x22, 0x72, 0x01, 0x02, 0x03}, {0x00, 0xd0, 0xef, 0x00, 0x00, 0x01},
      {0x70, 0xb3, 0xd5, 0x12, 0x34, 0x56}, {0x70, 0xb3, 0xd5, 0x1f, 0xff, 0xff},
      {0x70, 0xb3, 0xd5, 0x2f, 0xff, 0xff}, {0xab, 0xcd, 0xef, 0x00, 0x00, 0x00},
      {0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
  MacVendors indexed(dir_.string());
  ASSERT_EQ(indexed.size(), 5u);  // size() indexes the registry
  MacVendors v(dir_.string());
  for (int round = 0; round < 3; ++round)  // 21 lookups: the first 7 without the index
    for (const auto& mac : macs) EXPECT_EQ(v.vendor(mac), indexed.vendor(mac)) << round;
  EXPECT_EQ(v.vendor(macs[0]), "American Micro-Fuel Device Corp.");
  EXPECT_EQ(v.vendor(macs[2]), "Thirty-Six Bits GmbH");
}

TEST(MacVendors, AMissingRegistryIsUnknownAndSaysWhy) {
  MacVendors v("/nonexistent/gh-ieee-data");
  EXPECT_FALSE(v.loaded());
  EXPECT_EQ(v.vendor({0x00, 0x22, 0x72, 0x01, 0x02, 0x03}), "Unknown");
  EXPECT_NE(v.missing_note().find("apt-get install ieee-data"), std::string::npos);
}

}  // namespace
}  // namespace gh
