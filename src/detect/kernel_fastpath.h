// The kernel's fast path of `watch --block` (src/detect/README.md, "The kernel's fast path"): a
// tc-BPF program (bpf/fastpath.bpf.c, compiled at build time and embedded) on the capture
// interface's clsact ingress and egress hooks.
//
// What it does, in the packet path, before this process could read a frame: per remote source a
// threshold random walk over its first contacts' outcomes (our stack's refusals and successes,
// seen at egress) and scanlogd's vertical rule; at the source's `challenge_after`-th failed first
// contact (or its detection) it rewrites our refusal (a TCP RST+ACK, an ICMP/ICMPv6 port
// unreachable) into the challenge SYN-ACK whose ack is the cookie (challenge.h: same key, same
// words; the counter word is kKernelCounterBit | seq); at ingress the first lone RST on the
// challenge's four-tuple is its one guess, and the right cookie, in time, from the link address
// the refusal went to, proves the source. A source both proven and detected by the kernel is
// dropped at ingress for `hold_us` (this process, reading the answer, blocks it in nftables for
// --block-for). Exempt prefixes (allowlist, gateways, own and protected addresses) are never
// tracked.
//
// Contract: open() loads and attaches, or returns nullptr with `err` set (no BPF, no
// permission, no clsact): the caller says so in one line and runs without it. The destructor
// detaches both programs (and removes the clsact qdisc if open() created it). One thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "detect/prefix_set.h"

struct bpf_object;

namespace gh::detect {

struct FastpathConfig {
  uint64_t k0 = 0, k1 = 0;  // the challenges' SipHash key
  // The walk (trw.h), as natural logs: per failure, per success, detected at, restarted at.
  double log_fail = 1.3862943611198906, log_success = -1.3862943611198906;
  double log_hi = 4.59511985013459, log_lo = -4.59511985013459;
  uint32_t vertical_threshold = 21;  // 0: off
  int64_t window_us = 3'000'000;
  uint32_t challenge_after = 2;  // failed first contacts
  int64_t interval_us = 5'000'000, timeout_us = 2'000'000;
  int64_t hold_us = 2'000'000;  // a kernel block lasts this long (nftables takes over)
  double rate = 100;            // challenges per second, all sources...
  uint32_t burst = 20;          // ...at most this many at once
  uint32_t max_per_source = 3;
  size_t max_sources = 32768;
};

struct FastpathStats {
  uint64_t challenges = 0, proven = 0, wrong = 0, dropped = 0, limited = 0, errors = 0;
};

// The maps' logic without an interface: loads the programs (for BPF_PROG_TEST_RUN in the unit
// tests, and the base of KernelFastpath).
class FastpathProgram {
 public:
  static std::unique_ptr<FastpathProgram> load(const FastpathConfig& cfg, std::string& err);
  ~FastpathProgram();
  FastpathProgram(const FastpathProgram&) = delete;
  FastpathProgram& operator=(const FastpathProgram&) = delete;

  // Never track nor challenge sources in `p`. False if the trie is full.
  bool exempt(const Prefix& p);
  FastpathStats stats() const;
  int egress_fd() const { return egress_fd_; }
  int ingress_fd() const { return ingress_fd_; }
  // Runs one frame through a program (BPF_PROG_TEST_RUN); returns the program's verdict (0 pass,
  // 2 drop) or -errno; `out`/`out_len` receive the frame as it leaves (at most out_len bytes).
  int test_run(bool egress, const uint8_t* frame, size_t len, uint8_t* out, size_t& out_len);

 private:
  FastpathProgram() = default;
  bpf_object* obj_ = nullptr;
  int egress_fd_ = -1, ingress_fd_ = -1, exempt4_fd_ = -1, exempt6_fd_ = -1, stats_fd_ = -1;
};

class KernelFastpath {
 public:
  static std::unique_ptr<KernelFastpath> open(int ifindex, const FastpathConfig& cfg,
                                              std::string& err);
  ~KernelFastpath();
  KernelFastpath(const KernelFastpath&) = delete;
  KernelFastpath& operator=(const KernelFastpath&) = delete;

  FastpathProgram& program() { return *prog_; }

 private:
  KernelFastpath() = default;
  std::unique_ptr<FastpathProgram> prog_;
  int ifindex_ = 0;
  bool created_qdisc_ = false;
  bool attached_[2] = {false, false};
};

}  // namespace gh::detect
