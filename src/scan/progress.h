// How far a SYN scan has got, in the terms a checkpoint needs to continue it (--resume).
//
// The engine owns a Slice of the permutation (targets/slice.h: the whole scan, or one shard) and
// one "answered" bit per position k of that slice (AnsweredSet): set once the probe at
// space.at(perm.at(slice.position(k))) has had its verdict reported through on_result. Pass 0
// sends the slice in order; `cursor` is how many of its positions pass 0 has sent. Passes 1.. are
// retries of the positions whose bit is still clear.
//
// The engine hands an EngineProgress to EngineContext::checkpoint from its own thread, between
// batches, at a moment when every set bit's verdict has already gone to on_result, so a
// checkpoint written then (outputs flushed first) is consistent with the outputs: resuming from it
// re-sends exactly the probes whose verdicts were not yet written.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace gh {

// Per-pass counts, from which the loss and the completeness estimate are computed
// (scan/completeness.h).
struct PassCounts {
  uint64_t sent = 0;     // probes sent in this pass
  uint64_t settled = 0;  // verdicts reached from replies to this pass's probes
};

struct EngineProgress {
  uint64_t slice_size = 0;             // positions in the engine's slice (bits below)
  uint32_t pass = 0;                   // the pass under way (0: first)
  uint64_t cursor = 0;                 // pass 0: positions [0, cursor) of the slice were sent
  std::span<const uint64_t> answered;  // AnsweredSet words: (slice_size + 63) / 64 of them
  std::span<const PassCounts> passes;  // one per pass begun so far
};

// What a resumed engine starts from (read from a checkpoint by the scanner).
struct EngineResume {
  uint32_t pass = 0;
  uint64_t cursor = 0;
  std::vector<uint64_t> answered;  // as EngineProgress::answered
  std::vector<PassCounts> passes;
};

}  // namespace gh
