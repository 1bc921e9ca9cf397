// How much of what answers a scan has found: the loss it measured and the share of responsive
// ports (open or closed) it can expect to have found, given that loss and the retries it sent.
//
// Model. Every probe to a responsive port makes a round trip that fails with probability q (the
// probe or its reply lost), independently. A stateless engine cannot tell which probes were lost,
// but it can count: pass 0 settles A0 = N(1 - q) of the N responsive probes, and pass 1 (a retry of
// everything unanswered) settles A1 = N q (1 - q), so q = A1 / A0. We use (A1 + 1/2) / (A0 + 1),
// which stays finite when nothing answered and leans towards "some loss" when little did.
//
// After P tries a responsive probe is still unanswered with probability q^P. The engine retries
// two kinds of unanswered probes differently (syn_engine.cpp): those of hosts that answered on
// some port, which are retried every pass, and those of hosts that have been silent on every port,
// whose retries stop once missing a whole live host has become unlikely. A live host with r
// responsive ports stays silent through P passes with probability q^(P r); the hosts that did
// answer, grouped by how many ports answered (1, 2, 3 or more), stand for those missed: each host
// with r answering ports stands for x / (1 - x) silent ones like it, x = q^(P r).
//
// Expected responsive ports missed:
//   found_on_answered * y / (1 - y), y = q^P_answered   (unanswered ports of answering hosts)
// + sum over r of hosts_r * r * x_r / (1 - x_r)          (whole hosts missed; r = 3 for "3 or
// more") and completeness = found / (found + missed). A lower bound in spirit: r undercounts a
// host's responsive ports when it answered on fewer of them, which overstates what was missed.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "scan/progress.h"

namespace gh {

struct LossModel {
  // passes[0] = the first pass; settled = verdicts reached during (or right after) each pass.
  // nullopt without a retry pass: one try measures nothing.
  static std::optional<double> loss(std::span<const PassCounts> passes);
};

struct MissedInput {
  double loss = 0;                             // q
  uint64_t found = 0;                          // responsive ports found (open + closed verdicts)
  uint32_t answered_passes = 1;                // tries given to answering hosts' ports
  uint32_t silent_passes = 1;                  // tries given to silent hosts' ports
  std::array<uint64_t, 3> hosts_by_answers{};  // hosts that answered on 1, 2, 3+ ports
  bool single_port = false;                    // one port per host: no host grouping
};

// Expected responsive ports not found (see above).
double expected_missed(const MissedInput& in);

// Host discovery's sweeps (scan/discovery.h): whether the addresses still silent need another
// pass. passes[i].settled = hosts first found up by pass i's probes, `found` = all of them. A
// host is one "responsive port": the first retry measures the loss q, and the sweep ends once
// the live hosts expected silent through every pass, found x q^P / (1 - q^P), fall under 0.01 of
// a host (stricter than the port engine's one in 10,000 of those found: a missed host loses all
// its ports, and a pass costs only the silent addresses, one probe each). Always true before the
// first retry (one pass measures nothing; nmap retries at least once too); the caller applies
// --max-retries.
bool sweep_again(std::span<const PassCounts> passes, uint64_t found);

struct Completeness {
  std::optional<double> loss;   // measured q; nullopt when no retry pass ran
  std::optional<double> share;  // estimated share of responsive ports found
  uint32_t passes = 0;          // passes sent (1 + retry passes)
  uint64_t retries = 0;         // probes sent again
};

}  // namespace gh
