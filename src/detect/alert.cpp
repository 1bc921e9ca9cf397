#include "detect/alert.h"

#include <fmt/format.h>

#include <ctime>

#include "output/json.h"

namespace gh::detect {

std::string_view to_string(ProbeType t) {
  switch (t) {
    case ProbeType::Syn:
      return "syn";
    case ProbeType::Connect:
      return "connect";
    case ProbeType::Fin:
      return "fin";
    case ProbeType::Null:
      return "null";
    case ProbeType::Xmas:
      return "xmas";
    case ProbeType::Ack:
      return "ack";
    case ProbeType::Udp:
      return "udp";
    case ProbeType::Ping:
      return "ping";
  }
  return "?";
}

std::string_view to_string(Shape s) {
  switch (s) {
    case Shape::Vertical:
      return "vertical";
    case Shape::Horizontal:
      return "horizontal";
    case Shape::Block:
      return "block";
  }
  return "?";
}

std::string_view to_string(AlertEvent e) {
  switch (e) {
    case AlertEvent::New:
      return "new";
    case AlertEvent::Update:
      return "update";
    case AlertEvent::End:
      return "end";
  }
  return "?";
}

std::string_view to_string(Direction d) {
  switch (d) {
    case Direction::Inbound:
      return "inbound";
    case Direction::Internal:
      return "internal";
    case Direction::Outbound:
      return "outbound";
  }
  return "?";
}

std::string_view to_string(Proof p) {
  switch (p) {
    case Proof::None:
      return "none";
    case Proof::Handshake:
      return "handshake";
    case Proof::Challenge:
      return "challenge";
  }
  return "?";
}

// UDP scans by what answered most: open services, closed ports, or nothing (filtered).
std::string_view udp_class(const Alert& a) {
  if (a.udp_answered >= a.udp_refused && a.udp_answered >= a.udp_unanswered && a.udp_answered)
    return "open-services";
  if (a.udp_refused >= a.udp_unanswered && a.udp_refused) return "closed-ports";
  return "unanswered";
}

std::string rules_to_string(uint8_t bits, char sep) {
  static constexpr std::pair<uint8_t, const char*> kNames[] = {{rule::kTrw, "trw"},
                                                               {rule::kVertical, "vertical"},
                                                               {rule::kHorizontal, "horizontal"},
                                                               {rule::kFlags, "flags"},
                                                               {rule::kUdpRefused, "udp-refused"},
                                                               {rule::kWorm, "worm"}};
  std::string out;
  for (auto [bit, name] : kNames) {
    if (!(bits & bit)) continue;
    if (!out.empty()) out += sep;
    out += name;
  }
  return out;
}

std::string format_time(int64_t ts_us) {
  int64_t secs = ts_us >= 0 ? ts_us / 1000000 : (ts_us - 999999) / 1000000;
  int64_t micros = ts_us - secs * 1000000;
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
}

namespace {

std::string score_json(double s) {
  // JSON has no infinity; the walk is clamped well below it anyway.
  if (!(s < 1e300)) s = 1e300;
  return fmt::format("{:.6g}", s);
}

}  // namespace

std::string to_json(const Alert& a) {
  std::string o;
  o.reserve(512);
  auto out = std::back_inserter(o);
  fmt::format_to(
      out, R"({{"id":"{}","event":"{}","src":"{}","direction":"{}","type":"{}","shape":"{}",)",
      gh::json_escape(a.id), to_string(a.event), a.src.to_string(), to_string(a.direction),
      to_string(a.type), to_string(a.shape));
  fmt::format_to(out, R"("first_seen":"{}","last_seen":"{}","detected_at":"{}",)",
                 format_time(a.first_seen_us), format_time(a.last_seen_us),
                 format_time(a.detected_us));
  fmt::format_to(out,
                 R"("probes":{},"attempts":{},"failures":{},"successes":{},"ports":{},"hosts":{},)",
                 a.probes, a.attempts, a.failures, a.successes, a.ports, a.hosts);
  o += "\"sample_ports\":[";
  for (size_t i = 0; i < a.sample_ports.size(); ++i)
    fmt::format_to(out, "{}{}", i ? "," : "", a.sample_ports[i]);
  o += "],\"sample_hosts\":[";
  for (size_t i = 0; i < a.sample_hosts.size(); ++i)
    fmt::format_to(out, "{}\"{}\"", i ? "," : "", a.sample_hosts[i].to_string());
  o += "],\"types\":{";
  bool first = true;
  for (size_t i = 0; i < kProbeTypeCount; ++i) {
    if (a.by_type[i] == 0) continue;
    fmt::format_to(out, "{}\"{}\":{}", first ? "" : ",", to_string(static_cast<ProbeType>(i)),
                   a.by_type[i]);
    first = false;
  }
  fmt::format_to(out, R"(}},"score":{},"detected_by":[)", score_json(a.score));
  std::string rules = rules_to_string(a.detected_by, ',');
  first = true;
  for (size_t start = 0; start < rules.size();) {
    size_t end = rules.find(',', start);
    if (end == std::string::npos) end = rules.size();
    fmt::format_to(out, "{}\"{}\"", first ? "" : ",", rules.substr(start, end - start));
    first = false;
    start = end + 1;
  }
  o += "]";
  if (a.tool) {
    fmt::format_to(out, R"(,"tool":{{"name":"{}","guess":true,"evidence":"{}"}})",
                   gh::json_escape(a.tool->name), gh::json_escape(a.tool->evidence));
  }
  if (!a.authorization.empty()) {
    fmt::format_to(out, R"(,"authorization":{{"verdict":"{}","evidence":"{}","counts":"{}")",
                   gh::json_escape(a.authorization), gh::json_escape(a.auth_evidence),
                   gh::json_escape(a.auth_counts));
    if (!a.engagement.empty())
      fmt::format_to(out, R"(,"engagement":"{}","authorized_by":"{}","contact":"{}","signer":"{}")",
                     gh::json_escape(a.engagement), gh::json_escape(a.authorized_by),
                     gh::json_escape(a.contact), gh::json_escape(a.signer));
    o += "}";
  }
  if (a.by_type[static_cast<size_t>(ProbeType::Udp)] > 0)
    fmt::format_to(out, R"(,"udp":{{"class":"{}","answered":{},"refused":{},"unanswered":{}}})",
                   udp_class(a), a.udp_answered, a.udp_refused, a.udp_unanswered);
  fmt::format_to(out, R"(,"verified":{})", a.verified);
  if (a.verified) fmt::format_to(out, R"(,"proof":"{}")", to_string(a.proof));
  if (!a.challenge.empty())
    fmt::format_to(out, R"(,"challenge":"{}")", gh::json_escape(a.challenge));
  fmt::format_to(out, R"(,"blocked":{})", a.blocked);
  if (!a.block_note.empty())
    fmt::format_to(out, R"(,"block_note":"{}")", gh::json_escape(a.block_note));
  if (a.block_latency) {
    const Alert::Latency& l = *a.block_latency;
    fmt::format_to(out,
                   R"(,"block_latency_us":{{"probe_wait":{},"challenge_rtt":{},"answer_wait":{},)"
                   R"("nft":{},"total":{}}})",
                   l.probe_wait, l.challenge_rtt, l.answer_wait, l.nft, l.total);
  }
  o += "}";
  return o;
}

std::string to_text(const Alert& a) {
  std::string s = fmt::format(
      "{} {}: {}{} scan, {}, {} probe{} to {} port{} on {} host{}",
      a.event == AlertEvent::New   ? "ALERT"
      : a.event == AlertEvent::End ? "ALERT END"
                                   : "ALERT UPDATE",
      a.src.to_string(),
      a.direction == Direction::Inbound ? "" : fmt::format("{} ", to_string(a.direction)),
      to_string(a.type), to_string(a.shape), a.probes, a.probes == 1 ? "" : "s", a.ports,
      a.ports == 1 ? "" : "s", a.hosts, a.hosts == 1 ? "" : "s");
  s += fmt::format(" (score {:.3g}, by {}", a.score, rules_to_string(a.detected_by, '+'));
  if (a.tool) s += fmt::format(", likely {}: {}", a.tool->name, a.tool->evidence);
  s += ")";
  if (!a.authorization.empty())
    s += fmt::format(" [{}{}: {}]", a.authorization,
                     a.engagement.empty() ? "" : ", engagement " + a.engagement, a.auth_evidence);
  if (a.blocked)
    s += " [blocked]";
  else if (!a.block_note.empty())
    s += fmt::format(" [not blocked: {}]", a.block_note);
  return s;
}

}  // namespace gh::detect
