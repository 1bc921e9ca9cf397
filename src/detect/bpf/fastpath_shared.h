// The maps' layouts shared by the kernel's fast path (fastpath.bpf.c) and its loader
// (kernel_fastpath.h). Plain C; both sides compile it (the BPF target and the host).
#pragma once

#include <linux/bpf.h>  // struct bpf_spin_lock
#include <linux/types.h>

// Written by user space at start (index 0 of gh_config).
struct gh_fp_config {
  __u64 k0, k1;                // the SipHash key (challenge.h)
  __s32 fail_step, succ_step;  // the walk's steps, in thousandths of a natural log
  __s32 hi, lo;                // detected at >= hi; restarted at <= lo
  __u32 vpoints;               // the vertical rule's threshold (points in window_ns); 0: off
  __u32 challenge_after;       // challenge at this failed first contact (or at the detection)
  __u64 window_ns, interval_ns, timeout_ns, hold_ns;
  __u64 token_cost_ns;  // the challenges' bucket: one per token_cost_ns...
  __u32 burst;          // ...holding this many
  __u32 max_per_source;
  __u32 enabled;
  __u32 pad;
};

struct gh_fp_bucket {
  struct bpf_spin_lock lock;
  __u32 pad;
  __u64 tat;  // GCRA's theoretical arrival time
};

// A remote source: family 4 (addr[0..3]) or 6, the rest zero.
struct gh_fp_addr {
  __u32 family;
  __u8 addr[16];
};

#define GH_FP_CHAL_OUT 1u  // a challenge is out
#define GH_FP_GUESSED 2u   // its one guess was taken
#define GH_FP_PROVEN 4u    // it answered a challenge
#define GH_FP_DETECTED 8u  // the walk or the vertical rule says scanner
#define GH_FP_ISSUING 16u  // a CPU is writing a challenge's fields

struct gh_fp_source {
  __s32 walk;
  __u32 fails, points, chal_count, flags;
  __u32 pad0;
  __u64 win_start, chal_ns, proven_ns, block_ns;
  __u32 cookie;
  __u16 lport, rport;  // the challenge's ports
  __u8 local[16];      // and our address
  __u8 mac[6];         // the link address the refusal went to
  __u8 pad[2];
  __u64 seen[8];  // first contacts: 512 bits of (local address, protocol, port)
};

struct gh_fp_lpm4 {
  __u32 prefixlen;
  __u8 addr[4];
};
struct gh_fp_lpm6 {
  __u32 prefixlen;
  __u8 addr[16];
};

enum {
  GH_FP_STAT_CHALLENGES,
  GH_FP_STAT_PROVEN,
  GH_FP_STAT_WRONG,
  GH_FP_STAT_DROPPED,
  GH_FP_STAT_LIMITED,
  GH_FP_STAT_ERRORS,
  GH_FP_STAT_COUNT
};
