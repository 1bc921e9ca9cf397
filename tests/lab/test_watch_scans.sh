#!/bin/bash
# glasshouse watch in the target namespace; the scanner namespace runs nmap -sS -sF -sX -sN -sA
# -sU, a slow -sS (--scan-delay 2s), nmap over IPv6, a masscan sweep of one port across a /24 and
# glasshouse scan, each from its own address; a third address makes 300 ordinary connections.
# Each scan must raise exactly one alert with the right source, type and shape; the ordinary
# client none. About 30 s.
set -uo pipefail
. "$(dirname "$0")/watch_lib.sh"
lab_require_root
lab_require_cmd nmap
lab_init "$@"
watch_lab_up
lab_listen 22 80 443

watch_start scans --stats 5s
T=$LAB_V4_TARGET

# The slow scan runs alongside the others: one probe every 2 s, far below any window rule.
watch_nmap slow -sS --scan-delay 2s --max-retries 0 -S 198.18.0.16 -e gh0 -p 1000-1005 "$T" &
slow_pid=$!

watch_nmap syn -sS -T4 --max-retries 1 -S 198.18.0.10 -e gh0 -p 1-200 "$T"
watch_nmap fin -sF -T4 --max-retries 1 -S 198.18.0.11 -e gh0 -p 1-100 "$T"
watch_nmap xmas -sX -T4 --max-retries 1 -S 198.18.0.12 -e gh0 -p 1-100 "$T"
watch_nmap null -sN -T4 --max-retries 1 -S 198.18.0.13 -e gh0 -p 1-100 "$T"
watch_nmap ack -sA -T4 --max-retries 1 -S 198.18.0.14 -e gh0 -p 1-100 "$T"
watch_nmap udp -sU -T4 --max-retries 1 -S 198.18.0.15 -e gh0 -p 1-40 "$T"
watch_nmap syn6 -6 -sS -T4 --max-retries 1 -S "$LAB_V6_SCAN" -e gh0 -p 1-100 "$LAB_V6_TARGET"

lab_log "benign: 300 connections from 198.18.0.30 to ports 22, 80, 443"
ip netns exec "$LAB_NS_SCAN" python3 "$LAB_DIR/watch_client.py" 198.18.0.30 "$T" 300 22 80 443 ||
  lab_failed "benign client could not connect"

masscan_src=""
if command -v masscan >/dev/null 2>&1; then
  masscan_src=198.18.0.20
  mac=$(ip -n "$LAB_NS_TARGET" -o link show "$LAB_IF_TARGET" | grep -o 'link/ether [0-9a-f:]*' | awk '{print $2}')
  lab_assert_isolated "$LAB_NS_SCAN"
  # Explicit lab target, interface, router MAC and source address: masscan sends nowhere else.
  lab_log "masscan: 198.18.1.0/24 port 81 from $masscan_src"
  timeout -k 5 60 ip netns exec "$LAB_NS_SCAN" masscan 198.18.1.0/24 -p81 --rate 1000 --wait 2 \
    --interface "$LAB_IF_SCAN" --router-mac "$mac" --source-ip "$masscan_src" \
    >"$LAB_WORK/masscan.out" 2>&1 || lab_failed "masscan failed: $(tail -2 "$LAB_WORK/masscan.out")"
else
  lab_log "masscan not installed: horizontal sweep not tested"
fi

gh_src=""
if "$GH" scan --help >/dev/null 2>&1; then
  gh_src=$LAB_V4_SCAN
  lab_scan "$LAB_NS_SCAN" ghscan -sS -n -p 1-100 "$T" || lab_failed "glasshouse scan failed"
else
  lab_log "glasshouse scan is not available in this binary: not tested"
fi

wait "$slow_pid"
sleep 4  # the last probes' reply timeouts (3 s)
kill -USR1 "$WATCH_PID"
sleep 0.3
watch_stop
grep -q "stats: packets" "$WATCH_LOG" || lab_failed "no counters on SIGUSR1 / --stats"

expects=(
  --expect src=198.18.0.10,type=syn,shape=vertical,tool=nmap,minprobes=200
  --expect src=198.18.0.11,type=fin,shape=vertical,rule=flags
  --expect src=198.18.0.12,type=xmas,shape=vertical,rule=flags
  --expect src=198.18.0.13,type=null,shape=vertical,rule=flags
  --expect src=198.18.0.14,type=ack,shape=vertical,rule=flags
  --expect src=198.18.0.15,type=udp,shape=vertical,rule=udp-refused
  --expect src=198.18.0.16,type=syn,shape=vertical,rule=trw,norule=vertical
  --expect "src=$LAB_V6_SCAN,type=syn,shape=vertical"
  --absent 198.18.0.30
)
[[ -n $masscan_src ]] && expects+=(--expect "src=$masscan_src,type=syn,shape=horizontal,tool=masscan,rule=horizontal")
[[ -n $gh_src ]] && expects+=(--expect "src=$gh_src,type=syn,shape=vertical,tool=glasshouse")
watch_check "${expects[@]}" || lab_failed "alerts do not match (see $WATCH_ALERTS)"
lab_finish
