#include "audit/run_record.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <map>
#include <random>

#include <fmt/format.h>

#include "audit/json_read.h"
#include "output/json.h"

namespace gh {
namespace {

std::string decimal(u128 n) {
  std::string d;
  do {
    d += static_cast<char>('0' + static_cast<int>(n % 10));
    n /= 10;
  } while (n != 0);
  return {d.rbegin(), d.rend()};
}

JsonObject common(const RunFacts& f, std::string_view event, WallClock::time_point now) {
  JsonObject o;
  o.str("event", event).str("time", utc_timestamp(now)).str("run", f.run_id);
  o.str("user", f.op.user).num("uid", static_cast<uint64_t>(f.op.uid));
  if (!f.op.sudo_user.empty()) o.str("sudo_user", f.op.sudo_user);
  o.str("host", f.op.host).num("pid", f.op.pid);
  o.str("command", f.command);
  if (!f.resumes.empty()) o.str("resumes", f.resumes);
  if (!f.engagement.empty()) {
    o.str("engagement", f.engagement).str("authorized_by", f.authorized_by);
    if (!f.contact.empty()) o.str("contact", f.contact);
    o.str("scope_file", f.scope_file).str("scope_sha256", f.scope_sha256);
    o.str("window", f.window);
    // Signed scopes (src/auth): whose key signed it, and whether it verified.
    if (!f.scope_signature.empty()) o.str("scope_signature", f.scope_signature);
    if (!f.scope_signer.empty()) o.str("scope_signer", f.scope_signer);
    if (!f.scope_signer_key.empty()) o.str("scope_signer_key", f.scope_signer_key);
    if (f.announce) o.raw("announce", "true");
  }
  if (!f.scan_type.empty()) o.str("scan_type", f.scan_type);
  if (!f.scan_types.empty()) o.raw("scan_types", json_string_array(f.scan_types));
  if (!f.source_ips.empty()) o.str("source_ips", f.source_ips);
  if (f.counted) {
    o.raw("targets", decimal(f.targets)).num("ports", f.ports).raw("excluded", decimal(f.excluded));
    if (f.max_rate > 0) o.num("max_rate", f.max_rate);
    if (f.max_host_rate > 0) o.num("max_host_rate", f.max_host_rate);
  }
  return o;
}

// Printable, one line, at most `width` characters (with "..." when cut).
std::string cell(std::string_view s, size_t width) {
  std::string out;
  for (char c : s) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  if (out.size() > width) out = out.substr(0, width - 3) + "...";
  return out;
}

std::string text_of(const JsonValue& rec, std::string_view key, std::string_view none = "-") {
  const JsonValue* v = rec.get(key);
  if (v == nullptr || v->type == JsonValue::Type::Null) return std::string(none);
  if (v->type == JsonValue::Type::String || v->type == JsonValue::Type::Number) return v->text;
  if (v->type == JsonValue::Type::Bool) return v->boolean ? "true" : "false";
  return std::string(none);
}

}  // namespace

Operator current_operator() {
  Operator op;
  op.uid = ::getuid();
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  ::getpwuid_r(op.uid, &pw, buf.data(), buf.size(), &found);
  op.user = found != nullptr ? pw.pw_name : std::to_string(op.uid);
  if (op.uid == 0)
    if (const char* s = std::getenv("SUDO_USER")) op.sudo_user = s;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0) op.host = host;
  op.pid = ::getpid();
  return op;
}

std::string new_run_id() {
  std::random_device rd;
  uint64_t v = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  return fmt::format("{:016x}", v);
}

std::string start_record(const RunFacts& f, WallClock::time_point now) {
  return common(f, "start", now).done();
}

std::string end_record(const RunFacts& f, const RunOutcome& r, WallClock::time_point now) {
  JsonObject o = common(f, "end", now);
  if (!r.privileges.empty()) o.str("privileges", r.privileges);
  o.num("probes_sent", r.probes_sent).num("replies", r.replies).num("open_ports", r.open_ports);
  o.num("refused_probes", r.refused_probes);
  std::string outputs = "[";
  for (const auto& [file, hash] : r.outputs) {
    if (outputs.size() > 1) outputs += ',';
    JsonObject out;
    out.str("file", file);
    if (hash)
      out.str("sha256", *hash);
    else
      out.null("sha256");
    outputs += out.done();
  }
  outputs += ']';
  o.raw("outputs", outputs);
  if (r.load.measured) {
    const LoadEvidence& e = r.load;
    JsonObject l;
    l.num("max_rate", e.max_rate, 0).num("max_host_rate", e.max_host_rate, 0);
    l.num("max_rtt_inflation", e.max_rtt_inflation, 2);
    l.num("max_rtt_inflation_ms", e.max_rtt_inflation_ms, 2);
    l.num("backoffs", e.backoffs()).num("backoffs_loss", e.backoffs_loss);
    l.num("backoffs_rtt", e.backoffs_rtt).num("backoffs_icmp", e.backoffs_icmp);
    l.num("backoffs_kernel", e.backoffs_kernel).num("hosts_backed_off", e.hosts_backed_off);
    l.num("hosts_impaired", e.hosts_impaired).boolean("impairment", e.hosts_impaired > 0);
    o.raw("load", l.done());
  }
  o.str("exit", r.exit_reason).num("status", r.status);
  return o.done();
}

