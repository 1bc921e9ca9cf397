// The -sV block of `glasshouse scan`'s options (kept apart from scan_options.cpp, which every
// feature extends): --version-intensity, --version-light, --version-all, --service-probes,
// --version-timeout, --version-max-time, -A and -O. add() declares them on the CLI11 app;
// apply() checks them and fills ScanConfig::service (UsageError on bad values).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "scan/config.h"

namespace gh {

struct ServiceArgs {
  bool version = false, aggressive = false, os = false, light = false, all = false;
  int intensity = -1;
  std::string probes_file, port_timeout, max_time;

  void add(CLI::App& app);
  void apply(ScanConfig& c) const;
};

}  // namespace gh
