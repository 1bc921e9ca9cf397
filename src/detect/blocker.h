// Blocking detected sources with nftables, safely. The table is created and deleted by running
// `nft -f -`; each block is one set-element add, sent in the process as one netlink transaction
// (nft_netlink.h: libnftnl + libmnl), since a block is on the critical path: every millisecond
// is probes the scanner still gets answered. If that socket cannot be opened, libnftables (in
// the process), and failing that `nft`, add the element instead.
//
// The blocker owns one nftables table (`inet glasshouse` by default), created at start (a stale
// copy left by a killed run is replaced) and deleted at stop and by the destructor: two sets of
// addresses with per-element timeouts (the kernel expires them; nothing to clean up) and one
// chain at the prerouting hook, priority -300 (before conntrack), that drops their packets. The
// capture taps frames before netfilter, so a blocked source's later probes are still seen.
//
// The answer's check in the kernel (a fast path beside challenge.h's own check; README "Blocking",
// "Latency"). Before a challenge leaves, expect_answer() adds two elements with the challenge's
// timeout: `chal4`/`chal6` holds the answer that proves (the source's address, the challenged
// address, the source's link address, both ports and the cookie as sequence number), `try4`/`try6`
// the four-tuple alone. A rule in the prerouting chain takes the FIRST RST on a tried four-tuple:
// it deletes the try element (one guess per challenge: a second RST finds nothing), and if the
// RST also matches `chal`, adds its source to `proven4`/`proven6` (timeout --block-for). A
// detected source that is not proven yet is armed (arm(): `armed4`/`armed6`, for as long as its
// challenge can be answered): the chain drops a source that is both armed and proven, so the
// block takes effect as the answer passes the hook, without waiting for this process to read it;
// this process then blocks it (consider(), `blocked4`/`blocked6`) when it sees the answer too.
// The detection's arm and its challenge's elements go in ONE transaction (challenge_transaction),
// whose acknowledgements are read after the challenge left (finish_challenge): the kernel has
// committed a netlink batch when the sendto returns, so the challenge waits for one system call,
// not two round trips (measured: README "Latency").
// Proven alone never drops anything (a proof before detection, from an early challenge, is only
// kept); armed alone neither (a detected source that cannot answer: a spoofed one).
//
// Policy (block_decision): a source is blocked only if
//   - it is not in --allow, not a gateway of this host, not one of the protected addresses;
//   - fewer than --max-blocked sources are blocked now;
//   - it is not inside the protected networks, unless --block-internal (and never this host);
//   - it is verified: it completed a TCP handshake with a protected host, acknowledging the
//     initial sequence number of our SYN-ACK, or it answered a challenge (challenge.h) with the
//     cookie we sent it. Either number is 32 bits chosen here and sent only to the claimed
//     source address, so a sender spoofing that address cannot see it and would have to guess it
//     (one chance in 2^32 per try); a probe that needs no answer (a SYN, FIN, NULL, Xmas or UDP
//     probe, an ICMP echo) costs a spoofer nothing. Without this rule anyone could make us block
//     any address by scanning us in its name. (Who asks for the proof: response.h.)
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/address.h"
#include "detect/alert.h"
#include "detect/challenge.h"
#include "detect/nft_netlink.h"
#include "detect/prefix_set.h"

struct nft_ctx;  // libnftables

namespace gh::detect {

struct BlockConfig {
  int64_t block_for_us = 600'000'000;
  size_t max_blocked = 256;
  PrefixSet allow;
  PrefixSet local;
  std::vector<IpAddress> gateways;
  PrefixSet self;               // this host's own addresses: never blocked
  bool block_internal = false;  // --block-internal: protected (inside) sources may be blocked
  std::string table = "glasshouse";
  std::string nft = "nft";  // looked up in PATH
  // How long the kernel drops a source that answered a prepared challenge (prepare()) before
  // this process blocks it for --block-for: --challenge-timeout.
  int64_t prove_for_us = 2'000'000;
};

struct BlockDecision {
  bool block = false;
  std::string note;  // why not, or "blocked for 600s"
};

// The exemptions alone (allowlist, gateways, this host, protected addresses unless
// block_internal): why the source must never be blocked, or nullopt.
std::optional<std::string> block_exemption(const BlockConfig& cfg, const Alert& a);
// The policy alone, without side effects: `active` is how many sources are blocked now.
BlockDecision block_decision(const BlockConfig& cfg, const Alert& a, size_t active);

// The two kernel elements of a challenge (above): `chal` and `try`, keys laid out as the rule's
// concatenations compare them. False for a packet without link addresses (nothing to match) or
// whose addresses' families differ.
bool challenge_elements(const ChallengePacket& p, uint64_t timeout_ms, SetElem& chal,
                        SetElem& tried);

// A prepared challenge's elements (prepare()): `chal` goes to `pchal4`/`pchal6`, `try` as above.
bool prepared_elements(const ChallengePacket& p, uint64_t timeout_ms, SetElem& chal,
                       SetElem& tried);

// The transaction before a challenge: the source's `armed` element first when `arm` is given,
// then the challenge's `chal` and `try` (challenge_elements; none without link addresses).
// Returns how many elements were written to `out` (0-3).
size_t challenge_transaction(const SetElem* arm, const ChallengePacket& p, uint64_t timeout_ms,
                             std::array<SetElem, 3>& out);

// Runs `nft -f -` with `script` on its standard input. Returns "" on success, else nft's error
// output (or why it could not be run).
std::string run_nft(const std::string& nft, const std::string& script);

class NftBlocker {
 public:
  explicit NftBlocker(BlockConfig cfg);
  ~NftBlocker();
  NftBlocker(const NftBlocker&) = delete;
  NftBlocker& operator=(const NftBlocker&) = delete;

