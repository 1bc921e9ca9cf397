#!/usr/bin/env bash
# A fragile target stays available during a default scan (issue 16).
#
# The target namespace runs nginx (Debian's) and drops new connection attempts above 5,000 a
# second, all sources together (nft `ct state new limit rate over 5000/second drop`), like a
# small device. A client in a third namespace (198.18.1.2, another link of the target) makes
# HTTP requests on new connections, 200 a second. A dropped SYN costs the client one second
# (the kernel's SYN retransmission).
#
#   1. no scan: the client's p99 latency, the baseline;
#   2. a default `glasshouse scan` (no timing option: -sS at -T3, its congestion control and
#      per-host budget) of ports 1-9000 of the target (the top 1000 alone take well under a
#      second, too few requests for a p99): no request fails, the client's p99 during the scan stays
#      under max(5 x baseline, 200 ms), and the scan finds exactly the target's listening ports;
#      the audit log's end record carries the load evidence;
#   3. control, to show the test can fail: `-T5 -p-` (no congestion control) makes the rule drop
#      SYNs and the client's p99 reach the one-second retransmission.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/fragile_lib.sh"
fragile_lab_create "$@"

client baseline
((N_REQ >= 100)) || lab_fail "baseline: only $N_REQ client requests in 3 s"
((N_FAIL == 0)) || lab_fail "baseline: $N_FAIL client requests failed with no scan"
BASE_P99=$P99
BOUND=$(awk -v b="$BASE_P99" 'BEGIN { x = 5 * b; if (x < 200) x = 200; printf "%.1f", x }')

AUDIT="$LAB_WORK/audit.jsonl"
client default lab_scan "$LAB_NS_SCAN" default -n --no-status -p 1-9000 -oJ "$LAB_WORK/default.jsonl" \
  --audit-log "$AUDIT" "$LAB_V4_TARGET"
lab_log "default scan took $LAB_SCAN_SECONDS s"
((N_REQ >= 50)) || lab_failed "default: only $N_REQ client requests during the scan"
((N_FAIL == 0)) || lab_failed "default: $N_FAIL client requests failed during the scan"
awk -v p="$P99" -v b="$BOUND" 'BEGIN { exit !(p <= b) }' ||
  lab_failed "default: client p99 $P99 ms during the scan, above $BOUND ms (baseline $BASE_P99 ms)"
FOUND=$(python3 -c '
import json, sys
print(",".join(str(p) for p in sorted({r["port"] for r in map(json.loads, open(sys.argv[1]))
      if r.get("type") == "port" and r["state"] == "open"})))' "$LAB_WORK/default.jsonl")
[[ $FOUND == "$LISTENING" ]] || lab_failed "default: open ports $FOUND, listening $LISTENING"
python3 - "$AUDIT" <<'EOF' || lab_failed "default: no load evidence in the audit log's end record"
import json, sys
end = [r for r in map(json.loads, open(sys.argv[1])) if r.get("event") == "end"][-1]
load = end["load"]
for key in ("max_host_rate", "max_rtt_inflation", "backoffs", "hosts_backed_off", "impairment"):
    assert key in load, key
print("[lab] audit load evidence:", json.dumps(load))
EOF
"$GH" audit show "$AUDIT" | grep -q "load:" || lab_failed "audit show prints no load line"

# Control: without congestion control the same target is impaired.
client control lab_scan "$LAB_NS_SCAN" control -n --no-status -T5 -p- -oJ "$LAB_WORK/t5.jsonl" \
  --audit-log "$AUDIT" "$LAB_V4_TARGET"
((OVER > 0)) || lab_failed "control: -T5 -p- made the target drop nothing (is the limit rule working?)"
awk -v p="$P99" 'BEGIN { exit !(p >= 900) }' ||
  lab_failed "control: client p99 $P99 ms under -T5 -p-: the test cannot tell an impaired target"

lab_finish
