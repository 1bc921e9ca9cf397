#include "history/merge.h"

#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "core/error.h"
#include "output/json.h"

namespace gh {
namespace {

// nmap's ranking of states when two verdicts meet: an answer beats silence.
int rank(const std::string& state) {
  if (state == "open") return 0;
  if (state == "closed") return 1;
  if (state == "unfiltered") return 2;
  if (state == "open|filtered") return 3;
  if (state == "closed|filtered") return 4;
  return 5;
}

// Options whose value is where a run writes, not what it scans: the shards of one Job differ
// in them (each pod its own -oJ file and audit log).
bool is_destination(std::string_view opt) {
  static constexpr std::string_view kOpts[] = {"--shard",
                                               "-oN",
                                               "-oX",
                                               "-oG",
                                               "-oJ",
                                               "-oA",
                                               "--output-normal",
                                               "--output-jsonl",
                                               "--output-xml",
                                               "--output-grepable",
                                               "--output-all",
                                               "--audit-log",
                                               "--db",
                                               "--checkpoint",
                                               "--checkpoint-interval"};
  for (auto o : kOpts)
    if (opt == o) return true;
  return false;
}

// The command line without --shard and the destinations (what every shard of one scan shares).
std::string without_shard(const std::string& command) {
  std::istringstream in(command);
  std::string out, word;
  bool skip = false;
  while (in >> word) {
    if (skip) {
      skip = false;
      continue;
    }
    if (is_destination(word)) {
      skip = true;
      continue;
    }
    auto eq = word.find('=');
    if (eq != std::string::npos && word.starts_with("--") && is_destination(word.substr(0, eq)))
      continue;
    if (word.size() > 3 && !word.starts_with("--") && is_destination(word.substr(0, 3)))
      continue;  // -oJFILE
    out += (out.empty() ? "" : " ") + word;
  }
  return out;
}

}  // namespace

std::pair<uint32_t, uint32_t> shard_of_command(const std::string& command) {
  std::istringstream in(command);
  std::string word, prev;
  uint32_t shard = 0, shards = 1;
  auto value = [](const std::string& s) {
    return static_cast<uint32_t>(std::strtoul(s.c_str(), nullptr, 10));
  };
  while (in >> word) {
    if (prev == "--shard") shard = value(word);
    if (prev == "--shards") shards = value(word);
    if (word.starts_with("--shard=")) shard = value(word.substr(8));
    if (word.starts_with("--shards=")) shards = value(word.substr(9));
    prev = word;
  }
  return {shard, shards};
}

MergeResult merge_runs(const std::vector<RunData>& runs, bool allow_mixed) {
  if (runs.empty()) throw UsageError("merge: no result files");
  MergeResult m;
  const RunMeta& first = runs[0].meta;
  m.run.meta = first;
  m.run.meta.source = "merge";
  m.run.meta.probes_sent = 0;
  std::map<std::tuple<std::string, std::string, uint16_t>, std::pair<PortRecord, size_t>> ports;
  std::map<std::string, HostRecord> hosts;
  std::set<uint32_t> shards_seen;
  uint32_t shard_count = 0;
  for (size_t k = 0; k < runs.size(); ++k) {
    const RunMeta& meta = runs[k].meta;
    m.inputs.push_back(meta.source);
    if (!allow_mixed) {
      std::string why;
      if (scan_types_of(meta) != scan_types_of(first))
        why = fmt::format("scan type {} vs {}", join_scan_types(scan_types_of(first)),
                          join_scan_types(scan_types_of(meta)));
      else if (meta.targets != first.targets)
        why = fmt::format("{} vs {} targets", first.targets, meta.targets);
      else if (meta.ports != first.ports)
        why = fmt::format("{} vs {} ports per target", first.ports, meta.ports);
      else if (without_shard(meta.command) != without_shard(first.command))
        why = "the command lines differ in more than --shard";
      if (!why.empty())
        throw UsageError(fmt::format(
            "merge: {} and {} are not shards of one scan ({}); --allow-mixed merges them anyway",
            first.source, meta.source, why));
    }
    auto [shard, count] =
        meta.shards > 1 ? std::pair(meta.shard, meta.shards) : shard_of_command(meta.command);
    if (count > 1) {
      if (shards_seen.contains(shard))
        m.notes.push_back(
            fmt::format("shard {} of {} is given twice ({})", shard, count, meta.source));
      shards_seen.insert(shard);
      shard_count = std::max(shard_count, count);
    }
    if (!meta.start.empty() && (m.run.meta.start.empty() || meta.start < m.run.meta.start))
      m.run.meta.start = meta.start;
    if (meta.end > m.run.meta.end) m.run.meta.end = meta.end;
    if (meta.exit_reason != "done") m.interrupted = true;
    m.run.meta.probes_sent += meta.probes_sent;
    for (const auto& h : runs[k].hosts) {
      auto [it, fresh] = hosts.emplace(h.addr, h);
      if (!fresh && h.state == "up") it->second.state = "up";
    }
    for (const auto& p : runs[k].ports) {
      auto key = std::make_tuple(p.addr, p.proto, p.port);
      auto it = ports.find(key);
      if (it == ports.end()) {
        ports.emplace(key, std::pair(p, k));
        continue;
      }
      ++m.duplicates;
      PortRecord& kept = it->second.first;
      if (kept.state != p.state) {
        m.notes.push_back(fmt::format("{} port {}/{}: {} in {}, {} in {}; kept {}", p.addr, p.port,
                                      p.proto, kept.state, runs[it->second.second].meta.source,
                                      p.state, meta.source,
                                      rank(p.state) < rank(kept.state) ? p.state : kept.state));
        if (rank(p.state) < rank(kept.state)) it->second = {p, k};
      }
    }
  }
  if (shard_count > 1) {
    std::string missing;
    for (uint32_t s = 0; s < shard_count; ++s)
      if (!shards_seen.contains(s)) missing += (missing.empty() ? "" : ", ") + std::to_string(s);
    if (!missing.empty())
      m.notes.push_back(fmt::format("shard{} {} of {} missing: the result covers {} of {} shards",
                                    missing.find(',') != std::string::npos ? "s" : "", missing,
                                    shard_count, shards_seen.size(), shard_count));
    m.run.meta.shards = shard_count;
  }
  m.run.meta.shard = 0;
  m.run.meta.open_ports = 0;
  for (auto& [key, pk] : ports) {
    if (pk.first.state == "open") ++m.run.meta.open_ports;
    m.run.ports.push_back(std::move(pk.first));
  }
  m.run.meta.hosts_up = 0;
  for (auto& [a, h] : hosts) {
    if (h.state == "up") ++m.run.meta.hosts_up;
    m.run.hosts.push_back(std::move(h));
  }
  m.run.meta.exit_reason = m.interrupted ? "interrupted" : "done";
  sort_run(m.run);
  return m;
}

void write_merged_jsonl(const MergeResult& m, std::ostream& out) {
  const RunMeta& meta = m.run.meta;
  std::string inputs = "[";
  for (size_t k = 0; k < m.inputs.size(); ++k) inputs += (k ? "," : "") + json_quote(m.inputs[k]);
  inputs += "]";
  std::vector<std::string> types = scan_types_of(meta);
  JsonObject h;
  h.str("type", "scan")
      .str("version", GLASSHOUSE_VERSION)
      .str("start", meta.start)
      .str("command", meta.command)
      .str("scan_type", types.empty() ? std::string() : types.front())
      .raw("scan_types", json_string_array(types))
      .num("targets", meta.targets)
      .num("ports", meta.ports)
      .raw("merged", inputs)
      .num("shards", meta.shards);
  if (!meta.engagement.empty()) h.str("engagement", meta.engagement);
  out << h.done() << '\n';
  for (const PortRecord& p : m.run.ports) {
    JsonObject o;
    o.str("type", "port")
        .str("ip", p.addr)
        .num("port", p.port)
        .str("proto", p.proto)
        .str("state", p.state)
        .str("reason", p.reason)
        .str("service", p.service.name.empty() ? "unknown" : p.service.name);
    if (p.ttl >= 0)
      o.num("ttl", p.ttl);
    else
      o.null("ttl");
    o.str("time", p.seen);
    if (!meta.engagement.empty()) o.str("engagement", meta.engagement);
    out << o.done() << '\n';
  }
  JsonObject s;
  s.str("type", "summary")
      .str("end", meta.end)
      .num("hosts_up", meta.hosts_up)
      .num("probes_sent", meta.probes_sent)
      .num("open_ports", meta.open_ports)
      .num("ports_written", static_cast<uint64_t>(m.run.ports.size()))
      .boolean("interrupted", m.interrupted)
      .str("exit_reason", meta.exit_reason)
      .num("duplicates_dropped", m.duplicates);
  if (!meta.engagement.empty()) s.str("engagement", meta.engagement);
  out << s.done() << '\n';
  if (!out) throw RuntimeError("writing the merged result failed");
}

}  // namespace gh
