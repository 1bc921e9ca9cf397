// libFuzzer target for the packet parser (src/net/packet.h) and what reads its output.
//
// Not part of the CMake build. Build and run from the repository root with clang:
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
//       -Isrc fuzz/fuzz_packet.cpp src/net/*.cpp src/core/address.cpp src/core/error.cpp \
//       -lfmt -o fuzz_packet
//   mkdir -p fuzz-corpus && ./fuzz_packet -max_len=2048 fuzz-corpus
//
// The first input byte picks nothing: every input is parsed as each LinkType, so one corpus
// entry exercises all five link layers. Any read out of bounds is an ASan report; the checks
// below trap on a ParsedPacket that points outside the frame it came from.
#include <cstddef>
#include <cstdint>
#include <span>

#include "net/describe.h"
#include "net/packet.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gh::net;
  const std::span<const uint8_t> frame(data, size);
  for (LinkType link : {LinkType::Ethernet, LinkType::RawIp, LinkType::LinuxSll,
                        LinkType::LinuxSll2, LinkType::Loopback}) {
    ParsedPacket p;
    if (!parse_packet(frame, link, p)) continue;
    if (p.ip_version != 4 && p.ip_version != 6) __builtin_trap();
    if (size_t{p.l4_offset} + p.l4_len > size) __builtin_trap();
    if (p.l4_parsed && size_t{p.payload_offset} + p.payload_len > size) __builtin_trap();
    if (p.tcp.options.len > p.tcp.options.raw.size()) __builtin_trap();
    (void)verify_l4_checksum(frame, p);
    (void)verify_ipv4_header_checksum(frame, p);
    (void)describe_packet(p);
  }
  return 0;
}
