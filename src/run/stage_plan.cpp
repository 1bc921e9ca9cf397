#include "run/stage_plan.h"

#include <algorithm>
#include <exception>
#include <thread>

namespace gh {
namespace {

class Bits {
 public:
  explicit Bits(uint64_t n, const std::vector<uint64_t>* from)
      : words_(from != nullptr ? *from : std::vector<uint64_t>((n + 63) / 64, 0)) {
    words_.resize((n + 63) / 64, 0);
  }
  void set(uint64_t i) { words_[i >> 6] |= uint64_t{1} << (i & 63); }
  std::span<const uint64_t> words() const { return words_; }

 private:
  std::vector<uint64_t> words_;
};

}  // namespace

PlanReport run_stage_plan(PlanContext& plan) {
  PlanReport out;
  HostStream stream;
  std::atomic<bool> abort{false};
  DiscoveryContext& d = plan.discovery;
  const TargetSet& all = plan.config.targets;
  // --shards N --shard I: every shard sweeps every target, and keeps the hosts of its shard (the
  // target index mod N is I): the shards' groups are disjoint and their union is every up host,
  // whatever the timing of each machine's sweep. A group is then scanned whole.
  const ShardSpec shards = plan.config.shards;
  auto mine = [&](const IpAddress& a) {
    if (shards.count <= 1) return true;
    uint64_t i = all.index_of(a);
    return i != UINT64_MAX && i % shards.count == shards.index;
  };
  d.macs = &plan.macs;
  d.abort = &abort;
  d.finished = plan.finished;
  d.after_sockets_open = nullptr;  // the plan calls ready() once every stage is open
  d.announce = plan.announce;      // --announce: the discovery probes are tagged too
  d.on_host = [&](const HostResult& h) {
    if (h.state == HostState::Up)
      stream.push(h);
    else if (mine(h.addr))
      plan.record_host(h);  // down hosts (-v) at the end of the sweep
  };

  // Every socket first, then the privilege drop, then the threads.
  DiscoveryStage discovery(d);
  discovery.open();
  for (PortStage* p : plan.port_stages) p->open(plan.config.targets, plan.announce);
  plan.ready();

  std::exception_ptr discovery_error;
  std::thread sweep([&] {
    try {
      out.discovery = discovery.run();
    } catch (...) {
      discovery_error = std::current_exception();
    }
    stream.close();
  });
  struct Joiner {
    std::thread& t;
    std::atomic<bool>& abort;
    ~Joiner() {
      abort = true;
      if (t.joinable()) t.join();
    }
  } joiner{sweep, abort};

  Bits finished(all.size(), plan.finished);
  std::vector<HostResult> group;
  bool mid_group = false;
  const std::atomic<bool>& stop = d.stop;
  while (stream.take(group, plan.max_group, stop)) {
    std::erase_if(group, [&](const HostResult& h) { return !mine(h.addr); });
    if (group.empty()) continue;
    mid_group = true;
    for (const HostResult& h : group) plan.record_host(h);
    bool stopped = false;
    if (!plan.port_stages.empty()) {
      std::vector<IpAddress> addrs;
      addrs.reserve(group.size());
      for (const HostResult& h : group) addrs.push_back(h.addr);
      std::sort(addrs.begin(), addrs.end());
      ScanConfig group_config = plan.config;
      group_config.shards = ShardSpec{};
      group_config.targets = TargetSet{};
      for (const IpAddress& a : addrs) group_config.targets.add_range(AddressRange{a, a});
      for (PortStage* p : plan.port_stages) {
        // Each stage its own type and ports (-sS -sU: the TCP ports, then the UDP ones).
        ScanConfig stage_config = group_config;
        stage_config.type = p->type();
        stage_config.also_udp = false;
        stage_config.ports = p->ports();
        if (stage_config.type == ScanType::Udp) stage_config.scan_flags.reset();
        ProbeSpace space(stage_config.targets, stage_config.ports);
        EngineReport r = plan.scan_group(*p, stage_config, space);
        add_report(out.ports, r);
        if (r.interrupted) {
          stopped = true;
          break;
        }
      }
    }
    ++out.groups;
    if (stopped) break;  // this group's hosts are not finished
    for (const HostResult& h : group) {
      uint64_t i = all.index_of(h.addr);
      if (i != UINT64_MAX) finished.set(i);
    }
    mid_group = false;
    if (plan.checkpoint) plan.checkpoint(finished.words(), !plan.port_stages.empty());
    if (stop.load()) break;
  }
  abort = stop.load() || mid_group;
  sweep.join();
  if (discovery_error) std::rethrow_exception(discovery_error);
  out.interrupted = stop.load() || out.discovery.interrupted || mid_group;
  // The last checkpoint: what is finished now. A group cut short is not: its records went to
  // the outputs after the previous checkpoint, which a resume cuts them back to.
  if (plan.checkpoint && out.interrupted && !mid_group) plan.checkpoint(finished.words(), true);
  return out;
}

}  // namespace gh
