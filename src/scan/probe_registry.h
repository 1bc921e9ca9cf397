// Every probe module by name, and every scan type by flag (zmap's static module list): the one
// place that knows which modules exist and which engine a scan type runs. scanner.cpp,
// checkpoint.cpp and scan_options.cpp look scan types up here instead of switching on them.
//
// Adding a probe module: write it (scan/probe_module.h is the contract), then add one line to
// kModules in probe_registry.cpp. Adding a scan type (-sU, -sA, ...): a ScanType value in
// scan/config.h and one row in kScanTypes, with a checkpoint code never used before.
//
// Everything here is constant data; safe from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "scan/config.h"
#include "scan/probe_module.h"

namespace gh {

struct ModuleEntry {
  std::string_view name;     // "tcp_syn": how options, checkpoints and logs name it
  std::string_view summary;  // one line, for docs and --help
  std::unique_ptr<ProbeModule> (*make)(const ModuleKeys& keys);
};

// Every registered module, in registration order.
std::span<const ModuleEntry> probe_modules();
// nullptr when no module has that name.
const ModuleEntry* find_probe_module(std::string_view name);
// A new instance of the named module. Throws std::invalid_argument for an unknown name (a
// programming error: names come from the tables here, not from users).
std::unique_ptr<ProbeModule> make_probe_module(std::string_view name, const ModuleKeys& keys);

// Which engine runs a scan type.
enum class EngineKind : uint8_t {
  Raw,      // the raw-packet driver and transport, with a port module (scan/raw_engine.h)
  Connect,  // the kernel's connect() (scan/connect_engine.h)
  List,     // -sL: print the targets, send nothing
};

struct ScanTypeEntry {
  ScanType type;
  std::string_view flag;       // nmap's spelling: "-sS"
  std::string_view long_flag;  // ours: "--syn"
  std::string_view name;       // in outputs and the audit log: "syn"
  uint8_t checkpoint_code;     // in resume files: never reuse or change one
  EngineKind engine;
  std::string_view port_module;  // EngineKind::Raw: the registry name of its port module
  bool needs_raw;                // needs CAP_NET_RAW (raw sockets)
  bool checkpointed;             // saves progress and can be resumed (--resume)
  std::string_view help;         // the option's --help line
};

std::span<const ScanTypeEntry> scan_types();
const ScanTypeEntry& scan_type_entry(ScanType type);
const ScanTypeEntry* scan_type_by_flag(std::string_view flag);  // "-sS" or "--syn"
const ScanTypeEntry* scan_type_by_code(uint8_t code);
// The port module a raw scan of `config` runs: its type's, except -sS with --scanflags, which runs
// "tcp_custom" (the flags given, read as a SYN scan). The engine then passes config.scan_flags to
// the module (ProbeModule::set_tcp_flags).
std::string_view raw_port_module(const ScanConfig& config);

// The port stages of a run, in the order they run on each host: one config per scan type, each
// with its own type and only its protocol's ports. A run with one scan type gives the config
// itself. With config.also_udp (-sS -sU): the TCP type's stage with ports.tcp (without the UDP
// ports), then a -sU stage with ports.udp (without --scanflags); a stage without ports is left
// out (-sS -sU -p U:53 runs the UDP stage only).
std::vector<ScanConfig> stage_configs(const ScanConfig& config);
// True when some stage of the run needs raw sockets (-sT -sU does, for its UDP stage).
bool stages_need_raw(const ScanConfig& config);

}  // namespace gh
