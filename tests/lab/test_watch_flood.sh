#!/bin/bash
# A flood of SYNs from 30,000 spoofed sources must not grow glasshouse watch past the bound of
# its tables (--max-sources 1000): the source table stays at 1,000, the resident memory stays
# small, and a real scan afterwards is still detected. Also the daemon's signals: SIGHUP reopens
# --alerts (after a log rotation), SIGUSR1 and --stats print the counters. About 15 s.
set -uo pipefail
. "$(dirname "$0")/watch_lib.sh"
lab_require_root
lab_require_cmd nmap
lab_init "$@"
watch_lab_up
T=$LAB_V4_TARGET

watch_start flood --max-sources 1000 --max-pending 2000 --stats 1s
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$WATCH_PID/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$WATCH_PID/status"; }
bound_mib=$(grep -o '([0-9.]* MiB at most)' "$WATCH_LOG" | grep -o '[0-9.]*' | head -1)
rss0=$(rss_kb)
lab_log "watch RSS at start: ${rss0} KiB; table bound ${bound_mib} MiB"

lab_assert_isolated "$LAB_NS_SCAN"
ip netns exec "$LAB_NS_SCAN" python3 "$LAB_DIR/watch_flood.py" "$T" 30000 "$LAB_SEED" ||
  lab_failed "flood sender failed"
sleep 5  # every pending attempt times out (3 s)
kill -USR1 "$WATCH_PID"
sleep 0.5
stats=$(grep 'stats: packets' "$WATCH_LOG" | tail -1)
lab_log "after the flood: $stats"
sources=$(sed -n 's/.* sources \([0-9]*\) (evicted \([0-9]*\)).*/\1/p' <<<"$stats")
evicted=$(sed -n 's/.* sources \([0-9]*\) (evicted \([0-9]*\)).*/\2/p' <<<"$stats")
[[ -n $sources && $sources -le 1000 ]] || lab_failed "sources tracked: '$sources', bound 1000"
[[ -n $evicted && $evicted -ge 28000 ]] || lab_failed "sources evicted: '$evicted', expected about 29000"
hwm=$(hwm_kb)
growth=$(( (hwm - rss0) / 1024 ))
lab_log "watch peak RSS ${hwm} KiB: +${growth} MiB over the start (bound of the tables: ${bound_mib} MiB)"
# The tables may fill up to their bound; 8 MiB more for the capture ring and the allocator.
limit=$(awk -v b="$bound_mib" 'BEGIN { printf "%d", b + 8 }')
((growth <= limit)) || lab_failed "memory grew by ${growth} MiB, more than the bound ${bound_mib} MiB + 8"

# Log rotation: move the file away, SIGHUP, and the next alert lands in a new file.
mv "$WATCH_ALERTS" "$WATCH_ALERTS.1"
kill -HUP "$WATCH_PID"
sleep 0.3
watch_nmap after -sS -T4 --max-retries 1 -S 198.18.0.10 -e gh0 -p 1-100 "$T"
sleep 1
watch_stop
[[ -f $WATCH_ALERTS ]] || lab_failed "SIGHUP did not reopen the alerts file"
watch_check --expect src=198.18.0.10,type=syn,shape=vertical ||
  lab_failed "the scan after the flood was not detected (or not in the reopened file)"
lab_finish
