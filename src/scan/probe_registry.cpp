#include "scan/probe_registry.h"

#include <stdexcept>
#include <string>

#include "scan/probe_tcp_syn.h"

namespace gh {
namespace {

template <class M>
std::unique_ptr<ProbeModule> make(const ModuleKeys& keys) {
  return std::make_unique<M>(keys);
}

// One line per module.
constexpr ModuleEntry kModules[] = {
    {"tcp_syn", "TCP SYN to each port: SYN-ACK open, RST closed, silence filtered (-sS)",
     &make<TcpSynProbe>},
};

constexpr ScanTypeEntry kScanTypes[] = {
    {ScanType::Syn, "-sS", "--syn", "syn", 1, EngineKind::Raw, "tcp_syn", true, true,
     "-sS: SYN scan with raw packets (default with CAP_NET_RAW)"},
    {ScanType::Connect, "-sT", "--connect", "connect", 2, EngineKind::Connect, "", false, false,
     "-sT: connect() scan (default otherwise; needs no privilege)"},
    {ScanType::List, "-sL", "--list", "list", 3, EngineKind::List, "", false, false,
     "-sL: list the targets and send nothing"},
};

}  // namespace

std::span<const ModuleEntry> probe_modules() {
  return kModules;
}

const ModuleEntry* find_probe_module(std::string_view name) {
  for (const auto& m : kModules)
    if (m.name == name) return &m;
  return nullptr;
}

std::unique_ptr<ProbeModule> make_probe_module(std::string_view name, const ModuleKeys& keys) {
  const ModuleEntry* m = find_probe_module(name);
  if (m == nullptr) throw std::invalid_argument("no probe module named " + std::string(name));
  return m->make(keys);
}

std::span<const ScanTypeEntry> scan_types() {
  return kScanTypes;
}

const ScanTypeEntry& scan_type_entry(ScanType type) {
  for (const auto& t : kScanTypes)
    if (t.type == type) return t;
  throw std::invalid_argument("scan type missing from the registry");
}

const ScanTypeEntry* scan_type_by_flag(std::string_view flag) {
  for (const auto& t : kScanTypes)
    if (t.flag == flag || t.long_flag == flag) return &t;
  return nullptr;
}

const ScanTypeEntry* scan_type_by_code(uint8_t code) {
  for (const auto& t : kScanTypes)
    if (t.checkpoint_code == code) return &t;
  return nullptr;
}

}  // namespace gh
