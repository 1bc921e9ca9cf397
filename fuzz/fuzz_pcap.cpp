// libFuzzer target: a capture file as `glasshouse watch -r FILE` reads it: Capture::open_file
// (libpcap: pcap and pcapng), every record through make_event() and the detector. A file that
// is not a capture raises UsageError, a read error RuntimeError; anything else is a bug.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "detect/capture.h"
#include "detect/decode.h"
#include "detect/detector.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gh::detect;
  if (size > 1 << 18) return 0;
  gh::fuzz::MemFile file(data, size);
  try {
    Capture cap = Capture::open_file(file.path());
    PrefixSet local;
    local.add(*Prefix::parse("198.18.0.0/15"));
    local.add(*Prefix::parse("2001:db8::/32"));
    DetectConfig cfg;
    cfg.max_sources = 64;
    cfg.max_pending = 256;
    cfg.max_flows = 256;
    Detector det(cfg, local, [](const Alert&) {});
    const uint8_t* frame = nullptr;
    size_t len = 0;
    int64_t ts = 0, last = 0;
    while (cap.next(frame, len, ts) == Capture::Next::Packet) {
      PacketEvent ev;
      if (make_event(frame, len, cap.link_type(), ts, ev) == Decode::Ok) det.on_packet(ev);
      last = ts;
    }
    det.finish(last, true);
  } catch (const gh::UsageError&) {
  } catch (const gh::RuntimeError&) {
  }
  return 0;
}
