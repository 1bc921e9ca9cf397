#include "auth/watch_auth.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "auth/signed_scope.h"
#include "core/error.h"
#include "output/json.h"

namespace gh::auth {
namespace {

std::vector<std::string> scope_files(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw UsageError("--scope: cannot read " + path);
  if (!S_ISDIR(st.st_mode)) return {path};
  struct DirClose {
    void operator()(DIR* d) const { closedir(d); }
  };
  std::unique_ptr<DIR, DirClose> dir(opendir(path.c_str()));
  if (!dir) throw UsageError("--scope: cannot read directory " + path);
  std::vector<std::string> out;
  while (dirent* e = readdir(dir.get())) {
    std::string n = e->d_name;
    if (n.size() > 5 && n.compare(n.size() - 5, 5, ".toml") == 0) out.push_back(path + "/" + n);
  }
  std::sort(out.begin(), out.end());
  if (out.empty()) throw UsageError("--scope: directory " + path + " holds no *.toml scope");
  return out;
}

WallClock::time_point wall_of(int64_t ts_us) {
  return WallClock::time_point(
      std::chrono::duration_cast<WallClock::duration>(std::chrono::microseconds(ts_us)));
}

// "198.18.0.2:22", "[2001:db8::2]:22"; UDP probes end in "/udp"; ICMP echo requests are
// "198.18.0.2 (ICMP echo)".
std::string probe_text(const IpAddress& dst, uint16_t port, uint8_t proto = detect::kProtoTcp) {
  if (proto == detect::kProtoIcmp || proto == detect::kProtoIcmp6)
    return dst.to_string() + " (ICMP echo)";
  const char* suffix = proto == detect::kProtoUdp ? "/udp" : "";
  return dst.is_v4() ? fmt::format("{}:{}{}", dst.to_string(), port, suffix)
                     : fmt::format("[{}]:{}{}", dst.to_string(), port, suffix);
}

std::string probe_text(const detect::PacketEvent& ev) {
  return probe_text(ev.dst, ev.dport, ev.proto);
}

}  // namespace

std::vector<WatchedEngagement> load_watched_scopes(const std::vector<std::string>& scope_paths,
                                                   const std::vector<std::string>& owner_keys) {
  if (owner_keys.empty())
    throw UsageError("--scope needs --owner-key: watch trusts only scopes the owner signed");
  if (scope_paths.empty())
    throw UsageError("--owner-key needs --scope: the signed scopes whose scans to recognize");
  std::vector<PublicKey> trusted = load_trusted_keys(owner_keys);
  std::vector<WatchedEngagement> out;
  for (const auto& p : scope_paths)
    for (const auto& file : scope_files(p)) {
      WatchedEngagement e;
      e.scope = load_scope(file);
      SignatureCheck c = check_scope_signature(e.scope.text, trusted, file);
      if (c.status != SignatureStatus::Verified)
        throw UsageError(fmt::format("--scope {}: {}", file, describe(c)));
      if (!e.scope.announce)
        throw UsageError(fmt::format(
            "--scope {}: no [announce] secret, so its scans cannot be recognized", file));
      e.key = AnnounceKey::derive(e.scope.announce->secret, c.body_sha256);
      for (const auto& other : out)
        if (other.key.handle == e.key.handle)
          throw UsageError(
              fmt::format("--scope {}: the same engagement as {}", file, other.scope.source));
      e.signer = c.signer;
      e.signer_key = c.signer_key;
      out.push_back(std::move(e));
    }
  return out;
}

std::string_view to_string(AuthVerdict v) {
  switch (v) {
    case AuthVerdict::None:
      return "none";
    case AuthVerdict::Authorized:
      return "authorized";
    case AuthVerdict::Replayed:
      return "replayed";
    case AuthVerdict::Forged:
      return "forged";
    case AuthVerdict::Violation:
      return "violation";
  }
  return "?";
}

std::string to_json(const AuthRecord& r) {
  JsonObject o;
  o.str("kind", "authorization").str("verdict", to_string(r.verdict));
  o.str("time", detect::format_time(r.ts_us)).str("src", r.src.to_string());
  o.str("probe", probe_text(r.dst, r.dport, r.proto));
  if (const WatchedEngagement* e = r.engagement) {
    const Engagement& g = e->scope.engagement;
    o.str("engagement", g.id).str("authorized_by", g.authorized_by);
    if (!g.contact.empty()) o.str("contact", g.contact);
    o.str("signer", e->signer).str("scope_file", e->scope.source);
  }
  o.str("evidence", r.evidence);
  return o.done();
}

std::string to_text(const AuthRecord& r) {
  std::string who;
  if (const WatchedEngagement* e = r.engagement) {
    const Engagement& g = e->scope.engagement;
    who = fmt::format("engagement {}, authorized by {}{}", g.id, g.authorized_by,
                      g.contact.empty() ? "" : ", contact " + g.contact);
  }
  switch (r.verdict) {
    case AuthVerdict::Authorized:
      return fmt::format("AUTHORIZED scan from {}: {} (signed by {})", r.src.to_string(), who,
                         r.engagement->signer);
    case AuthVerdict::Violation:
      return fmt::format("AUTHORIZATION VIOLATION by {}: {}; {}", r.src.to_string(), r.evidence,
                         who);
    case AuthVerdict::Forged:
      return fmt::format("FORGED authorization tag from {}: {}", r.src.to_string(), r.evidence);
    case AuthVerdict::Replayed:
      return fmt::format("REPLAYED authorization tag from {}: {}", r.src.to_string(), r.evidence);
    case AuthVerdict::None:
      break;
  }
  return "";
}

AuthMonitor::AuthMonitor(std::vector<WatchedEngagement> engagements, detect::PrefixSet local,
                         Listener listener)
    : engagements_(std::move(engagements)),
      local_(std::move(local)),
      listener_(std::move(listener)) {}

const AuthMonitor::SourceView* AuthMonitor::source(const IpAddress& src) const {
  auto it = sources_.find(src);
  return it == sources_.end() ? nullptr : &it->second.view;
}

void AuthMonitor::remember(uint64_t tag, const detect::PacketEvent& ev) {
  if (tags_.count(tag) != 0) return;
  if (tag_order_.size() >= kMaxTags) {
    tags_.erase(tag_order_.front());
    tag_order_.pop_front();
  }
  tags_[tag] = SeenTag{ev.src, ev.dst, ev.dport, ev.proto, ev.ts_us};
  tag_order_.push_back(tag);
}

std::string AuthMonitor::strays(Source& s, const detect::PacketEvent& ev,
                                const WatchedEngagement& e) {
  const Scope& sc = e.scope;
  if (!sc.authorized.contains(ev.dst))
    return fmt::format("{} is outside the signed targets of engagement {}", probe_text(ev),
                       sc.engagement.id);
  if (sc.ports && (ev.is_tcp() || ev.is_udp())) {
    const std::vector<uint16_t>& signed_ports = ev.is_udp() ? sc.ports->udp : sc.ports->tcp;
    if (!std::binary_search(signed_ports.begin(), signed_ports.end(), ev.dport))
      return fmt::format("{} port {} ({}) is outside the signed ports {}",
                         ev.is_udp() ? "UDP" : "TCP", ev.dport, probe_text(ev), sc.ports_text);
  }
  auto t = wall_of(ev.ts_us);
  const Engagement& g = sc.engagement;
  if ((g.not_before && t < *g.not_before) || (g.not_after && t > *g.not_after))
    return fmt::format("probe at {} is outside the signed window {}", detect::format_time(ev.ts_us),
                       format_window(g));
  // Rate: probes in the current second against the signed max_rate, with room for the bursts a
  // batching sender makes (twice the rate, plus 10).
  int64_t second = ev.ts_us / 1'000'000;
  if (second != s.second) {
    s.second = second;
    s.in_second = 0;
  }
  ++s.in_second;
  if (sc.limits.max_rate > 0 && static_cast<double>(s.in_second) > 2 * sc.limits.max_rate + 10)
    return fmt::format("{} probes within one second, above the signed max_rate of {:g}/s",
                       s.in_second, sc.limits.max_rate);
  return {};
}

void AuthMonitor::judge(Source& s, const detect::PacketEvent& ev, AuthVerdict v,
                        const WatchedEngagement* e, std::string evidence) {
  SourceView& view = s.view;
  if (v > view.verdict) {
    view.verdict = v;
    view.evidence = evidence;
    if (e != nullptr) view.engagement = e;
  }
  if (view.engagement == nullptr) view.engagement = e;
  uint8_t bit = static_cast<uint8_t>(1u << static_cast<unsigned>(v));
  if ((s.reported & bit) != 0) return;
  s.reported |= bit;
  if (listener_)
    listener_(AuthRecord{v, ev.ts_us, ev.src, ev.dst, ev.dport, e, std::move(evidence), ev.proto});
}

void AuthMonitor::on_packet(const detect::PacketEvent& ev) {
  // Probes: TCP SYNs (no ACK) and UDP datagrams; tagged, any TCP segment (an ACK ping) and ICMP
  // echo requests (host discovery, scan/probe_ping_icmp.h).
  const bool syn = ev.is_tcp() && ev.has(detect::tcpf::kSyn) && !ev.has(detect::tcpf::kAck);
  if (!ev.is_udp() && !syn && !(ev.has_announce && (ev.is_tcp() || ev.is_icmp()))) return;
  if (!local_.contains(ev.dst) || local_.contains(ev.src)) return;
  auto it = sources_.find(ev.src);
  if (!ev.has_announce) {
    // Untagged: only of interest from a source that showed valid tags (a stripped option, or a
    // source that strays without its tag).
    if (it == sources_.end() || it->second.view.engagement == nullptr || it->second.view.valid == 0)
      return;
    Source& s = it->second;
    ++s.view.untagged;
    // An untagged UDP datagram is counted, not judged: replies and other flows from that address
    // (a shared NAT address, a server on the operator's machine) use any port, and a datagram
    // does not say who began its flow. Tagged UDP probes that stray are judged below.
    if (ev.is_udp()) return;
    std::string why = strays(s, ev, *s.view.engagement);
    if (!why.empty()) {
      ++s.view.stray;
      judge(s, ev, AuthVerdict::Violation, s.view.engagement, why + " (untagged probe)");
    }
    return;
  }
  if (it == sources_.end()) {
    if (sources_.size() >= kMaxSources) sources_.clear();
    it = sources_.emplace(ev.src, Source{}).first;
  }
  Source& s = it->second;
  const net::AnnounceOption& o = ev.announce;
  const WatchedEngagement* e = nullptr;
  for (const auto& cand : engagements_)
    if (cand.key.handle == o.handle) e = &cand;
  if (e == nullptr) {
    ++s.view.invalid;
    judge(s, ev, AuthVerdict::Forged, nullptr,
          fmt::format("tag on {} names engagement handle {:08x}, which no scope signed by this "
                      "owner has (another key)",
                      probe_text(ev), o.handle));
    return;
  }
  const int64_t now_s = ev.ts_us / 1'000'000;
  const uint32_t now_epoch = epoch_of(now_s);
  const uint32_t epoch = nearest_epoch(o.epoch_lo, now_epoch);
  const AnnounceKey::Check check = e->key.check(o.tag, ev.src, ev.dst, ev.proto, ev.dport, epoch);
  auto seen = tags_.find(o.tag);
  if (check == AnnounceKey::Check::Invalid) {
    ++s.view.invalid;
    if (seen != tags_.end()) {
      const SeenTag& t = seen->second;
      judge(s, ev, AuthVerdict::Replayed, e,
            fmt::format("tag on {} is the one {} sent to {} at {} (engagement {})", probe_text(ev),
                        t.src.to_string(), probe_text(t.dst, t.dport, t.proto),
                        detect::format_time(t.ts_us), e->scope.engagement.id));
    } else {
      judge(s, ev, AuthVerdict::Forged, e,
            fmt::format("tag on {} does not verify under the key of engagement {}", probe_text(ev),
                        e->scope.engagement.id));
    }
    return;
  }
  int64_t skew = static_cast<int64_t>(epoch) - static_cast<int64_t>(now_epoch);
  if (skew > kEpochSlack || skew < -kEpochSlack) {
    ++s.view.invalid;
    judge(s, ev, AuthVerdict::Replayed, e,
          fmt::format("tag on {} was made for minute {} and seen at minute {}: out of its time "
                      "window",
                      probe_text(ev), epoch, now_epoch));
    return;
  }
  // The tag does not bind the source address (a NAT may rewrite it): the same tag from a second
  // source is a copy of the first's probe.
  if (seen != tags_.end() && seen->second.src != ev.src) {
    ++s.view.invalid;
    const SeenTag& t = seen->second;
    judge(s, ev, AuthVerdict::Replayed, e,
          fmt::format("tag on {} is the one {} sent to the same probe at {}: a copy from another "
                      "source (engagement {})",
                      probe_text(ev), t.src.to_string(), detect::format_time(t.ts_us),
                      e->scope.engagement.id));
    return;
  }
  remember(o.tag, ev);
  ++s.view.valid;
  const bool translated = check == AnnounceKey::Check::Translated;
  if (translated) ++s.view.translated;
  std::string why = strays(s, ev, *e);
  if (!why.empty()) {
    ++s.view.stray;
    judge(s, ev, AuthVerdict::Violation, e, why);
    return;
  }
  judge(s, ev, AuthVerdict::Authorized, e,
        fmt::format("valid tag on {}, inside the signed scope{}", probe_text(ev),
                    translated ? "; made for another source address: translated on the path "
                                 "(NAT), recognized at a lower confidence"
                               : ""));
}

void AuthMonitor::annotate(detect::Alert& a) const {
  const SourceView* v = source(a.src);
  if (v == nullptr || v->verdict == AuthVerdict::None) return;
  a.authorization = std::string(to_string(v->verdict));
  a.auth_evidence = v->evidence;
  a.auth_counts = fmt::format("{} valid ({} translated), {} invalid, {} stray, {} untagged",
                              v->valid, v->translated, v->invalid, v->stray, v->untagged);
  if (const WatchedEngagement* e = v->engagement) {
    a.engagement = e->scope.engagement.id;
    a.authorized_by = e->scope.engagement.authorized_by;
    a.contact = e->scope.engagement.contact;
    a.signer = e->signer;
  }
}

}  // namespace gh::auth
