#include "scan/port_stage.h"

#include <random>

#include "core/error.h"
#include "scan/connect_engine.h"
#include "scan/driver.h"
#include "scan/packet_transport.h"
#include "scan/probe_registry.h"

namespace gh {
namespace {

uint64_t random_key() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace

PortStage::PortStage(const ScanConfig& config, const MacTable* macs)
    : type_(config.type), ports_(config.ports) {
  const ScanTypeEntry& type = scan_type_entry(config.type);
  if (type.engine != EngineKind::Raw) return;
  // The same module run_syn_scan makes (scan/syn_engine.cpp): the scan type's, its flags.
  module_ = make_probe_module(raw_port_module(config), ModuleKeys{random_key(), random_key()});
  if (config.scan_flags) module_->set_tcp_flags(*config.scan_flags);  // --scanflags
  module_->set_offer_options(config.service.os_hint);                 // -O/-A (scan/os_hint.h)
  PacketTransportOptions opt;
  opt.interface = config.interface;
  opt.resolve_timeout = config.timing.initial_rtt;
  opt.macs = macs;
  opt.sources = config.source_ips;  // -S (scan/source_pool.h)
  transport_ = std::make_unique<PacketTransport>(opt);
}

PortStage::PortStage(const ScanConfig& config, std::unique_ptr<Transport> transport,
                     std::unique_ptr<ProbeModule> module)
    : type_(config.type),
      ports_(config.ports),
      transport_(std::move(transport)),
      module_(std::move(module)) {}

PortStage::~PortStage() = default;

void PortStage::open(const TargetSet& targets, const auth::ProbeAnnouncer* announce) {
  if (!transport_) return;
  module_->set_announcer(announce);  // before prepare()
  ProbeModule* modules[] = {module_.get()};
  transport_->open(targets, modules, false);
  opened_ = true;
}

EngineReport PortStage::scan(EngineContext& ctx) {
  if (!transport_) return run_connect_scan(ctx);
  if (!opened_) throw RuntimeError("internal: the port stage's transport was not opened");
  return run_raw_driver(ctx, *transport_, *module_, true);
}

}  // namespace gh
