#include "detect/kernel_fastpath.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/dynlib.h"
#include "core/error.h"
#include "detect/bpf/fastpath_shared.h"
#include "detect/fastpath_object.h"

namespace gh::detect {

namespace {

// libbpf is loaded when watch --block first opens the fast path (core/dynlib.h), not at start.
struct Bpf {
  DynLib lib{"libbpf.so.1", "libbpf1", "watch --block's kernel fast path"};
#define GH_BPF(name) decltype(&::name) name = lib.fn<decltype(::name)>(#name)
  GH_BPF(libbpf_set_print);
  GH_BPF(bpf_object__open_mem);
  GH_BPF(bpf_object__find_map_by_name);
  GH_BPF(bpf_map__set_max_entries);
  GH_BPF(bpf_object__load);
  GH_BPF(bpf_object__find_program_by_name);
  GH_BPF(bpf_program__fd);
  GH_BPF(bpf_map__fd);
  GH_BPF(bpf_map_update_elem);
  GH_BPF(bpf_object__close);
  GH_BPF(libbpf_num_possible_cpus);
  GH_BPF(bpf_map_lookup_elem);
  GH_BPF(bpf_prog_test_run_opts);
  GH_BPF(bpf_tc_hook_create);
  GH_BPF(bpf_tc_attach);
  GH_BPF(bpf_tc_detach);
  GH_BPF(bpf_tc_hook_destroy);
#undef GH_BPF
};

// Null when the library cannot be loaded: then there is no fast path (the caller says why).
const Bpf* bpf_api() {
  static const Bpf* api = []() -> const Bpf* {
    try {
      return new Bpf();
    } catch (const RuntimeError&) {
      return nullptr;
    }
  }();
  return api;
}

std::string errstr(int e) {
  return std::strerror(e < 0 ? -e : e);
}

int32_t milli(double v) {
  double m = std::round(v * 1000.0);
  if (m > 1e9) return 1'000'000'000;
  if (m < -1e9) return -1'000'000'000;
  return static_cast<int32_t>(m);
}

gh_fp_config kernel_config(const FastpathConfig& c) {
  gh_fp_config k{};
  k.k0 = c.k0;
  k.k1 = c.k1;
  k.fail_step = milli(c.log_fail);
  k.succ_step = milli(c.log_success);
  // The walk crosses at its steps' sums: round the thresholds so that a sum that reaches them in
  // floating point (trw.cpp) reaches them here too.
  k.hi = milli(c.log_hi) - 1;
  k.lo = milli(c.log_lo) + 1;
  k.vpoints = c.vertical_threshold;
  k.challenge_after = c.challenge_after;
  k.window_ns = static_cast<uint64_t>(c.window_us) * 1000;
  k.interval_ns = static_cast<uint64_t>(c.interval_us) * 1000;
  k.timeout_ns = static_cast<uint64_t>(c.timeout_us) * 1000;
  k.hold_ns = static_cast<uint64_t>(c.hold_us) * 1000;
  k.token_cost_ns = c.rate > 0 ? static_cast<uint64_t>(1e9 / c.rate) : UINT64_MAX / 4;
  k.burst = c.burst > 0 ? c.burst : 1;
  k.max_per_source = c.max_per_source;
  k.enabled = 1;
  return k;
}

}  // namespace

std::unique_ptr<FastpathProgram> FastpathProgram::load(const FastpathConfig& cfg,
                                                       std::string& err) {
  const Bpf* api = bpf_api();
  if (!api) {
    err = "libbpf.so.1 cannot be loaded (Debian package libbpf1)";
    return nullptr;
  }
  api->libbpf_set_print(nullptr);  // its own diagnostics: the caller prints one line
  std::unique_ptr<FastpathProgram> p(new FastpathProgram());
  LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "gh_fastpath");
  p->obj_ = api->bpf_object__open_mem(kFastpathObject, kFastpathObjectSize, &opts);
  if (!p->obj_) {
    err = "cannot open the BPF object: " + errstr(errno);
    return nullptr;
  }
  bpf_map* sources = api->bpf_object__find_map_by_name(p->obj_, "gh_sources");
  if (sources && cfg.max_sources > 0)
    api->bpf_map__set_max_entries(sources, static_cast<uint32_t>(cfg.max_sources));
  if (int rc = api->bpf_object__load(p->obj_); rc != 0) {
    err = "cannot load the BPF programs: " + errstr(rc);
    return nullptr;
  }
  auto prog_fd = [&](const char* name) {
    bpf_program* prog = api->bpf_object__find_program_by_name(p->obj_, name);
    return prog ? api->bpf_program__fd(prog) : -1;
  };
  auto map_fd = [&](const char* name) {
    bpf_map* m = api->bpf_object__find_map_by_name(p->obj_, name);
    return m ? api->bpf_map__fd(m) : -1;
  };
  p->egress_fd_ = prog_fd("gh_egress");
  p->ingress_fd_ = prog_fd("gh_ingress");
  p->exempt4_fd_ = map_fd("gh_exempt4");
  p->exempt6_fd_ = map_fd("gh_exempt6");
  p->stats_fd_ = map_fd("gh_stats");
  int config_fd = map_fd("gh_config");
  if (p->egress_fd_ < 0 || p->ingress_fd_ < 0 || p->exempt4_fd_ < 0 || p->exempt6_fd_ < 0 ||
      p->stats_fd_ < 0 || config_fd < 0) {
    err = "the BPF object lacks a program or map";
    return nullptr;
  }
  gh_fp_config k = kernel_config(cfg);
  uint32_t zero = 0;
  if (api->bpf_map_update_elem(config_fd, &zero, &k, BPF_ANY) != 0) {
    err = "cannot configure the BPF programs: " + errstr(errno);
    return nullptr;
  }
  return p;
}

