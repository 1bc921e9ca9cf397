#include "history/report.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

namespace gh {

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        // Control characters other than tab and newline would make the page invalid.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n')
          out += "&#xFFFD;";
        else
          out += c;
    }
  }
  return out;
}

namespace {

constexpr std::string_view kStyle = R"css(
:root{--fg:#1d2330;--muted:#5b6475;--line:#d9dee7;--bg:#f6f8fb;--card:#fff;--accent:#2463eb;
--open:#15803d;--closed:#b45309;--filtered:#6b7280;--add:#15803d;--del:#b91c1c;--chg:#7c3aed}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
sans-serif;color:var(--fg);background:var(--bg)}header{background:#111827;color:#fff;
padding:18px 28px}header h1{margin:0;font-size:20px;font-weight:600}header p{margin:4px 0 0;
color:#cbd5e1;font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}
main{padding:20px 28px;max-width:1200px}section{background:var(--card);border:1px solid var(--line);
border-radius:8px;padding:16px 20px;margin-bottom:18px}h2{font-size:16px;margin:0 0 12px}
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{flex:1 1 120px;border:1px solid var(--line);
border-radius:6px;padding:10px 12px}.card b{display:block;font-size:22px}.card span{color:var(--muted);
font-size:12px}dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:14px 0 0}
dt{color:var(--muted)}dd{margin:0;word-break:break-all}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{cursor:pointer;user-select:none;background:#eef2f8;position:sticky;top:0}
th[aria-sort=ascending]::after{content:" \25B2"}th[aria-sort=descending]::after{content:" \25BC"}
td.num{font-variant-numeric:tabular-nums}.state-open{color:var(--open);font-weight:600}
.state-closed{color:var(--closed)}.state-filtered{color:var(--filtered)}.tools{display:flex;gap:10px;
margin-bottom:10px}.tools input{flex:1;padding:6px 8px;border:1px solid var(--line);border-radius:4px}
.tools select{padding:6px;border:1px solid var(--line);border-radius:4px}#shown{color:var(--muted);
align-self:center}.chg-appeared{color:var(--add)}.chg-disappeared{color:var(--del)}
.chg-state,.chg-service{color:var(--chg)}svg text{font-size:12px;fill:var(--fg)}
svg rect.bar{fill:var(--accent)}.empty{color:var(--muted)}code{font-size:12px}
)css";

