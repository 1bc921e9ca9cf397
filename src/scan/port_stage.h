// The port stage of a scan plan with host discovery (run/stage_plan.h): the port scan of the
// hosts discovery found up, one group of hosts at a time, while discovery goes on.
//
//   PortStage(config, macs)   one per scan type of the run (-sS, -sT, ...; -sS -sU: two), made
//                   with that stage's config (scan/probe_registry.h, stage_configs()): its
//                   type, its protocol's ports.
//   open(targets, announce)  on the thread that drops privileges, before it does, once: for a raw
//   scan
//                   type, the port module and the transport (routes, sockets, receive ring) for
//                   every target discovery may find. On-link targets take their MAC from `macs`
//                   (filled by discovery from ARP/NDP replies): no kernel neighbour-table round
//                   trip, no limit on the number of hosts. Connect scans open nothing here.
//   scan(ctx)       one group, sequential calls only: ctx.space is the group's hosts x the
//                   stage's ports() and ctx.config.targets the group. Runs the raw driver through
//                   the transport opened above (scan/driver.h), or the connect engine.
//
// Memory: the transport and module once; per group, the driver's bit per probe of the group.
#pragma once

#include <memory>

#include "scan/engine.h"
#include "scan/mac_table.h"
#include "scan/probe_module.h"
#include "scan/transport.h"

namespace gh {

class PortStage {
 public:
  PortStage(const ScanConfig& config, const MacTable* macs);
  // Tests: a given transport and module (a raw scan type's stage).
  PortStage(const ScanConfig& config, std::unique_ptr<Transport> transport,
            std::unique_ptr<ProbeModule> module);
  ~PortStage();
  // `announce` (--announce): the tag every probe carries (auth/announce.h); null: none.
  void open(const TargetSet& targets, const auth::ProbeAnnouncer* announce = nullptr);
  EngineReport scan(EngineContext& ctx);
  bool raw() const { return transport_ != nullptr; }
  // The stage's scan type and ports (of the config it was made with: one of stage_configs()).
  ScanType type() const { return type_; }
  const PortList& ports() const { return ports_; }

 private:
  ScanType type_;
  PortList ports_;
  std::unique_ptr<Transport> transport_;
  std::unique_ptr<ProbeModule> module_;
  bool opened_ = false;
};

}  // namespace gh
