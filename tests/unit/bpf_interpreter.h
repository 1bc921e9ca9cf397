// A small classic-BPF interpreter for the unit tests of receive filters (io/bpf.h): it runs a
// program over a frame with the kernel's semantics for the instructions the filter builder emits
// (loads past the end reject the packet) and fails the test on any other instruction.
#pragma once

#include <linux/filter.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <vector>

namespace gh::test {

// Returns the number of bytes to keep (0 = drop).
inline uint32_t run_bpf(const std::vector<sock_filter>& prog, std::span<const uint8_t> pkt) {
  uint32_t a = 0, x = 0;
  auto load = [&](size_t at, size_t size, uint32_t& out) {
    if (at + size > pkt.size()) return false;
    out = 0;
    for (size_t i = 0; i < size; ++i) out = out << 8 | pkt[at + i];
    return true;
  };
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const sock_filter& f = prog[pc];
    switch (BPF_CLASS(f.code)) {
      case BPF_LD: {
        const size_t size = BPF_SIZE(f.code) == BPF_W ? 4 : BPF_SIZE(f.code) == BPF_H ? 2 : 1;
        size_t at;
        if (BPF_MODE(f.code) == BPF_ABS)
          at = f.k;
        else if (BPF_MODE(f.code) == BPF_IND)
          at = size_t{x} + f.k;
        else {
          ADD_FAILURE() << "unexpected load mode at " << pc;
          return 0;
        }
        if (!load(at, size, a)) return 0;
        break;
      }
      case BPF_LDX: {
        // Only ldxb 4*([k]&0xf): the IPv4 header's length.
        if (BPF_MODE(f.code) != BPF_MSH || BPF_SIZE(f.code) != BPF_B) {
          ADD_FAILURE() << "unexpected LDX at " << pc;
          return 0;
        }
        uint32_t b;
        if (!load(f.k, 1, b)) return 0;
        x = (b & 0xf) * 4;
        break;
      }
      case BPF_ALU:
        if (BPF_OP(f.code) != BPF_AND || BPF_SRC(f.code) != BPF_K) {
          ADD_FAILURE() << "unexpected ALU op at " << pc;
          return 0;
        }
        a &= f.k;
        break;
      case BPF_JMP: {
        size_t skip;
        if (BPF_OP(f.code) == BPF_JA)
          skip = f.k;
        else if (BPF_SRC(f.code) != BPF_K) {
          ADD_FAILURE() << "unexpected jump source at " << pc;
          return 0;
        } else if (BPF_OP(f.code) == BPF_JEQ)
          skip = a == f.k ? f.jt : f.jf;
        else if (BPF_OP(f.code) == BPF_JGT)
          skip = a > f.k ? f.jt : f.jf;
        else if (BPF_OP(f.code) == BPF_JGE)
          skip = a >= f.k ? f.jt : f.jf;
        else if (BPF_OP(f.code) == BPF_JSET)
          skip = (a & f.k) != 0 ? f.jt : f.jf;
        else {
          ADD_FAILURE() << "unexpected jump at " << pc;
          return 0;
        }
        if (pc + 1 + skip >= prog.size()) {
          ADD_FAILURE() << "jump out of the program at " << pc;
          return 0;
        }
        pc += skip;
        break;
      }
      case BPF_RET:
        return f.k;
      default:
        ADD_FAILURE() << "unexpected instruction class at " << pc;
        return 0;
    }
  }
  ADD_FAILURE() << "fell off the end of the program";
  return 0;
}

inline bool bpf_accepts(const std::vector<sock_filter>& prog, std::span<const uint8_t> frame) {
  return run_bpf(prog, frame) != 0;
}

}  // namespace gh::test
