// Which port states an output writes (masscan's --show). A plain value in ScanConfig, read by
// the sinks; engines never see it.
#pragma once

#include <string_view>

#include "core/types.h"

namespace gh {

// Which states a sink writes (masscan's --show): open only by default.
struct ShowFilter {
  bool open = true;
  bool closed = false;
  bool filtered = false;  // filtered, open|filtered, closed|filtered, unfiltered
  bool accepts(PortState s) const;
};

// Parses a --show value: a comma-separated list of "open", "closed", "filtered" and "all"
// (surrounding spaces allowed). As in masscan, the list adds to the default: open is always shown,
// so "--show closed" shows open and closed ports. Throws UsageError naming the bad item (or saying
// that the value or an item is empty).
ShowFilter parse_show(std::string_view value);

}  // namespace gh
