#include "scan/syn_engine.h"

#include <cinttypes>
#include <cstdio>
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
  const ModuleKeys keys{random_key(), random_key()};
  // A dry run sends nothing, so its key protects nothing: `--dry-run -v` shows it so that the
  // printed cookies can be checked against the probes (tests/lab/test_dry_run.sh recomputes
  // them). A real scan's key is never written anywhere.
  if (ctx.config.dry_run && ctx.config.output.verbosity > 0)
    std::fprintf(stderr, "glasshouse: dry run: cookie key k0=%016" PRIx64 " k1=%016" PRIx64 "\n",
                 keys.k0, keys.k1);
  auto module = make_probe_module(raw_port_module(ctx.config), keys);
  if (ctx.config.scan_flags) module->set_tcp_flags(*ctx.config.scan_flags);  // --scanflags
  module->set_offer_options(ctx.config.service.os_hint);  // -O/-A (scan/os_hint.h)
  module->set_announcer(ctx.announce);  // --announce: the tag option (src/auth), before prepare()
  PacketTransportOptions opt;
  opt.interface = ctx.config.interface;
  opt.resolve_timeout = ctx.config.timing.initial_rtt;
  opt.macs = ctx.macs;
  opt.sources = ctx.config.source_ips;  // -S (scan/source_pool.h)
  opt.probes = ctx.space.size();
  PacketTransport transport(opt);
  return run_raw_driver(ctx, transport, *module);
}

}  // namespace gh