constexpr std::string_view kScript = R"js(
(function(){
var table=document.getElementById('ports');if(!table)return;
var body=table.tBodies[0],heads=table.tHead.rows[0].cells,sortCol=-1,sortAsc=true;
function key(row,col){var c=row.cells[col],v=c.getAttribute('data-key');
if(v===null)v=c.textContent;return v;}
function cmp(a,b,col,numeric){var x=key(a,col),y=key(b,col);
if(numeric)return Number(x)-Number(y);return x<y?-1:x>y?1:0;}
function ghSort(col,asc){if(typeof col==='string'){for(var i=0;i<heads.length;i++)
if(heads[i].getAttribute('data-col')===col)col=i;}if(typeof col!=='number'||col<0||
col>=heads.length)return false;var numeric=heads[col].getAttribute('data-type')==='num';
var rows=Array.prototype.slice.call(body.rows);rows.sort(function(a,b){var r=cmp(a,b,col,numeric);
if(r===0)r=Number(a.getAttribute('data-order'))-Number(b.getAttribute('data-order'));
return asc?r:-r;});rows.forEach(function(r){body.appendChild(r);});
for(var i=0;i<heads.length;i++)heads[i].removeAttribute('aria-sort');
heads[col].setAttribute('aria-sort',asc?'ascending':'descending');sortCol=col;sortAsc=asc;
return true;}
function ghFilter(text,state){var box=document.getElementById('filter'),
sel=document.getElementById('state');if(text!==undefined&&text!==null)box.value=text;
if(state!==undefined&&state!==null)sel.value=state;var t=box.value.toLowerCase(),s=sel.value,n=0;
Array.prototype.forEach.call(body.rows,function(r){var ok=(!t||r.textContent.toLowerCase()
.indexOf(t)>=0)&&(!s||r.getAttribute('data-state')===s);r.hidden=!ok;if(ok)n++;});
document.getElementById('shown').textContent=n+' of '+body.rows.length+' shown';return n;}
for(var i=0;i<heads.length;i++)(function(i){heads[i].addEventListener('click',function(){
ghSort(i,sortCol===i?!sortAsc:true);});})(i);
document.getElementById('filter').addEventListener('input',function(){ghFilter();});
document.getElementById('state').addEventListener('change',function(){ghFilter();});
window.ghSort=ghSort;window.ghFilter=ghFilter;
var h=decodeURIComponent(location.hash.replace(/^#/,'')),p={};
h.split('&').forEach(function(kv){if(!kv)return;var i=kv.indexOf('=');
if(i<0)p[kv]=true;else p[kv.slice(0,i)]=kv.slice(i+1);});
if(p.sort)ghSort(p.sort,!p.desc);ghFilter(p.filter||'',p.state||'');
document.documentElement.setAttribute('data-ready','1');
})();
)js";

std::string port_label(const PortRecord& p) {
  return fmt::format("{}/{}", p.port, p.proto);
}

std::string state_class(const std::string& state) {
  if (state == "open") return "state-open";
  if (state == "closed") return "state-closed";
  return "state-filtered";
}

// 0 for "", else "ttl".
std::string summary_section(const RunData& run) {
  const RunMeta& m = run.meta;
  std::map<std::string, size_t> by_state;
  for (const auto& p : run.ports) ++by_state[p.state];
  std::string cards;
  auto card = [&](std::string_view label, uint64_t n, std::string_view id) {
    cards +=
        fmt::format("<div class=\"card\" id=\"{}\"><b>{}</b><span>{}</span></div>", id, n, label);
  };
  size_t hosts_up = 0;
  for (const auto& h : run.hosts) hosts_up += h.state == "up";
  card("hosts up", hosts_up, "sum-hosts");
  card("open ports", by_state["open"], "sum-open");
  card("closed ports", by_state["closed"], "sum-closed");
  size_t other = run.ports.size() - by_state["open"] - by_state["closed"];
  card("filtered / other", other, "sum-other");
  card("targets", m.targets, "sum-targets");
  card("ports per target", m.ports, "sum-ports");
  std::string dl;
  auto row = [&](std::string_view k, const std::string& v) {
    if (!v.empty()) dl += fmt::format("<dt>{}</dt><dd>{}</dd>", k, html_escape(v));
  };
  row("Run", m.id != 0 ? std::to_string(m.id) : m.source);
  row("Started", m.start);
  row("Ended", m.end.empty() ? "not recorded (interrupted or still running)" : m.end);
  row("Scan type", join_scan_types(scan_types_of(m)));
  row("Engagement", m.engagement);
  row("Exit", m.exit_reason);
  if (m.shards > 1) row("Shard", fmt::format("{} of {}", m.shard, m.shards));
  row("Audit run", m.audit_run);
  return fmt::format(
      "<section id=\"summary\"><h2>Summary</h2><div class=\"cards\">{}</div>"
      "<dl>{}</dl></section>",
      cards, dl);
}

std::string chart_section(const RunData& run) {
  std::map<std::string, uint64_t> counts;
  for (const auto& p : run.ports)
    if (p.state == "open") ++counts[p.service.name.empty() ? "unknown" : p.service.name];
  std::vector<std::pair<std::string, uint64_t>> bars(counts.begin(), counts.end());
  std::stable_sort(bars.begin(), bars.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  constexpr size_t kMaxBars = 20;
  if (bars.size() > kMaxBars) {
    uint64_t rest = 0;
    for (size_t k = kMaxBars - 1; k < bars.size(); ++k) rest += bars[k].second;
    bars.resize(kMaxBars - 1);
    bars.emplace_back("other", rest);
  }
  if (bars.empty())
    return "<section id=\"chart-section\"><h2>Open ports by service</h2><p class=\"empty\" "
           "id=\"chart\">No open ports.</p></section>";
  uint64_t max = bars.front().second;
  constexpr int kLabel = 150, kWidth = 520, kRow = 24;
  int height = static_cast<int>(bars.size()) * kRow + 8;
  std::string svg = fmt::format(
      "<svg id=\"chart\" role=\"img\" aria-label=\"open ports by service\" "
      "xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\">",
      kLabel + kWidth + 60, height, kLabel + kWidth + 60, height);
  for (size_t k = 0; k < bars.size(); ++k) {
    int y = static_cast<int>(k) * kRow + 4;
    int w = std::max<int>(2, static_cast<int>(kWidth * bars[k].second / max));
    // Long names (a service can say anything) are cut to fit the label column; the bar's
    // <title> keeps the whole name.
    std::string label =
        bars[k].first.size() > 20 ? bars[k].first.substr(0, 19) + "…" : bars[k].first;
    std::string name = html_escape(bars[k].first);
    svg += fmt::format(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect class=\"bar\" x=\"{}\" "
        "y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\" data-service=\"{}\" data-count=\"{}\">"
        "<title>{}: {}</title></rect><text x=\"{}\" y=\"{}\">{}</text>",
        kLabel - 8, y + 15, html_escape(label), kLabel, y, w, kRow - 6, name, bars[k].second, name,
        bars[k].second, kLabel + w + 6, y + 15, bars[k].second);
  }
  svg += "</svg>";
  return "<section id=\"chart-section\"><h2>Open ports by service</h2>" + svg + "</section>";
}

std::string table_section(const RunData& run) {
  std::map<std::string, std::string> names;
  for (const auto& h : run.hosts)
    if (!h.hostname.empty()) names[h.addr] = h.hostname;
  std::string rows;
  size_t order = 0;
  for (const auto& p : run.ports) {
    std::string svc = service_text(p.service);
    std::string host = names.contains(p.addr) ? p.addr + " (" + names[p.addr] + ")" : p.addr;
    // Sort keys: addresses by their position in the (numerically sorted) list.
    rows += fmt::format(
        "<tr data-order=\"{}\" data-ip=\"{}\" data-port=\"{}\" data-proto=\"{}\" "
        "data-state=\"{}\" data-service=\"{}\"><td data-key=\"{:08}\">{}</td><td class=\"num\" "
        "data-key=\"{}\">{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td "
        "class=\"num\" data-key=\"{}\">{}</td></tr>\n",
        order, html_escape(p.addr), p.port, html_escape(p.proto), html_escape(p.state),
        html_escape(p.service.name), order, html_escape(host), p.port, port_label(p),
        state_class(p.state), html_escape(p.state), html_escape(p.reason), html_escape(svc),
        p.ttl >= 0 ? p.ttl : -1, p.ttl >= 0 ? std::to_string(p.ttl) : "");
    ++order;
  }
  std::string table = run.ports.empty() ? "<p class=\"empty\">No ports were recorded.</p>" : "";
  return fmt::format(
      "<section id=\"table-section\"><h2>Hosts and ports</h2><div class=\"tools\"><input "
      "id=\"filter\" type=\"search\" placeholder=\"Filter: address, port, service...\" "
      "aria-label=\"filter\"><select id=\"state\" aria-label=\"state\"><option "
      "value=\"\">every state</option><option value=\"open\">open</option><option "
      "value=\"closed\">closed</option><option value=\"filtered\">filtered</option></select>"
      "<span id=\"shown\">{} shown</span></div>{}<table id=\"ports\"><thead><tr><th "
      "data-col=\"host\">Host</th><th data-col=\"port\" data-type=\"num\">Port</th><th "
      "data-col=\"state\">State</th><th data-col=\"reason\">Reason</th><th "
      "data-col=\"service\">Service</th><th data-col=\"ttl\" data-type=\"num\">TTL</th></tr>"
      "</thead><tbody>\n{}</tbody></table></section>",
      run.ports.size(), table, rows);
}

std::string changes_section(const RunDiff* d) {
  std::string head = "<section id=\"changes-section\"><h2>Changes since the previous run</h2>";
  if (d == nullptr)
    return head +
           "<p class=\"empty\" id=\"changes\">No earlier run of the same targets to compare "
           "with.</p></section>";
  std::string intro = fmt::format("<p>Compared with {}{}.</p>", html_escape(run_label(d->a)),
                                  d->a.start.empty() ? "" : " of " + html_escape(d->a.start));
  if (d->empty())
    return head + intro + "<p class=\"empty\" id=\"changes\">No changes.</p></section>";
  std::string rows;
  for (const auto& h : d->hosts)
    rows += fmt::format(
        "<tr class=\"chg-{}\" data-change=\"host-{}\"><td>host {}</td><td>{}</td><td></td>"
        "<td></td></tr>",
        to_string(h.kind), to_string(h.kind), to_string(h.kind), html_escape(h.host.addr));
  for (const auto& c : d->ports) {
    const PortRecord& any = c.after ? *c.after : *c.before;
    auto side = [](const std::optional<PortRecord>& p) {
      if (!p) return std::string("&mdash;");
      std::string s = service_text(p->service);
      return html_escape(s.empty() ? p->state : p->state + " " + s);
    };
    rows += fmt::format(
        "<tr class=\"chg-{}\" data-change=\"{}\" data-ip=\"{}\" data-port=\"{}\"><td>{}</td>"
        "<td>{} {}</td><td>{}</td><td>{}</td></tr>",
        to_string(c.kind), to_string(c.kind), html_escape(any.addr), any.port,
        c.kind == PortChange::Kind::State     ? "changed state"
        : c.kind == PortChange::Kind::Service ? "changed service"
                                              : to_string(c.kind),
        html_escape(any.addr), port_label(any), side(c.before), side(c.after));
  }
  return head + intro +
         "<table id=\"changes\"><thead><tr><th>Change</th><th>Where</th><th>Before</th>"
         "<th>After</th></tr></thead><tbody>" +
         rows + "</tbody></table></section>";
}

}  // namespace

std::string render_report(const RunData& run, const RunDiff* changes) {
  const RunMeta& m = run.meta;
  std::string title =
      m.id != 0 ? fmt::format("Glasshouse scan report: run {}", m.id) : "Glasshouse scan report";
  std::string page;
  page += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  // Nothing is fetched: no source is allowed but the page's own inline style and script.
  page +=
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
      "'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n";
  page += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  page += fmt::format("<meta name=\"generator\" content=\"Glasshouse {}\">\n", GLASSHOUSE_VERSION);
  page += "<title>" + html_escape(title) + "</title>\n<style>" + std::string(kStyle) +
          "</style></head>\n<body>\n";
  page += fmt::format("<header><h1>{}</h1><p>{}</p></header>\n<main>\n", html_escape(title),
                      html_escape(m.command.empty() ? m.source : m.command));
  page += summary_section(run) + "\n";
  page += chart_section(run) + "\n";
  page += changes_section(changes) + "\n";
  page += table_section(run) + "\n";
  page += "</main>\n<script>" + std::string(kScript) + "</script>\n</body></html>\n";
  return page;
}

}  // namespace gh
