// libFuzzer target: the resume file (decode_checkpoint). Each input is decoded twice: as it is
// (the checksums and HMAC refuse nearly everything), and resealed with the key first
// (reseal_checkpoint), so the fuzzer reaches the decoder behind the HMAC, as a key holder who
// writes a hostile file would; the result table inside (and the input itself as a table) goes
// through decode_table. Bad files raise UsageError; anything else is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "fuzz_util.h"
#include "output/table_codec.h"
#include "scan/checkpoint.h"

// The table's own ports-per-host field (bytes 8..15) sizes the table it is decoded into, so the
// decoder goes past that check. A table it accepts in the current format encodes back to the
// same bytes; an older one (GHTABLE1, read for old resume files) is written in the current
// format, which must then decode and encode back to itself.
static void decode_table_bytes(std::string_view t) {
  uint64_t ports = 0;
  for (size_t i = 0; i < 8 && 8 + i < t.size(); ++i)
    ports |= uint64_t{static_cast<uint8_t>(t[8 + i])} << (8 * i);
  gh::ResultTable table(ports);
  try {
    gh::decode_table(t, table, "fuzz.resume");
  } catch (const gh::UsageError&) {
    return;
  }
  const std::string again = gh::encode_table(table);
  if (t.substr(0, 8) != "GHTABLE1") {
    if (again != t) __builtin_trap();
    return;
  }
  gh::ResultTable current(ports);
  try {
    gh::decode_table(again, current, "fuzz.resume");
  } catch (const gh::UsageError&) {
    __builtin_trap();  // we wrote it: it must read
  }
  if (gh::encode_table(current) != again) __builtin_trap();
}

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
      decode_table_bytes(c.meta.table);
    } catch (const gh::UsageError&) {
    }
  }
  // The result table a resumed run restores (output/table_codec.h), fed directly too.
  decode_table_bytes(gh::fuzz::text(data, size));
  return 0;
}
