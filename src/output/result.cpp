#include "output/result.h"

#include <fmt/format.h>

namespace gh {

std::string format_mac(const MacBytes& mac) {
  return fmt::format("{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}", mac[0], mac[1], mac[2], mac[3],
                     mac[4], mac[5]);
}

}  // namespace gh
