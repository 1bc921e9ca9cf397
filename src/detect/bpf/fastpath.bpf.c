// The kernel's fast path of `glasshouse watch --block` (src/detect/README.md, "The kernel's fast
// path"): tc-BPF on the capture interface, clsact egress and ingress.
//
// Egress (our stack's answers to remote sources): per remote source (an LRU hash, bounded), a
// threshold random walk over the outcomes of its first contacts, in the units user space writes
// (fixed point: fail_step per refusal, succ_step per success, detected at `hi`, restarted at
// `lo`), beside scanlogd's vertical rule (new ports in a window, 3 points below 1024 and 1
// above). A refusal is our TCP RST+ACK or ICMP/ICMPv6 port unreachable to the source; a success
// our SYN-ACK or (for a source already tracked) a UDP answer. At the source's `challenge_after`-th
// failed first contact, or at its detection, the refusal itself is rewritten into the challenge:
// a TCP SYN-ACK from the probed address and port to the probing ones whose ack is a SipHash-2-4
// cookie (challenge.h: the same key, the same four-tuple words, the counter word 1 << 63 | seq),
// within the per-source interval and budget and a global token bucket. No packet is added.
//
// Ingress: the first lone RST on the challenge's four-tuple is its one guess; with the cookie as
// its sequence number, within the timeout, from the link address the refusal went to, it proves
// the source. A source both proven and detected is dropped here, before the stack and netfilter,
// for `hold_ns` (user space adds it to nftables for --block-for when it reads the answer).
// Exempt sources (user space's allowlist, gateways, own and protected addresses) are in two LPM
// tries and never tracked.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
// libbpf's headers need the kernel's types above.
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "fastpath_shared.h"

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct gh_fp_config);
} gh_config SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct gh_fp_bucket);
} gh_bucket SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, GH_FP_STAT_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} gh_stats SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 32768);
  __type(key, struct gh_fp_addr);
  __type(value, struct gh_fp_source);
} gh_sources SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 4096);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct gh_fp_lpm4);
  __type(value, __u8);
} gh_exempt4 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 4096);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct gh_fp_lpm6);
  __type(value, __u8);
} gh_exempt6 SEC(".maps");

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMP 1
#define PROTO_ICMPV6 58
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

// The BPF target has no memcmp: byte by byte, unrolled (n is a constant).
static __always_inline int same(const void* a, const void* b, int n) {
  const __u8 *x = a, *y = b;
  __u8 d = 0;
#pragma unroll
  for (int i = 0; i < n; i++) d |= x[i] ^ y[i];
  return d == 0;
}

static __always_inline void count(__u32 which) {
  __u64* v = bpf_map_lookup_elem(&gh_stats, &which);
  if (v) *v += 1;
}

// ---- SipHash-2-4 over 6 words (net/siphash.h, SipHash24::words) ----
#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND       \
  do {                 \
    v0 += v1;          \
    v1 = ROTL(v1, 13); \
    v1 ^= v0;          \
    v0 = ROTL(v0, 32); \
    v2 += v3;          \
    v3 = ROTL(v3, 16); \
    v3 ^= v2;          \
    v0 += v3;          \
    v3 = ROTL(v3, 21); \
    v3 ^= v0;          \
    v2 += v1;          \
    v1 = ROTL(v1, 17); \
    v1 ^= v2;          \
    v2 = ROTL(v2, 32); \
  } while (0)

