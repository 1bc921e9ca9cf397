#include "detect/challenge.h"

#include <algorithm>
#include <cstring>

#include "net/checksum.h"
#include "net/tcp_template.h"

namespace gh::detect {

std::string_view to_string(Issue i) {
  switch (i) {
    case Issue::Sent:
      return "sent";
    case Issue::Simulated:
      return "simulated";
    case Issue::TooSoon:
      return "too soon";
    case Issue::SourceBudget:
      return "per-source budget spent";
    case Issue::GlobalBudget:
      return "overall budget spent";
    case Issue::NoTarget:
      return "no probe to answer";
    case Issue::SendFailed:
      return "send failed";
  }
  return "?";
}

std::string_view to_string(Answer a) {
  switch (a) {
    case Answer::None:
      return "none";
    case Answer::Own:
      return "own";
    case Answer::Proven:
      return "proven";
    case Answer::WrongSeq:
      return "wrong sequence number";
    case Answer::Late:
      return "late";
    case Answer::Replayed:
      return "replayed";
    case Answer::Kernel:
      return "kernel challenge";
    case Answer::WrongPath:
      return "wrong path";
  }
  return "?";
}

Challenger::Challenger(const ChallengeConfig& cfg, uint64_t k0, uint64_t k1, Sender send)
    : cfg_(cfg),
      hash_(k0, k1),
      send_(std::move(send)),
      table_(cfg.max_sources),
      tokens_(cfg.burst),
      prep_tokens_(cfg.burst) {}

uint64_t Challenger::hash_of(const ChallengeTarget& to, uint64_t counter) const {
  uint64_t w[6];
  auto a = to.source.bytes(), b = to.local.bytes();
  std::memcpy(&w[0], a.data(), 16);
  std::memcpy(&w[2], b.data(), 16);
  w[4] = static_cast<uint64_t>(to.source_port) << 16 | to.local_port;
  w[5] = counter;
  return hash_.words(w, 6);
}

uint64_t Challenger::next_cookie(const ChallengeTarget& to) {
  return hash_of(to, ++counter_);
}

uint64_t Challenger::kernel_hash(const ChallengeTarget& to, uint32_t seq) const {
  return hash_of(to, kKernelCounterBit | seq);
}

// An outbound SYN-ACK shaped like a challenge (window 65535, one option: MSS 1460) whose ack is
// the kernel's cookie for its four-tuple and seq: the kernel's challenge. It is outstanding from
// now as if this process had sent it (same answer check, same per-source budget), and it takes a
// token from the bucket if one is left, so that the two senders together stay near one budget.
Answer Challenger::on_kernel_challenge(const PacketEvent& ev) {
  if (ev.window != 65535 || ev.options.count != 1 || ev.options.mss != 1460 || ev.payload_len != 0)
    return Answer::None;
  ChallengeTarget to;
  to.source = ev.dst;
  to.local = ev.src;
  to.source_port = ev.dport;
  to.local_port = ev.sport;
  to.has_macs = ev.has_macs;
  to.source_mac = ev.dst_mac;
  to.local_mac = ev.src_mac;
  if (static_cast<uint32_t>(kernel_hash(to, ev.seq)) != ev.ack) return Answer::None;
  Entry* e = table_.find_or_insert(to.source).first;
  e->to = to;
  e->sent_us = ev.ts_us;
  e->cookie = ev.ack;
  e->count += 1;
  e->wrong = 0;
  e->outstanding = true;
  e->answered = false;
  e->has_prepared = false;
  e->kernel = true;
  if (refill_us_ == 0) refill_us_ = ev.ts_us;
  if (ev.ts_us > refill_us_) {
    tokens_ = std::min(cfg_.burst,
                       tokens_ + cfg_.rate * static_cast<double>(ev.ts_us - refill_us_) / 1e6);
    refill_us_ = ev.ts_us;
  }
  tokens_ = std::max(0.0, tokens_ - 1.0);
  ++stats_.sent;
  ++stats_.kernel;
  return Answer::Kernel;
}

PacketEvent kernel_refusal(const PacketEvent& c) {
  PacketEvent r;
  r.ts_us = c.ts_us;
  r.src = c.src;
  r.dst = c.dst;
  r.has_macs = c.has_macs;
  r.src_mac = c.src_mac;
  r.dst_mac = c.dst_mac;
  r.ttl = c.ttl;
  if (c.seq & 1) {  // an ICMP port unreachable quoting the UDP probe
    const bool v4 = c.src.is_v4();
    r.proto = v4 ? kProtoIcmp : kProtoIcmp6;
    r.icmp_type = v4 ? 3 : 1;
    r.icmp_code = v4 ? 3 : 4;
    r.quote.present = true;
    r.quote.proto = kProtoUdp;
    r.quote.src = c.dst;
    r.quote.dst = c.src;
    r.quote.sport = c.dport;
    r.quote.dport = c.sport;
  } else {  // a RST+ACK
    r.proto = kProtoTcp;
    r.sport = c.sport;
    r.dport = c.dport;
    r.tcp_flags = tcpf::kRst | tcpf::kAck;
  }
  return r;
}

std::optional<ChallengePacket> Challenger::prepare(const ChallengeTarget& to, int64_t now_us) {
  if (cfg_.simulate || (to.source_port == 0 && to.local_port == 0)) return std::nullopt;
  Entry* e = table_.find(to.source);
  if (e) {
    if (e->count >= cfg_.max_per_source || (e->count > 0 && now_us - e->sent_us < cfg_.interval_us))
      return std::nullopt;
    if (e->outstanding && now_us - e->sent_us <= cfg_.timeout_us) return std::nullopt;
    if (e->has_prepared && now_us - e->prepared_us <= cfg_.timeout_us) return std::nullopt;
  }
  if (prep_refill_us_ == 0) prep_refill_us_ = now_us;
  if (now_us > prep_refill_us_) {
    prep_tokens_ = std::min(
        cfg_.burst, prep_tokens_ + cfg_.rate * static_cast<double>(now_us - prep_refill_us_) / 1e6);
    prep_refill_us_ = now_us;
  }
  if (prep_tokens_ < 1.0) return std::nullopt;
  prep_tokens_ -= 1.0;
  if (!e) e = table_.find_or_insert(to.source).first;
  uint64_t h = next_cookie(to);
  e->has_prepared = true;
  e->prepared_us = now_us;
  e->prepared = ChallengePacket{to, static_cast<uint32_t>(h >> 32), static_cast<uint32_t>(h), true};
  ++stats_.prepared;
  return e->prepared;
}

bool Challenger::prepared(const IpAddress& source, int64_t now_us) {
  Entry* e = table_.find(source);
  return e && e->has_prepared && now_us - e->prepared_us <= cfg_.timeout_us;
}

void Challenger::forget_prepared(const IpAddress& source) {
  if (Entry* e = table_.find(source)) e->has_prepared = false;
}

bool Challenger::outstanding(const IpAddress& source, int64_t now_us) {
  Entry* e = table_.find(source);
  return e && e->outstanding && now_us - e->sent_us <= cfg_.timeout_us;
}

bool Challenger::kernel_challenged(const IpAddress& source) {
  Entry* e = table_.find(source);
  return e && e->kernel;
}

bool Challenger::kernel_outstanding(const IpAddress& source, int64_t now_us) {
  Entry* e = table_.find(source);
  return e && e->kernel && e->outstanding && now_us - e->sent_us <= cfg_.timeout_us;
}

Issue Challenger::challenge(const ChallengeTarget& to, int64_t now_us, bool early) {
  if (to.source_port == 0 && to.local_port == 0) return Issue::NoTarget;
  Entry* e = table_.find(to.source);
  if (e) {
    if (e->count >= cfg_.max_per_source) {
      ++stats_.limited_source;
      return Issue::SourceBudget;
    }
    if (e->count > 0 && now_us - e->sent_us < cfg_.interval_us) {  // (a prepared entry: 0)
      ++stats_.limited_source;
      return Issue::TooSoon;
    }
  }
  // The overall token bucket.
  if (refill_us_ == 0) refill_us_ = now_us;
  if (now_us > refill_us_) {
    tokens_ =
        std::min(cfg_.burst, tokens_ + cfg_.rate * static_cast<double>(now_us - refill_us_) / 1e6);
    refill_us_ = now_us;
  }
  if (tokens_ < 1.0 + (early ? cfg_.burst * cfg_.early_reserve : 0.0)) {
    ++stats_.limited_global;
    return Issue::GlobalBudget;
  }
  tokens_ -= 1.0;
  if (!e) e = table_.find_or_insert(to.source).first;
  // A fresh prepared challenge is this one (its cookie is in the kernel already); an early
  // challenge never takes it.
  ChallengePacket p;
  if (!early && e->has_prepared && now_us - e->prepared_us <= cfg_.timeout_us) {
    p = e->prepared;
  } else {
    uint64_t h = next_cookie(to);
    p = ChallengePacket{to, static_cast<uint32_t>(h >> 32), static_cast<uint32_t>(h), false};
  }
  e->has_prepared = false;
  e->kernel = false;
  e->to = p.to;
  e->sent_us = now_us;
  e->cookie = p.ack;
  e->wrong = 0;
  e->outstanding = true;
  e->answered = false;
  ++e->count;
  if (cfg_.simulate) {
    ++stats_.simulated;
    if (early) ++stats_.early;
    return Issue::Simulated;
  }
  if (send_ && send_(p) != 0) {
    ++stats_.send_errors;
    e->outstanding = false;
    return Issue::SendFailed;
  }
  ++stats_.sent;
  if (p.prepared) ++stats_.prepared_sent;
  if (early) ++stats_.early;
  return Issue::Sent;
}

Answer Challenger::on_packet(const PacketEvent& ev, IpAddress& proven) {
  if (!ev.is_tcp() || (table_.size() == 0 && !cfg_.kernel_challenges)) return Answer::None;
  if ((ev.tcp_flags & (tcpf::kSyn | tcpf::kAck)) == (tcpf::kSyn | tcpf::kAck)) {
    // Our own challenge leaving (the capture sees outgoing frames too).
    Entry* e = table_.find(ev.dst);
    if (e && e->to.local == ev.src && e->to.local_port == ev.sport &&
        e->to.source_port == ev.dport && ev.ack == e->cookie)
      return Answer::Own;
    if (cfg_.kernel_challenges && !cfg_.simulate) return on_kernel_challenge(ev);
    return Answer::None;
  }
  if (!(ev.tcp_flags & tcpf::kRst) || table_.size() == 0) return Answer::None;
  Entry* e = table_.find(ev.src);
  if (!e || e->to.local != ev.dst || e->to.local_port != ev.dport || e->to.source_port != ev.sport)
    return Answer::None;
  if (ev.seq != e->cookie) {
    ++stats_.wrong;
    if (e->outstanding && ++e->wrong >= cfg_.max_wrong)
      e->outstanding = false;  // void: no guessing
    return Answer::WrongSeq;
  }
  if (e->answered) {
    ++stats_.replayed;
    return Answer::Replayed;
  }
  if (!e->outstanding && ev.ts_us - e->sent_us <= cfg_.timeout_us) {
    ++stats_.wrong;  // voided by too many wrong guesses
    return Answer::WrongSeq;
  }
  if (!e->outstanding || ev.ts_us - e->sent_us > cfg_.timeout_us) {
    ++stats_.late;
    e->outstanding = false;
    return Answer::Late;
  }
  if (e->to.has_macs && ev.has_macs && ev.src_mac != e->to.source_mac) {
    ++stats_.wrong_path;
    return Answer::WrongPath;
  }
  e->outstanding = false;
  e->answered = true;
  ++stats_.proven;
  proven = ev.src;
  return Answer::Proven;
}

ChallengeStats Challenger::stats() const {
  ChallengeStats s = stats_;
  s.tracked = table_.size();
  return s;
}

std::optional<uint32_t> Challenger::cookie_of(const IpAddress& source) {
  Entry* e = table_.find(source);
  if (!e) return std::nullopt;
  return e->cookie;
}

size_t build_challenge_frame(const ChallengePacket& p, uint8_t* out) {
  const ChallengeTarget& t = p.to;
  if (t.source.family != t.local.family) return 0;
  net::SynTemplateParams params;
  params.src = t.local;
  params.ethernet = t.has_macs;
  params.src_mac = t.local_mac;
  params.dst_mac = t.source_mac;
  params.ttl = 64;
  params.dont_fragment = true;
  params.window = 65535;
  net::TcpSynTemplate tmpl(params);
  size_t n = tmpl.build(out, t.source, t.local_port, t.source_port, p.seq, 0);
  if (n == 0) return 0;
  // Turn the SYN into a SYN-ACK acknowledging the cookie: flags and ack, checksum updated.
  uint8_t* tcp = out + tmpl.tcp_offset();
  uint16_t csum = static_cast<uint16_t>(tcp[16] << 8 | tcp[17]);
  uint16_t old_word = static_cast<uint16_t>(tcp[12] << 8 | tcp[13]);
  tcp[13] = tcpf::kSyn | tcpf::kAck;
  uint16_t new_word = static_cast<uint16_t>(tcp[12] << 8 | tcp[13]);
  csum = net::csum_update16(csum, old_word, new_word);
  uint32_t old_ack = static_cast<uint32_t>(tcp[8]) << 24 | tcp[9] << 16 | tcp[10] << 8 | tcp[11];
  tcp[8] = static_cast<uint8_t>(p.ack >> 24);
  tcp[9] = static_cast<uint8_t>(p.ack >> 16);
  tcp[10] = static_cast<uint8_t>(p.ack >> 8);
  tcp[11] = static_cast<uint8_t>(p.ack);
  csum = net::csum_update32(csum, old_ack, p.ack);
  tcp[16] = static_cast<uint8_t>(csum >> 8);
  tcp[17] = static_cast<uint8_t>(csum);
  return n;
}

}  // namespace gh::detect