FastpathProgram::~FastpathProgram() {
  const Bpf* api = bpf_api();
  if (obj_) api->bpf_object__close(obj_);
}

bool FastpathProgram::exempt(const Prefix& p) {
  const Bpf* api = bpf_api();
  uint8_t one = 1;
  auto bytes = p.net.bytes();
  if (p.net.is_v4()) {
    gh_fp_lpm4 k{};
    k.prefixlen = static_cast<uint32_t>(p.len);
    std::memcpy(k.addr, bytes.data(), 4);
    return api->bpf_map_update_elem(exempt4_fd_, &k, &one, BPF_ANY) == 0;
  }
  gh_fp_lpm6 k{};
  k.prefixlen = static_cast<uint32_t>(p.len);
  std::memcpy(k.addr, bytes.data(), 16);
  return api->bpf_map_update_elem(exempt6_fd_, &k, &one, BPF_ANY) == 0;
}

FastpathStats FastpathProgram::stats() const {
  const Bpf* api = bpf_api();
  FastpathStats s;
  int ncpu = api->libbpf_num_possible_cpus();
  if (ncpu <= 0) return s;
  std::vector<uint64_t> v(static_cast<size_t>(ncpu));
  uint64_t* fields[GH_FP_STAT_COUNT] = {&s.challenges, &s.proven,  &s.wrong,
                                        &s.dropped,    &s.limited, &s.errors};
  for (uint32_t i = 0; i < GH_FP_STAT_COUNT; ++i) {
    if (api->bpf_map_lookup_elem(stats_fd_, &i, v.data()) != 0) continue;
    for (uint64_t x : v) *fields[i] += x;
  }
  return s;
}

int FastpathProgram::test_run(bool egress, const uint8_t* frame, size_t len, uint8_t* out,
                              size_t& out_len) {
  const Bpf* api = bpf_api();
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_out = out,
              .data_size_in = static_cast<uint32_t>(len),
              .data_size_out = static_cast<uint32_t>(out_len), .repeat = 1);
  int rc = api->bpf_prog_test_run_opts(egress ? egress_fd_ : ingress_fd_, &opts);
  if (rc != 0) return rc < 0 ? rc : -rc;
  out_len = opts.data_size_out;
  return static_cast<int>(opts.retval);
}

std::unique_ptr<KernelFastpath> KernelFastpath::open(int ifindex, const FastpathConfig& cfg,
                                                     std::string& err) {
  std::unique_ptr<KernelFastpath> f(new KernelFastpath());
  f->prog_ = FastpathProgram::load(cfg, err);
  if (!f->prog_) return nullptr;
  const Bpf* api = bpf_api();  // loaded by load()
  f->ifindex_ = ifindex;
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
              .attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
  int rc = api->bpf_tc_hook_create(&hook);
  if (rc == 0) {
    f->created_qdisc_ = true;
  } else if (rc != -EEXIST) {
    err = "cannot create the clsact qdisc: " + errstr(rc);
    return nullptr;
  }
  for (int i = 0; i < 2; ++i) {
    LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = ifindex,
                .attach_point = i == 0 ? BPF_TC_EGRESS : BPF_TC_INGRESS);
    LIBBPF_OPTS(bpf_tc_opts, o, .prog_fd = i == 0 ? f->prog_->egress_fd() : f->prog_->ingress_fd(),
                // A stale program of a killed run (same handle and priority) is replaced, as the
                // nftables table is.
                .flags = BPF_TC_F_REPLACE, .handle = 0x6768, .priority = 1);
    rc = api->bpf_tc_attach(&h, &o);
    if (rc != 0) {
      err = std::string("cannot attach the BPF program at tc ") + (i == 0 ? "egress" : "ingress") +
            ": " + errstr(rc);
      return nullptr;  // the destructor detaches what was attached
    }
    f->attached_[i] = true;
  }
  return f;
}

KernelFastpath::~KernelFastpath() {
  const Bpf* api = bpf_api();
  for (int i = 0; i < 2; ++i) {
    if (!attached_[i]) continue;
    LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = ifindex_,
                .attach_point = i == 0 ? BPF_TC_EGRESS : BPF_TC_INGRESS);
    LIBBPF_OPTS(bpf_tc_opts, o, .handle = 0x6768, .priority = 1);
    (void)api->bpf_tc_detach(&h, &o);
  }
  if (created_qdisc_) {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex_,
                .attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
    (void)api->bpf_tc_hook_destroy(&hook);
  }
}

}  // namespace gh::detect
