// libFuzzer target: the resume file (decode_checkpoint). Each input is decoded twice: as it is
// (the checksums and HMAC refuse nearly everything), and resealed with the key first
// (reseal_checkpoint), so the fuzzer reaches the decoder behind the HMAC, as a key holder who
// writes a hostile file would. Bad files raise UsageError; anything else is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "fuzz_util.h"
#include "scan/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 1 << 16) return 0;
  static const gh::CheckpointKey key = [] {
    gh::CheckpointKey k{};
    for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(i * 7 + 1);
    return k;
  }();
  std::string bytes(gh::fuzz::text(data, size));
  try {
    (void)gh::decode_checkpoint(bytes, key, "fuzz.resume");
  } catch (const gh::UsageError&) {
  }
  if (bytes.size() >= 88) {
    gh::reseal_checkpoint(bytes, key);
    try {
      gh::Checkpoint c = gh::decode_checkpoint(bytes, key, "fuzz.resume");
      if (c.progress.answered.size() != (c.slice_size + 63) / 64) __builtin_trap();
    } catch (const gh::UsageError&) {
    }
  }
  return 0;
}
