#include "cli/watch_command.h"
#include "cli/cli_checks.h"

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <charconv>
#include <cmath>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "auth/watch_auth.h"
#include "core/error.h"
#include "detect/watch.h"

namespace gh {

namespace {

using detect::Prefix;
using detect::PrefixSet;

// "90" (seconds), "500ms", "30s", "10m", "2h" -> microseconds. UsageError naming the option.
int64_t parse_duration(const std::string& text, const char* option) {
  double v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  std::string_view unit(p, text.data() + text.size() - p);
  double scale = unit.empty() || unit == "s" ? 1e6
                 : unit == "ms"              ? 1e3
                 : unit == "m"               ? 60e6
                 : unit == "h"               ? 3600e6
                                             : -1;
  if (ec != std::errc() || p == text.data() || scale < 0 || !(v >= 0) || !std::isfinite(v))
    throw UsageError(
        fmt::format("{}: '{}' is not a duration (e.g. 500ms, 30s, 10m, 1h)", option, text));
  return static_cast<int64_t>(v * scale);
}

void add_prefix(PrefixSet& set, const std::string& text, const char* option) {
  auto p = Prefix::parse(text);
  if (!p) throw UsageError(fmt::format("{}: '{}' is not an address or a prefix", option, text));
  set.add(*p);
}

// An allowlist file: one address or prefix per line; '#' starts a comment.
void load_allow_file(PrefixSet& set, const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError(fmt::format("--allow-file: cannot read '{}'", path));
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    size_t a = line.find_first_not_of(" \t\r"), b = line.find_last_not_of(" \t\r");
    if (a == std::string::npos) continue;
    std::string item = line.substr(a, b - a + 1);
    if (!Prefix::parse(item))
      throw UsageError(fmt::format("--allow-file {} line {}: '{}' is not an address or a prefix",
                                   path, n, item));
    set.add(*Prefix::parse(item));
  }
}

}  // namespace

