#include "detect/response.h"

#include <fmt/format.h>

namespace gh::detect {

namespace {
ChallengeTarget target_of(const Alert& a) {
  ChallengeTarget t;
  t.source = a.src;
  t.local = a.last_probe.local;
  t.source_port = a.last_probe.source_port;
  t.local_port = a.last_probe.local_port;
  t.has_macs = a.last_probe.has_macs;
  t.source_mac = a.last_probe.source_mac;
  t.local_mac = a.last_probe.local_mac;
  return t;
}
}  // namespace

Responder::Responder(const BlockConfig& cfg, NftBlocker* blocker, Challenger* challenger)
    : cfg_(cfg), blocker_(blocker), challenger_(challenger) {}

void Responder::on_alert(Alert& a, int64_t now_us) {
  // 1. Reports only.
  if (blocker_) {
    BlockDecision st = blocker_->status(a.src, now_us);
    if (st.block || a.event == AlertEvent::End) {
      a.blocked = st.block;
      a.block_note = st.note;
      return;
    }
  } else if (a.event == AlertEvent::End) {
    return;
  }
  if (auto why = no_challenge(a)) {
    a.block_note = *why;
    return;
  }
  // 4. Proven: block.
  if (a.verified) {
    if (!blocker_) {
      a.block_note = fmt::format("would block (proof: {}; reading a capture)", to_string(a.proof));
      return;
    }
    BlockDecision d = blocker_->consider(a, now_us);
    a.blocked = d.block;
    a.block_note = d.note;
    if (a.proof == Proof::Challenge && challenger_ && challenger_->kernel_challenged(a.src))
      a.block_note += " (challenged by the kernel's fast path)";
    return;
  }
  // 5. Not proven: challenge (unless an early challenge is still out), and arm.
  if (!challenger_) {
    a.block_note = "unverified: no completed handshake, the address may be spoofed";
    return;
  }
  if (!a.last_probe.present) {
    a.block_note = "unverified: no TCP or UDP probe to challenge";
    return;
  }
  if (!a.last_probe.has_macs && !challenger_->config().simulate) {
    a.block_note = "unverified: not an Ethernet capture, no challenge can be sent";
    return;
  }
  // An early challenge still out is this record's challenge (its answer proves the source).
  // Armed before a new challenge leaves (its answer can come back before send() returns), in the
  // challenge's own transaction (blocker.h: one system call before it leaves); alone if no
  // challenge took it.
  // The kernel's fast path challenged it (kernel_fastpath.h): the kernel checks the answer and,
  // having detected the source too, drops it; this process blocks it when it reads the answer.
  if (challenger_->kernel_outstanding(a.src, now_us)) {
    a.challenge = std::string(to_string(Issue::Sent));
    a.block_note = "unverified: challenged by the kernel, awaiting the answer";
    return;
  }
  const bool out = challenger_->outstanding(a.src, now_us);
  const bool kernel = blocker_ && blocker_->kernel_proof() && !challenger_->config().simulate;
  // A prepared challenge (blocker.h, prepare()): the kernel holds its answer's elements already,
  // so it leaves with no transaction before it, and the source counts as armed.
  const int64_t timeout = challenger_->config().timeout_us;
  if (kernel && !out && challenger_->prepared(a.src, now_us)) {
    if (blocker_->take_prepared(a, now_us, timeout)) {
      Issue i = challenger_->challenge(target_of(a), now_us);
      a.challenge = std::string(to_string(i));
      if (i == Issue::Sent) {
        a.block_note = "unverified: challenged (prepared), armed: blocked when the answer comes";
        return;
      }
      blocker_->disarm(a.src);
      a.block_note = fmt::format("unverified: no challenge ({})", to_string(i));
      return;
    }
    // Not usable (--max-blocked reached, or stale in the kernel): its cookie must never leave,
    // since the kernel drops whoever answers it; the path below draws a fresh one.
    challenger_->forget_prepared(a.src);
  }
  bool armed = false;
  if (kernel && !out)
    armed =
        blocker_->arm(a, now_us, challenger_->config().timeout_us, /*with_challenge=*/true).note ==
        "armed";
  Issue i = out ? (challenger_->config().simulate ? Issue::Simulated : Issue::Sent)
                : challenger_->challenge(target_of(a), now_us);
  if (kernel && !out && armed) armed = blocker_->flush_arm(a.src, now_us);
  a.challenge = std::string(to_string(i));
  const char* early = out ? " early" : "";
  if (kernel && out)
    armed = blocker_->arm(a, now_us, challenger_->config().timeout_us).note == "armed";
  if (i == Issue::Sent && armed) {
    a.block_note =
        fmt::format("unverified: challenged{}, armed: blocked when the answer comes", early);
    return;
  }
  switch (i) {
    case Issue::Sent:
      a.block_note = fmt::format("unverified: challenged{}, awaiting the answer", early);
      break;
    case Issue::Simulated:
      a.block_note = "unverified: challenge simulated (reading a capture: nothing is sent)";
      break;
    default:
      a.block_note = fmt::format("unverified: no challenge ({})", to_string(i));
      break;
  }
}

std::optional<std::string> Responder::no_challenge(const Alert& a) const {
  // 2. Exemptions.
  if (auto why = block_exemption(cfg_, a)) return why;
  // 3. Authorised scans (issue 14): reported, never challenged nor blocked.
  if (authorized_) {
    if (auto note = authorized_(a)) return note;
  }
  return std::nullopt;
}

std::optional<Issue> Responder::on_suspect(const Alert& a, int64_t now_us) {
  if (!challenger_ || a.verified || !a.last_probe.present) return std::nullopt;
  if (!a.last_probe.has_macs && !challenger_->config().simulate) return std::nullopt;
  if (blocker_ && blocker_->status(a.src, now_us).block) return std::nullopt;
  if (no_challenge(a)) return std::nullopt;
  if (challenger_->config().early_after > 0)
    return challenger_->challenge(target_of(a), now_us, /*early=*/true);
  // Prepare (live, with the kernel's check): nothing is sent.
  if (!blocker_ || !blocker_->kernel_proof() || challenger_->config().simulate) return std::nullopt;
  if (auto p = challenger_->prepare(target_of(a), now_us)) {
    if (!blocker_->prepare(a, *p, now_us, challenger_->config().timeout_us))
      challenger_->forget_prepared(a.src);
  }
  return std::nullopt;
}

}  // namespace gh::detect