  // Creates the table. Throws RuntimeError when nft fails (not root, no nf_tables).
  void start();
  // Deletes the table (idempotent). Never throws; returns false if nft failed.
  bool stop() noexcept;

  // Applies the policy to an alert record and blocks its source if it passes. Sources already
  // blocked are reported as blocked (until their timeout) without another nft call.
  BlockDecision consider(const Alert& a, int64_t now_us);
  size_t active(int64_t now_us);       // blocked sources
  size_t armed_count(int64_t now_us);  // armed sources, not blocked (yet)

  // The kernel's check of a challenge's answer (above): sends its elements, with the arm staged
  // by arm(..., with_challenge) if any, in one transaction; "" when the kernel took it. Called
  // before the challenge is sent; finish_challenge() after it reads the acknowledgements.
  std::string expect_answer(const ChallengePacket& p, int64_t timeout_us);
  // Reads the acknowledgements of expect_answer()'s transaction; a failed one un-arms its source.
  // Returns "" or the kernel's error. Nothing outstanding: "".
  std::string finish_challenge();
  // Arms a detected, unproven source whose challenge is out (above) for `life_us` (the time its
  // challenge can still be answered), if blocked + armed sources stay within --max-blocked; the
  // policy of block_decision but for the proof. Already armed: nothing done. Note "armed" when
  // armed (now or before). `with_challenge`: the element is staged for the next expect_answer()
  // (the challenge about to leave) instead of added now; flush_arm() adds it alone if no
  // challenge took it.
  BlockDecision arm(const Alert& a, int64_t now_us, int64_t life_us, bool with_challenge = false);
  // Prepared challenges (README "Prepared challenges"): the kernel's check of a challenge that a
  // suspect will get if it is detected, committed before the detection, so that the detection
  // only sends the challenge (no transaction on its path). prepare() adds, in one transaction
  // whose acknowledgement it reads, `p`'s answer to `pchal4`/`pchal6` and its four-tuple to
  // `try4`/`try6` (challenge_elements' layout), both for 2 x `timeout_us`. The rules: the first
  // RST on a tried four-tuple that matches `pchal` adds its source to `pproven4`/`pproven6` (for
  // prove_for_us), and the chain drops `pproven` sources. Harmless until the detection: the
  // cookie (Challenger::prepare) is sent only with the detection's challenge, so nothing can
  // answer it before (but a guess: one per four-tuple, 1 in 2^32). Not for a source blocked,
  // armed or exempt, or beyond kMaxPrepared waiting. True when the kernel took it.
  bool prepare(const Alert& a, const ChallengePacket& p, int64_t now_us, int64_t timeout_us);
  // At the detection: whether `a.src` has a prepared challenge (prepared within `timeout_us` of
  // prepare(), not exempt, blocked + armed under --max-blocked); if so the source counts as armed
  // for `life_us` (the kernel drops it once it answers) and the caller sends the prepared
  // challenge. The preparation is used up either way.
  bool take_prepared(const Alert& a, int64_t now_us, int64_t life_us);
  // Undoes take_prepared()'s count when no challenge left after all.
  void disarm(const IpAddress& src);
  // Adds a staged arm that no challenge took (see arm()); true when `src` is armed afterwards.
  bool flush_arm(const IpAddress& src, int64_t now_us);
  bool armed(const IpAddress& src, int64_t now_us) const;
  // How long the last successful kernel add of arm() or expect_answer() took (us), to the
  // kernel's commit (the sendto's return; for arm() alone, its acknowledgement), and when that
  // was (wall clock, us).
  int64_t last_arm_us() const { return last_arm_us_; }
  int64_t last_arm_wall_us() const { return last_arm_wall_us_; }
  bool kernel_proof() const { return netlink_.is_open(); }
  // Whether `src` is blocked now, and until when; no policy, no nft call.
  BlockDecision status(const IpAddress& src, int64_t now_us) const;
  uint64_t total_blocked() const { return total_; }
  // How long the last successful block's element add took, to its acknowledgement (us).
  int64_t last_add_us() const { return last_add_us_; }
  const BlockConfig& config() const { return cfg_; }

 private:
  BlockConfig cfg_;
  bool started_ = false;
  std::unordered_map<IpAddress, int64_t, IpAddressHash> until_;  // source -> block expiry
  std::unordered_map<IpAddress, int64_t, IpAddressHash> armed_;  // source -> arm expiry
  // Blocks go through libnftables in-process (the table's creation and removal through `nft`);
  // null when the library could not be set up, and then `nft` is run for blocks too.
  ::nft_ctx* ctx_ = nullptr;
  NftSetWriter netlink_;  // the fast path: open when the table was created with the real `nft`
  uint64_t total_ = 0;
  int64_t last_add_us_ = -1;
  int64_t last_arm_us_ = -1;
  int64_t last_arm_wall_us_ = 0;
  // arm(..., with_challenge): the element waiting for the challenge's transaction, and its source
  // (already in armed_); `sent_arm_`: the source armed by the transaction awaiting its
  // acknowledgements.
  struct Prepared {
    int64_t until = 0;           // usable by take_prepared() until
    int64_t committed_wall = 0;  // when the kernel took it (wall clock, us)
  };
  static constexpr size_t kMaxPrepared = 4096;
  std::unordered_map<IpAddress, Prepared, IpAddressHash> prepared_;
  std::optional<SetElem> staged_arm_;
  IpAddress staged_src_{}, sent_arm_src_{};
  bool sent_arm_ = false;
};

}  // namespace gh::detect