std::string refused_record(const RunFacts& f, std::string_view reason, int status,
                           WallClock::time_point now) {
  JsonObject o = common(f, "refused", now);
  o.str("exit", reason).num("status", status);
  return o.done();
}

std::string audit_runs_table(std::string_view contents) {
  struct Row {
    std::string started, op, engagement, type, targets, ports, sent = "-", open = "-",
                                                               result = "no end record", command;
  };
  std::vector<Row> rows;
  std::vector<std::string> loads;  // one line per run with load evidence
  std::map<std::string, size_t> by_run;
  size_t pos = 0;
  while (pos < contents.size()) {
    size_t nl = contents.find('\n', pos);
    std::string_view line =
        contents.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? contents.size() : nl + 1;
    auto rec = parse_json(line);
    if (!rec || rec->type != JsonValue::Type::Object) continue;
    std::string event = text_of(*rec, "event"), run = text_of(*rec, "run");
    if (event == "start" || event == "refused") {
      Row r;
      std::string t = text_of(*rec, "time");
      if (t.size() >= 19) t = t.substr(0, 10) + " " + t.substr(11, 8);
      r.started = t;
      r.op = text_of(*rec, "user") + "@" + text_of(*rec, "host");
      std::string sudo = text_of(*rec, "sudo_user", "");
      if (!sudo.empty()) r.op += " (sudo " + sudo + ")";
      r.engagement = text_of(*rec, "engagement");
      r.type = text_of(*rec, "scan_type");
      // Records since scan_types: every type of the run ("syn+udp").
      if (const JsonValue* ts = rec->get("scan_types");
          ts != nullptr && ts->type == JsonValue::Type::Array && !ts->items.empty()) {
        std::string joined;
        for (const JsonValue& t : ts->items)
          if (t.type == JsonValue::Type::String) joined += (joined.empty() ? "" : "+") + t.text;
        if (!joined.empty()) r.type = joined;
      }
      r.targets = text_of(*rec, "targets");
      r.ports = text_of(*rec, "ports");
      r.command = text_of(*rec, "command");
      if (event == "refused") {
        r.result = text_of(*rec, "exit");
        if (r.result.rfind("refused", 0) != 0) r.result = "refused: " + r.result;
      }
      by_run[run] = rows.size();
      rows.push_back(std::move(r));
    } else if (event == "end") {
      auto it = by_run.find(run);
      if (it == by_run.end()) continue;
      Row& r = rows[it->second];
      r.sent = text_of(*rec, "probes_sent");
      r.open = text_of(*rec, "open_ports");
      r.result = text_of(*rec, "exit");
      if (const JsonValue* l = rec->get("load"); l != nullptr && l->type == JsonValue::Type::Object)
        loads.push_back(fmt::format(
            "load: run {} ({}): highest rate {} pps, to one host {} pps; largest RTT inflation "
            "{}x (+{} ms); back-offs {} (loss {}, RTT {}, ICMP {}, kernel {}); hosts backed off "
            "{}; {}",
            run, r.started, text_of(*l, "max_rate"), text_of(*l, "max_host_rate"),
            text_of(*l, "max_rtt_inflation"), text_of(*l, "max_rtt_inflation_ms"),
            text_of(*l, "backoffs"), text_of(*l, "backoffs_loss"), text_of(*l, "backoffs_rtt"),
            text_of(*l, "backoffs_icmp"), text_of(*l, "backoffs_kernel"),
            text_of(*l, "hosts_backed_off"),
            text_of(*l, "impairment") == "true"
                ? text_of(*l, "hosts_impaired") + " host(s) still showed signs of load after "
                                                  "backing off"
                : "no host showed impairment"));
    }
  }
  std::vector<std::array<std::string, 10>> cells;
  cells.push_back({"STARTED (UTC)", "OPERATOR", "ENGAGEMENT", "TYPE", "TARGETS", "PORTS", "SENT",
                   "OPEN", "RESULT", "COMMAND"});
  for (const Row& r : rows)
    cells.push_back({cell(r.started, 19), cell(r.op, 32), cell(r.engagement, 24), cell(r.type, 12),
                     cell(r.targets, 20), cell(r.ports, 6), cell(r.sent, 12), cell(r.open, 8),
                     cell(r.result, 48), cell(r.command, 200)});
  std::array<size_t, 10> width{};
  for (const auto& c : cells)
    for (size_t i = 0; i < c.size(); ++i) width[i] = std::max(width[i], c[i].size());
  std::string out;
  for (const auto& c : cells) {
    std::string line;
    for (size_t i = 0; i < c.size(); ++i) {
      bool right = i >= 4 && i <= 7;  // counts
      if (i + 1 == c.size())
        line += c[i];
      else
        line += right ? fmt::format("{:>{}}  ", c[i], width[i])
                      : fmt::format("{:<{}}  ", c[i], width[i]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + '\n';
  }
  if (rows.empty()) out += "(no runs)\n";
  for (const std::string& l : loads) out += cell(l, 400) + '\n';
  return out;
}

}  // namespace gh