static __always_inline __u64 siphash6(__u64 k0, __u64 k1, const __u64* w) {
  __u64 v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
  __u64 v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
#pragma unroll
  for (int i = 0; i < 6; i++) {
    v3 ^= w[i];
    SIPROUND;
    SIPROUND;
    v0 ^= w[i];
  }
  __u64 b = (__u64)48 << 56;
  v3 ^= b;
  SIPROUND;
  SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

// ---- headers (our own layouts: the BPF target has no libc headers) ----
struct eth_hdr {
  __u8 dst[6], src[6];
  __be16 proto;
} __attribute__((packed));

struct ip4_hdr {
  __u8 vhl, tos;
  __be16 len, id, frag;
  __u8 ttl, proto;
  __be16 csum;
  __be32 saddr, daddr;
} __attribute__((packed));

struct ip6_hdr {
  __be32 vtc_flow;
  __be16 plen;
  __u8 nxt, hlim;
  __u8 saddr[16], daddr[16];
} __attribute__((packed));

struct tcp_hdr {
  __be16 sport, dport;
  __be32 seq, ack;
  __u8 off, flags;
  __be16 win, csum, urg;
} __attribute__((packed));

// What one packet says about one remote source, whatever its family.
struct pkt {
  struct gh_fp_addr remote, local;
  __u16 rport, lport;  // host order
  __u8 proto;          // of the contact: TCP or UDP
  __u8 tcp_flags;
  __u8 mac[6];  // egress: the destination MAC; ingress: the source MAC
  __u32 seq;    // host order (TCP)
  __u16 win;
  __u8 doff;
  __u8 v6;
};

static __always_inline int exempt(const struct pkt* p) {
  if (!p->v6) {
    struct gh_fp_lpm4 k = {.prefixlen = 32};
    __builtin_memcpy(k.addr, p->remote.addr, 4);
    return bpf_map_lookup_elem(&gh_exempt4, &k) != 0;
  }
  struct gh_fp_lpm6 k = {.prefixlen = 128};
  __builtin_memcpy(k.addr, p->remote.addr, 16);
  return bpf_map_lookup_elem(&gh_exempt6, &k) != 0;
}

// Parses the network and transport headers at `off` (after Ethernet). `egress`: the remote end is
// the destination. Returns the kind of packet for the walk.
enum { K_NONE, K_FAIL, K_SUCCESS, K_UDP_ANSWER, K_RST, K_OTHER };

static __always_inline int parse(struct __sk_buff* skb, struct pkt* p, int egress) {
  struct eth_hdr eth;
  if (bpf_skb_load_bytes(skb, 0, &eth, sizeof eth) < 0) return K_NONE;
  __builtin_memcpy(p->mac, egress ? eth.dst : eth.src, 6);
  __u32 off = sizeof eth;
  __u8 proto;
  if (eth.proto == bpf_htons(ETH_P_IP)) {
    struct ip4_hdr ip;
    if (bpf_skb_load_bytes(skb, off, &ip, sizeof ip) < 0) return K_NONE;
    if ((ip.vhl >> 4) != 4 || (ip.frag & bpf_htons(0x1fff))) return K_NONE;
    p->v6 = 0;
    p->remote.family = 4;
    p->local.family = 4;
    __builtin_memcpy(p->remote.addr, egress ? &ip.daddr : &ip.saddr, 4);
    __builtin_memcpy(p->local.addr, egress ? &ip.saddr : &ip.daddr, 4);
    proto = ip.proto;
    off += (ip.vhl & 0xf) * 4;
  } else if (eth.proto == bpf_htons(ETH_P_IPV6)) {
    struct ip6_hdr ip;
    if (bpf_skb_load_bytes(skb, off, &ip, sizeof ip) < 0) return K_NONE;
    p->v6 = 1;
    p->remote.family = 6;
    p->local.family = 6;
    __builtin_memcpy(p->remote.addr, egress ? ip.daddr : ip.saddr, 16);
    __builtin_memcpy(p->local.addr, egress ? ip.saddr : ip.daddr, 16);
    proto = ip.nxt;  // extension headers: not followed (probes and refusals carry none)
    off += sizeof ip;
  } else {
    return K_NONE;
  }
  if (proto == PROTO_TCP) {
    struct tcp_hdr t;
    if (bpf_skb_load_bytes(skb, off, &t, sizeof t) < 0) return K_NONE;
    p->proto = PROTO_TCP;
    p->rport = bpf_ntohs(egress ? t.dport : t.sport);
    p->lport = bpf_ntohs(egress ? t.sport : t.dport);
    p->tcp_flags = t.flags;
    p->seq = bpf_ntohl(t.seq);
    p->win = bpf_ntohs(t.win);
    p->doff = t.off >> 4;
    __u8 f = t.flags & (TCP_FIN | TCP_SYN | TCP_RST | TCP_ACK);
    if (!egress) return f == TCP_RST ? K_RST : K_OTHER;
    if (f == (TCP_RST | TCP_ACK)) return K_FAIL;
    if (f == (TCP_SYN | TCP_ACK)) return K_SUCCESS;
    return K_OTHER;
  }
  if (proto == PROTO_UDP) {
    __be16 ports[2];
    if (bpf_skb_load_bytes(skb, off, ports, sizeof ports) < 0) return K_NONE;
    p->proto = PROTO_UDP;
    p->rport = bpf_ntohs(egress ? ports[1] : ports[0]);
    p->lport = bpf_ntohs(egress ? ports[0] : ports[1]);
    return egress ? K_UDP_ANSWER : K_OTHER;
  }
  if (egress && (proto == PROTO_ICMP || proto == PROTO_ICMPV6)) {
    // Port unreachable (ICMP 3/3, ICMPv6 1/4) quoting a UDP probe from the remote end to us.
    __u8 tc[2];
    if (bpf_skb_load_bytes(skb, off, tc, 2) < 0) return K_NONE;
    if (p->v6 ? (tc[0] != 1 || tc[1] != 4) : (tc[0] != 3 || tc[1] != 3)) return K_OTHER;
    off += 8;
    __u8 qproto;
    if (!p->v6) {
      struct ip4_hdr q;
      if (bpf_skb_load_bytes(skb, off, &q, sizeof q) < 0) return K_NONE;
      if (!same(&q.saddr, p->remote.addr, 4)) return K_OTHER;
      qproto = q.proto;
      off += (q.vhl & 0xf) * 4;
    } else {
      struct ip6_hdr q;
      if (bpf_skb_load_bytes(skb, off, &q, sizeof q) < 0) return K_NONE;
      if (!same(q.saddr, p->remote.addr, 16)) return K_OTHER;
      qproto = q.nxt;
      off += sizeof q;
    }
    if (qproto != PROTO_UDP) return K_OTHER;
    __be16 ports[2];
    if (bpf_skb_load_bytes(skb, off, ports, sizeof ports) < 0) return K_NONE;
    p->proto = PROTO_UDP;
    p->rport = bpf_ntohs(ports[0]);
    p->lport = bpf_ntohs(ports[1]);
    return K_FAIL;
  }
  return K_OTHER;
}

// The first-contact bit of (local address, protocol, port): one of 512.
static __always_inline __u32 contact_bit(const struct pkt* p) {
  __u32 h = p->lport * 0x9E3779B1u ^ (p->proto << 24);
  __u32 a;
  __builtin_memcpy(&a, p->local.addr + (p->v6 ? 12 : 0), 4);
  h ^= a * 0x85EBCA6Bu;
  h ^= h >> 15;
  h *= 0x2C1B3C6Du;
  h ^= h >> 13;
  return h & 511;
}

static __always_inline __u16 fold(__u64 s) {
  s = (s & 0xffffffff) + (s >> 32);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return (__u16)~s;
}

static __always_inline __u64 sum_be16(const __u8* b, int n) {
  __u64 s = 0;
#pragma unroll
  for (int i = 0; i + 1 < n; i += 2) s += (__u32)b[i] << 8 | b[i + 1];
  return s;
}

// The challenge frame (challenge.cpp, build_challenge_frame): the Ethernet header of the refusal,
// then IPv4 (ID 0, DF, TTL 64) or IPv6 (hop limit 64), then TCP: a SYN-ACK, window 65535, one
// MSS 1460 option.
struct frame4 {
  struct eth_hdr eth;
  struct ip4_hdr ip;
  struct tcp_hdr tcp;
  __u8 opt[4];
} __attribute__((packed));

struct frame6 {
  struct eth_hdr eth;
  struct ip6_hdr ip;
  struct tcp_hdr tcp;
  __u8 opt[4];
} __attribute__((packed));

static __always_inline void fill_tcp(struct tcp_hdr* t, const struct pkt* p, __u32 seq, __u32 ack,
                                     __u8* opt) {
  t->sport = bpf_htons(p->lport);
  t->dport = bpf_htons(p->rport);
  t->seq = bpf_htonl(seq);
  t->ack = bpf_htonl(ack);
  t->off = 6 << 4;
  t->flags = TCP_SYN | TCP_ACK;
  t->win = bpf_htons(65535);
  t->csum = 0;
  t->urg = 0;
  opt[0] = 2;
  opt[1] = 4;
  opt[2] = 1460 >> 8;
  opt[3] = 1460 & 0xff;
}

static __always_inline int rewrite(struct __sk_buff* skb, const struct pkt* p, __u32 seq,
                                   __u32 ack) {
  struct eth_hdr eth;
  if (bpf_skb_load_bytes(skb, 0, &eth, sizeof eth) < 0) return -1;
  if (!p->v6) {
    struct frame4 f = {};
    f.eth = eth;
    f.ip.vhl = 0x45;
    f.ip.len = bpf_htons(20 + 24);
    f.ip.frag = bpf_htons(0x4000);
    f.ip.ttl = 64;
    f.ip.proto = PROTO_TCP;
    __builtin_memcpy(&f.ip.saddr, p->local.addr, 4);
    __builtin_memcpy(&f.ip.daddr, p->remote.addr, 4);
    f.ip.csum = bpf_htons(fold(sum_be16((const __u8*)&f.ip, 20)));
    fill_tcp(&f.tcp, p, seq, ack, f.opt);
    __u64 s = sum_be16((const __u8*)&f.ip.saddr, 8) + PROTO_TCP + 24;
    s += sum_be16((const __u8*)&f.tcp, 24);
    f.tcp.csum = bpf_htons(fold(s));
    if (bpf_skb_change_tail(skb, sizeof f, 0) < 0) return -1;
    if (bpf_skb_store_bytes(skb, 0, &f, sizeof f, 0) < 0) return -1;
    return 0;
  }
  struct frame6 f = {};
  f.eth = eth;
  f.ip.vtc_flow = bpf_htonl(6u << 28);
  f.ip.plen = bpf_htons(24);
  f.ip.nxt = PROTO_TCP;
  f.ip.hlim = 64;
  __builtin_memcpy(f.ip.saddr, p->local.addr, 16);
  __builtin_memcpy(f.ip.daddr, p->remote.addr, 16);
  fill_tcp(&f.tcp, p, seq, ack, f.opt);
  __u64 s = sum_be16(f.ip.saddr, 32) + PROTO_TCP + 24;
  s += sum_be16((const __u8*)&f.tcp, 24);
  f.tcp.csum = bpf_htons(fold(s));
  if (bpf_skb_change_tail(skb, sizeof f, 0) < 0) return -1;
  if (bpf_skb_store_bytes(skb, 0, &f, sizeof f, 0) < 0) return -1;
  return 0;
}

// The cookie of a challenge: challenge.cpp's next_cookie() words, with 1 << 63 | seq as the
// counter word, so that user space can tell (and check) a kernel challenge from its seq alone.
static __always_inline __u64 cookie_hash(const struct gh_fp_config* c, const struct pkt* p,
                                         __u32 seq) {
  __u64 w[6];
  __builtin_memcpy(&w[0], p->remote.addr, 16);
  __builtin_memcpy(&w[2], p->local.addr, 16);
  w[4] = (__u64)p->rport << 16 | p->lport;
  w[5] = (1ULL << 63) | seq;
  return siphash6(c->k0, c->k1, w);
}

// The global token bucket (GCRA): one challenge per `cost_ns`, `burst` at once.
static __always_inline int take_token(const struct gh_fp_config* c, __u64 now) {
  __u32 zero = 0;
  struct gh_fp_bucket* b = bpf_map_lookup_elem(&gh_bucket, &zero);
  if (!b) return 0;
  int ok = 0;
  bpf_spin_lock(&b->lock);
  __u64 tat = b->tat > now ? b->tat : now;
  if (tat - now <= c->token_cost_ns * (c->burst - 1)) {
    b->tat = tat + c->token_cost_ns;
    ok = 1;
  }
  bpf_spin_unlock(&b->lock);
  return ok;
}

SEC("tc")
int gh_egress(struct __sk_buff* skb) {
  __u32 zero = 0;
  struct gh_fp_config* c = bpf_map_lookup_elem(&gh_config, &zero);
  if (!c || !c->enabled) return TC_ACT_OK;
  struct pkt p = {};
  int kind = parse(skb, &p, 1);
  if (kind != K_FAIL && kind != K_SUCCESS && kind != K_UDP_ANSWER) return TC_ACT_OK;
  // A SYN-ACK shaped like a challenge (user space's, window 65535, one option): not a success.
  if (kind == K_SUCCESS && p.win == 65535 && p.doff == 6) return TC_ACT_OK;
  if (exempt(&p)) return TC_ACT_OK;
  __u64 now = bpf_ktime_get_ns();
  struct gh_fp_source* s = bpf_map_lookup_elem(&gh_sources, &p.remote);
  if (!s) {
    if (kind == K_UDP_ANSWER) return TC_ACT_OK;  // ours to a source never seen: a client flow
    struct gh_fp_source fresh = {};
    fresh.win_start = now;
    bpf_map_update_elem(&gh_sources, &p.remote, &fresh, BPF_NOEXIST);
    s = bpf_map_lookup_elem(&gh_sources, &p.remote);
    if (!s) return TC_ACT_OK;
  }
  __u32 bit = contact_bit(&p);
  __u64 mask = 1ULL << (bit & 63);
  __u32 word = (bit >> 6) & 7;
  int fail = kind == K_FAIL;
  // LRU maps cannot hold a spin lock: the fields are updated with atomic operations; two CPUs
  // answering the same source at once may at worst count a window's points twice.
  if (!(__sync_fetch_and_or(&s->seen[word], mask) & mask)) {  // a first contact
    if (now - s->win_start > c->window_ns) {
      s->win_start = now;
      s->points = 0;
    }
    __sync_fetch_and_add(&s->points, p.lport < 1024 ? 3 : 1);
    __sync_fetch_and_add(&s->walk, fail ? c->fail_step : c->succ_step);
    if (fail) __sync_fetch_and_add(&s->fails, 1);
    if (s->walk >= c->hi || (c->vpoints && s->points >= c->vpoints))
      __sync_fetch_and_or(&s->flags, GH_FP_DETECTED);
    if (s->walk <= c->lo) s->walk = 0;
  }
  __u32 flags = s->flags;
  if (!fail || (flags & (GH_FP_PROVEN | GH_FP_ISSUING))) return TC_ACT_OK;
  if (s->fails < c->challenge_after && !(flags & GH_FP_DETECTED)) return TC_ACT_OK;
  if ((flags & GH_FP_CHAL_OUT) && now - s->chal_ns <= c->timeout_ns) return TC_ACT_OK;
  if (s->chal_count != 0 && now - s->chal_ns < c->interval_ns) return TC_ACT_OK;
  if (s->chal_count >= c->max_per_source) return TC_ACT_OK;
  // One CPU issues the challenge; the answer's check is off while its fields change.
  if (__sync_fetch_and_or(&s->flags, GH_FP_ISSUING) & GH_FP_ISSUING) return TC_ACT_OK;
  __sync_fetch_and_and(&s->flags, ~(__u32)GH_FP_CHAL_OUT);
  int ok = take_token(c, now);
  // The seq's lowest bit says what the challenge replaces (challenge.h, kKernelCounterBit).
  __u32 seq = (bpf_get_prandom_u32() & ~1u) | (p.proto == PROTO_UDP);
  __u64 h = cookie_hash(c, &p, seq);
  if (ok && rewrite(skb, &p, seq, (__u32)h) == 0) {
    s->cookie = (__u32)h;
    s->chal_ns = now;
    s->chal_count += 1;
    s->lport = p.lport;
    s->rport = p.rport;
    __builtin_memcpy(s->local, p.local.addr, 16);
    __builtin_memcpy(s->mac, p.mac, 6);
    __sync_fetch_and_and(&s->flags, ~(__u32)GH_FP_GUESSED);
    __sync_fetch_and_or(&s->flags, GH_FP_CHAL_OUT);
    count(GH_FP_STAT_CHALLENGES);
  } else {
    count(ok ? GH_FP_STAT_ERRORS : GH_FP_STAT_LIMITED);
  }
  __sync_fetch_and_and(&s->flags, ~(__u32)GH_FP_ISSUING);
  return TC_ACT_OK;  // a failed rewrite leaves the refusal as it was (or whatever is left)
}

SEC("tc")
int gh_ingress(struct __sk_buff* skb) {
  __u32 zero = 0;
  struct gh_fp_config* c = bpf_map_lookup_elem(&gh_config, &zero);
  if (!c || !c->enabled) return TC_ACT_OK;
  struct pkt p = {};
  int kind = parse(skb, &p, 0);
  if (kind == K_NONE) return TC_ACT_OK;
  struct gh_fp_source* s = bpf_map_lookup_elem(&gh_sources, &p.remote);
  if (!s) return TC_ACT_OK;
  __u64 now = bpf_ktime_get_ns();
  __u32 flags = s->flags;
  if (kind == K_RST && (flags & GH_FP_CHAL_OUT) && !(flags & (GH_FP_GUESSED | GH_FP_ISSUING)) &&
      p.rport == s->rport && p.lport == s->lport && same(p.local.addr, s->local, 16) &&
      !(__sync_fetch_and_or(&s->flags, GH_FP_GUESSED) & GH_FP_GUESSED)) {  // its one guess
    if (p.seq == s->cookie && now - s->chal_ns <= c->timeout_ns && same(p.mac, s->mac, 6)) {
      s->proven_ns = now;
      __sync_fetch_and_or(&s->flags, GH_FP_PROVEN);
      count(GH_FP_STAT_PROVEN);
    } else {
      count(GH_FP_STAT_WRONG);
    }
    flags = s->flags;
  }
  if ((flags & (GH_FP_PROVEN | GH_FP_DETECTED)) != (GH_FP_PROVEN | GH_FP_DETECTED))
    return TC_ACT_OK;
  if (!s->block_ns) s->block_ns = now;
  if (now - s->block_ns > c->hold_ns) return TC_ACT_OK;  // nftables has it from here
  count(GH_FP_STAT_DROPPED);
  return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
