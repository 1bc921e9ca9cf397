// `glasshouse report`: one HTML page about a run that a person would rather read than a table
// of lines, self-contained (inline CSS and JavaScript, inline SVG; a Content-Security-Policy
// that forbids every fetch), so it can be mailed or archived and opens offline.
//
// The page holds:
//   - a summary: when, the command, the engagement, targets and ports, hosts up, ports by state;
//   - the host/port table (id "ports"): one row per port record (<tr data-ip data-port
//     data-proto data-state data-service>), sortable by clicking a column header and filtered
//     by a text box and a state selector. Without JavaScript the table is still all there;
//   - a chart of open ports by service (inline SVG, id "chart"; one <rect class="bar"
//     data-service data-count> per service, largest first, at most 20 bars then "other");
//   - the changes since the previous run of the same targets (id "changes"), when there is one.
// The script exposes ghSort(column, ascending) and ghFilter(text, state) (also applied from the
// URL fragment: report.html#sort=port&desc&filter=ssh&state=open), which the Chromium test uses.
//
// Every string from a scan (service banners, host names) is HTML-escaped: a hostile service
// cannot put markup into the page.
#pragma once

#include <string>

#include "history/diff.h"
#include "store/run_data.h"

namespace gh {

// `changes`: the diff from the earlier run to `run` (null: no earlier run, the section says so).
std::string render_report(const RunData& run, const RunDiff* changes);

// &, <, >, " and ' as entities.
std::string html_escape(std::string_view s);

}  // namespace gh
