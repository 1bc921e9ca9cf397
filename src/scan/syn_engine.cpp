#include "scan/syn_engine.h"

#include <random>

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

EngineReport run_syn_scan(EngineContext& ctx) {
  auto module =
      make_probe_module(raw_port_module(ctx.config), ModuleKeys{random_key(), random_key()});
  if (ctx.config.scan_flags) module->set_tcp_flags(*ctx.config.scan_flags);  // --scanflags
  module->set_announcer(ctx.announce);  // --announce: the tag option (src/auth), before prepare()
  PacketTransportOptions opt;
  opt.interface = ctx.config.interface;
  opt.resolve_timeout = ctx.config.timing.initial_rtt;
  opt.macs = ctx.macs;
  PacketTransport transport(opt);
  return run_raw_driver(ctx, transport, *module);
}

}  // namespace gh
