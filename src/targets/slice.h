// A slice of the permutation's positions: the probes one shard (--shards N --shard I), or one send
// thread of a shard, owns.
//
// Positions p in [0, n) with p % stride == offset, numbered k = 0, 1, ... in order: p = offset +
// k * stride. Interleaving (zmap's sharding) rather than cutting [0, n) into blocks keeps every
// slice spread over the whole permuted space, so each shard's traffic is as evenly mixed as the
// whole scan's. Slices with the same stride and offsets 0..stride-1 are disjoint and together cover
// [0, n) exactly; a slice of a slice is a slice (thread t of T in shard I of N: stride N*T, offset
// I + N*t).
#pragma once

#include <cstdint>
#include <optional>

namespace gh {

struct Slice {
  uint64_t n = 0;       // positions in the whole permutation
  uint64_t stride = 1;  // >= 1
  uint64_t offset = 0;  // < stride

  // The whole of [0, n).
  static Slice all(uint64_t n) { return Slice{n, 1, 0}; }
  // Shard `index` (0-based) of `count`, as --shards/--shard name it.
  static Slice shard(uint64_t n, uint64_t count, uint64_t index) { return Slice{n, count, index}; }

  // Positions in the slice.
  uint64_t size() const { return offset >= n ? 0 : (n - offset - 1) / stride + 1; }
  // The k-th position, for k < size().
  uint64_t position(uint64_t k) const { return offset + k * stride; }
  // k such that position(k) == p, when p belongs to the slice.
  std::optional<uint64_t> local(uint64_t p) const {
    if (p >= n || p % stride != offset) return std::nullopt;
    return (p - offset) / stride;
  }
  // Part `part` of `parts` of this slice (the send threads of one shard): its positions are this
  // slice's positions k with k % parts == part.
  Slice part(uint64_t parts, uint64_t part) const {
    return Slice{n, stride * parts, offset + stride * part};
  }
};

}  // namespace gh
