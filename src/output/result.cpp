#include "output/result.h"

#include <fmt/format.h>

namespace gh {

std::string format_mac(const MacBytes& mac) {
  return fmt::format("{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}", mac[0], mac[1], mac[2], mac[3],
                     mac[4], mac[5]);
}

std::string os_hint_text(const OsHint& h) {
  return fmt::format("OS hint: {} (evidence: {}; SYN-ACK from port {})", h.name, h.evidence,
                     h.facts.port);
}

}  // namespace gh