int run_watch_command(int argc, char** argv) {
  detect::WatchOptions o;
  detect::DetectConfig& d = o.detect;
  CLI::App app{
      "glasshouse watch: detect port scans (fast, slow, stealthy, horizontal) and "
      "optionally block them",
      "glasshouse watch"};
  app.set_help_flag("-h,--help", "Print this help and exit");
  app.footer(
      "Durations: 500ms, 30s, 10m, 1h (a bare number is seconds).\n"
      "Exactly one of -i and -r. Signals: SIGINT/SIGTERM stop, SIGHUP reopens --alerts, SIGUSR1 "
      "prints the counters.");

  std::vector<std::string> locals, allows;
  std::string allow_file, reply_timeout = "3s", window = "3s", update_interval = "10s",
                          idle_end = "10m", block_for = "10m", stats;
  auto* iface = app.add_option("-i,--interface", o.interface, "Capture live on this interface");
  auto* read = app.add_option("-r,--read", o.read_file, "Read a pcap/pcapng file instead");
  iface->excludes(read);
  one_value_per_use(app.add_option(
      "--local", locals,
      "Protected addresses or prefixes, repeatable (default with -i: this host's "
      "addresses and the networks routed through its other interfaces; required with -r)"));
  app.add_option("--alerts", o.alerts_path, "Append alerts to FILE as JSON Lines");
  app.add_flag("--syslog", o.syslog, "Also send the alert lines to syslog (daemon facility)");
  app.add_flag("-q,--quiet", o.quiet, "No alert lines on stderr");
  app.add_option("--max-sources", d.max_sources, "Remote sources tracked at most (LRU eviction)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 24));
  app.add_option("--max-pending", d.max_pending, "Attempts awaiting a reply tracked at most")
      ->check(CLI::Range(size_t{1}, size_t{1} << 24));
  app.add_option("--theta0", d.trw.theta0, "TRW: P(success) for a benign source (0.8)");
  app.add_option("--theta1", d.trw.theta1, "TRW: P(success) for a scanner (0.2)");
  app.add_option("--detection-rate", d.trw.p_detect, "TRW: target detection probability (0.99)");
  app.add_option("--false-positive-rate", d.trw.p_false,
                 "TRW: target false-positive probability (0.01)");
  app.add_option("--reply-timeout", reply_timeout, "An attempt unanswered this long failed (3s)");
  app.add_option("--window", window, "Window of the fast vertical/horizontal rules (3s)");
  app.add_option("--vertical-threshold", d.vertical_threshold,
                 "Weighted new ports in a window: 3 per port < 1024, 1 above (21)")
      ->check(whole_number(1));
  app.add_option("--horizontal-threshold", d.horizontal_threshold, "New hosts in a window (20)")
      ->check(whole_number(1));
  app.add_option("--flag-threshold", d.flag_threshold,
                 "FIN/NULL/Xmas/lone-ACK probes, or UDP probes refused, on distinct ports (3)")
      ->check(whole_number(1));
  app.add_option("--update-interval", update_interval,
                 "At most one update record per alert per interval (10s)");
  app.add_option("--idle-end", idle_end,
                 "Close an alert after the source is silent this long (10m)");
  app.add_flag("--block", o.block,
               "Block proven scanners with nftables, challenging unproven ones first (with -r: a "
               "dry run, nothing sent or blocked)");
  app.add_option("--block-for", block_for, "How long a block lasts (10m)");
  one_value_per_use(
      app.add_option("--allow", allows, "Never block this address or prefix (repeatable)"));
  app.add_option("--allow-file", allow_file, "Never block the addresses/prefixes listed in FILE");
  app.add_option("--max-blocked", o.block_cfg.max_blocked, "Sources blocked at once at most (256)")
      ->check(whole_number(1));
  app.add_option("--nft-table", o.block_cfg.table, "Name of our nftables table (glasshouse)");
  // Challenges, internal scanners (issue 13).
  bool no_challenge = false, no_local = false;
  std::string challenge_interval = "5s", challenge_timeout = "2s", worm_ports;
  bool no_fastpath = false;
  app.add_flag("--no-kernel-fastpath", no_fastpath,
               "With --block: no tc-BPF fast path (the kernel's own walk, challenge and check of "
               "the answer); everything from this process");
  app.add_flag("--no-challenge", no_challenge,
               "With --block: never challenge; block only sources that completed a handshake");
  app.add_option("--challenge-rate", o.challenge_cfg.rate, "Challenges per second overall (100)")
      ->check(finite_number(0.01, 100000.0));
  app.add_option("--challenge-interval", challenge_interval,
                 "At most one challenge per source per interval (5s)");
  app.add_option("--challenge-timeout", challenge_timeout,
                 "A challenge answered later than this proves nothing (2s)");
  app.add_option("--cpu-reserve", o.cpu_reserve,
                 "With --block: share of one CPU reserved for the packet loop (SCHED_DEADLINE, "
                 "per 1 ms; default 0: an ordinary task)")
      ->check(finite_number(0.0, 0.9));
  app.add_option("--challenge-early", o.challenge_cfg.early_after,
                 "Challenge a suspect at its Nth failed first contact, before detection (e.g. 2; "
                 "default 0: only detected sources)")
      ->check(CLI::Range(0u, 1000u));
  o.challenge_cfg.prepare_after = 2;
  app.add_option("--challenge-prepare", o.challenge_cfg.prepare_after,
                 "Prepare a suspect's challenge at its Nth failed first contact: the kernel holds "
                 "its answer's check before the detection, nothing is sent (default 2; 0: off; "
                 "ignored with --challenge-early)")
      ->check(CLI::Range(0u, 1000u));
  app.add_flag("--block-internal", o.block_cfg.block_internal,
               "With --block: also block proven scanners inside the protected networks");
  app.add_flag("--no-local-tracking", no_local,
               "Do not track sources inside the protected networks (internal/outbound scans)");
  app.add_option("--local-factor", d.local_factor,
                 "Thresholds for sources inside the protected networks, times the remote ones (10)")
      ->check(finite_number(1.0, 1000.0));
  app.add_option("--worm-threshold", d.worm_threshold,
                 "Failed contacts on worm-list ports that make a local source a worm (20)")
      ->check(whole_number(1));
  app.add_option("--worm-ports", worm_ports,
                 "Comma-separated worm-list ports (default: the seed glossary's 20)");
  app.add_option("--stats", stats, "Print the counters every interval (e.g. 60s)");
  app.add_flag("--promisc", o.live.promiscuous, "Capture in promiscuous mode");
  app.add_option("--filter", o.filter, "BPF filter replacing the default one");
  // Announced scans (src/auth, docs/AUTHORIZATION.md).
  std::vector<std::string> owner_keys, scopes;
  one_value_per_use(
      app.add_option("--owner-key", owner_keys,
                     "This network owner's public key (PEM), or a directory of them: recognize "
                     "scans announced under the scopes it signed (repeatable)"));
  one_value_per_use(app.add_option(
      "--scope", scopes, "A scope signed with --owner-key, or a directory of *.toml (repeatable)"));

  try {
    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
      std::cout << app.help();
      return kExitOk;
    } catch (const CLI::ParseError& e) {
      std::string msg = e.what();
      throw UsageError(msg.empty() ? e.get_name() : msg);
    }
    if (o.interface.empty() == o.read_file.empty())
      throw UsageError("give exactly one of -i IFACE (live) and -r FILE (offline)");
    for (const auto& l : locals) add_prefix(o.local, l, "--local");
    if (!o.read_file.empty() && o.local.empty())
      throw UsageError("-r needs --local: name the addresses the capture protects");
    if (const char* why = d.trw.validate())
      throw UsageError(fmt::format("TRW parameters: {}", why));
    d.reply_timeout_us = parse_duration(reply_timeout, "--reply-timeout");
    d.window_us = parse_duration(window, "--window");
    d.update_interval_us = parse_duration(update_interval, "--update-interval");
    d.idle_end_us = parse_duration(idle_end, "--idle-end");
    if (d.reply_timeout_us <= 0) throw UsageError("--reply-timeout must be positive");
    if (d.idle_end_us <= 0) throw UsageError("--idle-end must be positive");
    o.block_cfg.block_for_us = parse_duration(block_for, "--block-for");
    if (o.block_cfg.block_for_us < 1'000'000) throw UsageError("--block-for must be at least 1s");
    if (!stats.empty()) {
      o.stats_interval_us = parse_duration(stats, "--stats");
      if (o.stats_interval_us <= 0) throw UsageError("--stats must be positive");
    }
    for (const auto& a : allows) add_prefix(o.block_cfg.allow, a, "--allow");
    if (!allow_file.empty()) load_allow_file(o.block_cfg.allow, allow_file);
    if (o.block_cfg.block_internal && !o.block) throw UsageError("--block-internal needs --block");
    o.challenge = !no_challenge;
    o.kernel_fastpath = !no_fastpath;
    d.track_local = !no_local;
    o.challenge_cfg.interval_us = parse_duration(challenge_interval, "--challenge-interval");
    o.challenge_cfg.timeout_us = parse_duration(challenge_timeout, "--challenge-timeout");
    if (o.challenge_cfg.timeout_us <= 0) throw UsageError("--challenge-timeout must be positive");
    if (!worm_ports.empty()) {
      d.worm_ports.clear();
      size_t start = 0;
      while (start <= worm_ports.size()) {
        size_t end = worm_ports.find(',', start);
        if (end == std::string::npos) end = worm_ports.size();
        std::string item = worm_ports.substr(start, end - start);
        unsigned v = 0;
        auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
        if (ec != std::errc() || p != item.data() + item.size() || v == 0 || v > 65535)
          throw UsageError(fmt::format("--worm-ports: '{}' is not a port", item));
        d.worm_ports.push_back(static_cast<uint16_t>(v));
        start = end + 1;
      }
    }
    if (o.block_cfg.table.empty() ||
        o.block_cfg.table.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != std::string::npos)
      throw UsageError("--nft-table: use letters, digits and '_' only");
    d.max_pending = std::max<size_t>(d.max_pending, 1);
    if (!owner_keys.empty() || !scopes.empty())
      o.engagements = auth::load_watched_scopes(scopes, owner_keys);
    return detect::run_watch(std::move(o));
  } catch (const UsageError& e) {
    fmt::print(stderr, "glasshouse watch: {}\n", e.what());
    return kExitUsage;
  } catch (const RuntimeError& e) {
    fmt::print(stderr, "glasshouse watch: {}\n", e.what());
    return kExitRuntime;
  } catch (const std::exception& e) {
    fmt::print(stderr, "glasshouse watch: {}\n", e.what());
    return kExitRuntime;
  }
}

}  // namespace gh
