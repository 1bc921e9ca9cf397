#include "cli/service_options.h"

#include "cli/scan_options.h"
#include "core/error.h"

namespace gh {

void ServiceArgs::add(CLI::App& app) {
  app.add_flag("--service-version", version,
               "-sV: name the service and version behind each open TCP (and, with -sU, UDP) port");
  app.add_flag("--aggressive", aggressive, "-A: -sV and the OS hint (-O)");
  app.add_flag("--os-hint", os,
               "-O: an OS hint from the SYN-ACKs of -sS (TTL, window, options); a hint, "
               "not nmap's OS detection");
  app.add_option("--version-intensity", intensity,
                 "-sV: 0 (likely probes only) to 9 (every probe); default 7")
      ->check(CLI::Range(0, 9));
  app.add_flag("--version-light", light, "-sV: --version-intensity 2");
  app.add_flag("--version-all", all, "-sV: --version-intensity 9");
  app.add_option("--service-probes", probes_file,
                 "-sV: nmap's probe file to add to ours (default "
                 "/usr/share/nmap/nmap-service-probes when present; none: ours only)");
  app.add_option("--version-timeout", port_timeout,
                 "-sV: the longest one port is probed (default 15s)");
  app.add_option("--version-max-time", max_time,
                 "-sV: the longest the whole -sV stage runs (default: from the port count)");
}

void ServiceArgs::apply(ScanConfig& c) const {
  ServiceSpec& s = c.service;
  s.enabled = version || aggressive;
  s.os_hint = os || aggressive;
  if (light + all + (intensity >= 0) > 1)
    throw UsageError("choose one of --version-intensity, --version-light and --version-all");
  if (intensity >= 0) s.intensity = intensity;
  if (light) s.intensity = 2;
  if (all) s.intensity = 9;
  s.probes_file = probes_file;
  if (!port_timeout.empty()) {
    s.port_budget = parse_time_spec(port_timeout, "--version-timeout");
    if (s.port_budget.count() <= 0) throw UsageError("--version-timeout must be positive");
  }
  if (!max_time.empty()) {
    s.stage_budget = parse_time_spec(max_time, "--version-max-time");
    if (s.stage_budget.count() <= 0) throw UsageError("--version-max-time must be positive");
  }
  bool tuned = light || all || intensity >= 0 || !probes_file.empty() || !port_timeout.empty() ||
               !max_time.empty();
  if (tuned && !s.enabled) throw UsageError("--version-* and --service-probes need -sV (or -A)");
  if (s.enabled && c.type == ScanType::List) throw UsageError("-sV cannot go with -sL");
  if (s.enabled && c.dry_run) throw UsageError("-sV cannot go with --dry-run");
}

}  // namespace gh
