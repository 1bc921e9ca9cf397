// What is done about a detected source: the one place where an alert record becomes a block, a
// challenge, or only a report (with --block; without it records are only reported).
//
// Watch (watch.cpp) hands every alert record to Responder::on_alert() before writing it; the
// responder fills `blocked`, `block_note` and `challenge`. The steps, in order, each of which can
// end the chain:
//   1. An "end" record, or a source blocked already: report the block's status, nothing else.
//   2. Exemptions (blocker.h, block_exemption): the allowlist, the gateways, this host's own
//      addresses, the protected addresses unless --block-internal.
//   3. (Authorised scans, --owner-key, issue 14: recognised here, reported, never blocked.)
//   4. Proof: a verified source (a completed handshake, or an answered challenge) goes to the
//      blocker, which still applies --max-blocked.
//   5. Otherwise the source is challenged (challenge.h; rate-limited there), unless an early
//      challenge is still out, and (live, when the kernel checks answers: blocker.h) armed: the
//      kernel drops it as soon as the right answer passes. The answer also makes the detector
//      send an "update" record at once, which comes back here at step 4. Without a challenger
//      (--no-challenge), the old rule: unverified sources are never blocked.
// Suspects (on_suspect, from Detector::set_suspect_listener): steps 2 and 3, then an early
// challenge (within its share of the budget) with --challenge-early, else (live, with the
// kernel's check) a prepared one: its cookie drawn and its answer's elements committed to the
// kernel, nothing sent (blocker.h, prepare()); step 5 then sends the prepared challenge with no
// transaction before it. Never a block, never a record.
// Dry run (-r with --block): no blocker, the challenger only simulates; records say what would
// have been done.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "detect/alert.h"
#include "detect/blocker.h"
#include "detect/challenge.h"

namespace gh::detect {

class Responder {
 public:
  // `blocker` may be null (dry run: decisions are described, not applied); `challenger` may be
  // null (no challenges). Neither is owned.
  Responder(const BlockConfig& cfg, NftBlocker* blocker, Challenger* challenger);

  void on_alert(Alert& a, int64_t now_us);
  // An early challenge for a suspect (a snapshot, not a record), or its preparation. Returns
  // the early challenge's fate, nullopt when none was asked (exempt, authorised, nothing to
  // challenge, or a preparation).
  std::optional<Issue> on_suspect(const Alert& a, int64_t now_us);

  // Step 3: a check that recognises authorised scans (watch --owner-key, issue 14). It returns
  // the block note ("authorized: ...") for a scan that must be reported but never challenged nor
  // blocked, nullopt otherwise. Unset: no scan is authorised.
  using AuthorizedCheck = std::function<std::optional<std::string>(const Alert&)>;
  void set_authorized_check(AuthorizedCheck check) { authorized_ = std::move(check); }

 private:
  BlockConfig cfg_;
  NftBlocker* blocker_;
  Challenger* challenger_;
  AuthorizedCheck authorized_;
  // Steps 2 and 3 and what a challenge needs: why not to challenge `a`, or nullopt.
  std::optional<std::string> no_challenge(const Alert& a) const;
};

}  // namespace gh::detect
