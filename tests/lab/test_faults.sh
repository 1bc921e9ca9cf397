#!/usr/bin/env bash
# Faults around a scan and the detector: nothing found may be lost, no crash, no hang.
#
#  1. Disk full while -oJ and -oN are written (a 24 KiB tmpfs): the scan stops with a clear
#     one-line error naming the file and exit 1, and the -oJ written so far is valid JSON Lines
#     (every line parses; the scan header first).
#  2. The interface goes down mid-scan (-sS, 6 s at --max-rate 1000, down 1 s after its first
#     verdict): the scan ends on its own
#     (no hang), without a crash, with a clear line when it fails, and its -oJ is valid; every
#     open verdict it reports is a real open port.
#  3. A target that answers with malformed and truncated frames at high rate (hostile_replies.py:
#     cut SYN-ACKs, RSTs, ICMP errors quoting garbage, bad headers, noise) while it is scanned:
#     the results are exactly the lab's open and closed ports, and no crash.
#  4. `watch` under a SYN flood while the disk of its alert file is full: it keeps running,
#     says once that it cannot write alerts, exits cleanly on SIGTERM, and the alert file holds
#     only whole JSON lines.
#
#   bash tests/lab/test_faults.sh /path/to/glasshouse     (LAB_SEED=N to repeat a run)
# ctest-labels: sanitize
set -uo pipefail
. "$(dirname "$0")/watch_lib.sh"

lab_require_root
lab_require_cmd nft mount umount
lab_init "$@"
watch_lab_up
NET=198.19.0.0/22
lab_local_block "$NET"
read -ra OPEN <<<"$(random_ports 3 "$LAB_SEED")"
read -ra CLOSED <<<"$(random_ports 3 "$LAB_SEED-closed" "${OPEN[*]}")"
PORTS=$(printf '%s\n' "${OPEN[@]}" "${CLOSED[@]}" | sort -n | paste -sd,)
lab_listen "${OPEN[@]}"

# valid_jsonl FILE: every line of FILE is a JSON object, the first a scan header.
valid_jsonl() {
  python3 - "$1" <<'PY'
import json, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
if lines and lines[-1] == b"":
    lines.pop()
for n, line in enumerate(lines, 1):
    try:
        rec = json.loads(line)
    except ValueError as e:
        sys.exit(f"{sys.argv[1]}:{n}: not JSON ({e}): {line[:80]!r}")
    if not isinstance(rec, dict):
        sys.exit(f"{sys.argv[1]}:{n}: not an object")
if lines and json.loads(lines[0]).get("type") != "scan":
    sys.exit(f"{sys.argv[1]}: the first record is not the scan header")
print(f"{sys.argv[1]}: {len(lines)} valid records")
PY
}

# 1. Disk full.
FULL=$LAB_WORK/full
lab_small_disk "$FULL" 24k
LAB_EXPECT_RC=1 lab_scan "$LAB_NS_SCAN" diskfull -sS -p "$PORTS" --show all -n --seed "$LAB_SEED" \
  --no-status --no-checkpoint -oJ "$FULL/out.jsonl" -oN "$FULL/out.txt" "$NET" ||
  lab_failed "diskfull: expected exit 1 when the output disk fills"
ERRLINES=$(grep -c 'No space left on device' "$LAB_WORK/diskfull.stderr" || true)
((ERRLINES >= 1)) || lab_failed "diskfull: no 'No space left on device' on stderr: $(tail -3 "$LAB_WORK/diskfull.stderr")"
grep -q "$FULL/out\.\(jsonl\|txt\)" "$LAB_WORK/diskfull.stderr" ||
  lab_failed "diskfull: the error does not name the file: $(tail -3 "$LAB_WORK/diskfull.stderr")"
[[ -s $FULL/out.jsonl ]] || lab_failed "diskfull: nothing written before the disk filled"
valid_jsonl "$FULL/out.jsonl" || lab_failed "diskfull: the -oJ written before the disk filled is not valid"

# 2. The interface goes down mid-scan.
OUT=$LAB_WORK/ifdown.jsonl
lab_assert_isolated "$LAB_NS_SCAN"
# Down once the scan has sent for a second (its -oJ holds a port record), not at a guessed time.
(
  for _ in $(seq 300); do
    grep -q '"type":"port"' "$OUT" 2>/dev/null && break
    sleep 0.1
  done
  sleep 1
  ip -n "$LAB_NS_SCAN" link set "$LAB_IF_SCAN" down
  echo "link down at $(date +%T.%N)"
) >"$LAB_WORK/ifdown.downer" 2>&1 &
DOWNER=$!
LAB_SCAN_TIMEOUT=60 LAB_EXPECT_RC=any lab_scan "$LAB_NS_SCAN" ifdown -sS -p "$PORTS" --show all -n \
  --seed "$LAB_SEED" --max-rate 1000 --no-status --no-checkpoint -oJ "$OUT" "$NET"
IFDOWN_RC=$LAB_SCAN_RC
wait "$DOWNER"
lab_log "ifdown: $(cat "$LAB_WORK/ifdown.downer")"
grep -q '^link down' "$LAB_WORK/ifdown.downer" || lab_failed "ifdown: the link never went down"
ip -n "$LAB_NS_SCAN" link set "$LAB_IF_SCAN" up
ip -n "$LAB_NS_SCAN" route replace "$NET" via "$LAB_V4_TARGET"
if lab_has_crash_marker "$LAB_WORK/ifdown.stderr" || ((IFDOWN_RC >= 124)); then
  lab_failed "ifdown: crashed or hung (exit $IFDOWN_RC)"
elif ((IFDOWN_RC != 0)); then
  [[ $(grep -c . "$LAB_WORK/ifdown.stderr") -ge 1 ]] || lab_failed "ifdown: exit $IFDOWN_RC without a word"
  lab_log "ifdown: exit $IFDOWN_RC: $(tail -1 "$LAB_WORK/ifdown.stderr")"
else
  lab_log "ifdown: exit 0: $(tail -1 "$LAB_WORK/ifdown.stderr")"
fi
valid_jsonl "$OUT" || lab_failed "ifdown: the -oJ is not valid"
python3 - "$OUT" "${OPEN[*]}" <<'PY' || lab_failed "ifdown: a port reported open that is not"
import json, sys
open_ports = {int(p) for p in sys.argv[2].split()}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("type") == "port" and r.get("state") == "open" and r.get("port") not in open_ports:
        sys.exit(f"reported open: {r}")
PY
lab_wait_reachable "$LAB_NS_SCAN" "$LAB_V4_TARGET"

# 3. Hostile replies at high rate during a scan.
SCAN_MAC=$(ip -n "$LAB_NS_SCAN" -j link show "$LAB_IF_SCAN" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')
TARGET_MAC=$(ip -n "$LAB_NS_TARGET" -j link show "$LAB_IF_TARGET" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')
ip netns exec "$LAB_NS_TARGET" python3 "$LAB_DIR/hostile_replies.py" "$LAB_IF_TARGET" "$SCAN_MAC" \
  "$TARGET_MAC" "$LAB_V4_SCAN" "$LAB_V4_TARGET" 8 "$LAB_SEED" >"$LAB_WORK/hostile.count" 2>"$LAB_WORK/hostile.err" &
HOSTILE=$!
LAB_PIDS+=("$HOSTILE")
sleep 0.5
OUT=$LAB_WORK/hostile.jsonl
lab_scan "$LAB_NS_SCAN" hostile -sS -p "$PORTS" --show all -n --seed "$LAB_SEED" --no-status \
  --no-checkpoint -oJ "$OUT" "$LAB_V4_TARGET" 198.19.0.0/26 || lab_failed "hostile: the scan failed"
wait "$HOSTILE" || lab_failed "hostile: the sender failed: $(cat "$LAB_WORK/hostile.err")"
lab_log "hostile: $(cat "$LAB_WORK/hostile.count") malformed frames sent at the scanner"
lab_check_jsonl "$OUT" "$(lab_join , "${OPEN[@]}")" "" "$PORTS" "$LAB_V4_TARGET,198.19.0.0/26" ||
  lab_failed "hostile: results differ from the lab's ports"

# 4. watch under a flood, its alert disk full.
ALERTDISK=$LAB_WORK/alertdisk
lab_small_disk "$ALERTDISK" 16k
head -c 16384 /dev/zero >"$ALERTDISK/filler" 2>/dev/null || true
WATCH_ALERTS=$ALERTDISK/alerts.jsonl
WATCH_LOG=$LAB_WORK/watchfull.stderr
: >"$WATCH_ALERTS" 2>/dev/null || true
ip netns exec "$LAB_NS_TARGET" "$GH" watch -i "$LAB_IF_TARGET" --alerts "$WATCH_ALERTS" --max-sources 1000 \
  >"$LAB_WORK/watchfull.stdout" 2>"$WATCH_LOG" </dev/null &
WATCH_PID=$!
LAB_PIDS+=("$WATCH_PID")
for _ in $(seq 100); do
  grep -q "listening on" "$WATCH_LOG" 2>/dev/null && break
  kill -0 "$WATCH_PID" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$WATCH_PID" 2>/dev/null; then
  lab_assert_isolated "$LAB_NS_SCAN"
  ip netns exec "$LAB_NS_SCAN" python3 "$LAB_DIR/watch_flood.py" "$LAB_V4_TARGET" 20000 "$LAB_SEED" ||
    lab_failed "watchfull: flood sender failed"
  watch_nmap watchfull -sS -T4 --max-retries 1 -S 198.18.0.10 -e gh0 -p 1-100 "$LAB_V4_TARGET"
  sleep 1
  kill -0 "$WATCH_PID" 2>/dev/null || lab_failed "watchfull: watch died with its alert disk full"
  watch_stop
  N=$(grep -c "cannot write alerts to $WATCH_ALERTS: No space left on device" "$WATCH_LOG" || true)
  ((N == 1)) || lab_failed "watchfull: the full disk said $N times, expected once: $(grep -i 'alerts' "$WATCH_LOG" | head -3)"
  grep -q 'alert write errors [1-9]' "$WATCH_LOG" || lab_failed "watchfull: the stats do not count the lost alerts"
  valid=$(python3 -c '
import json, sys
data = open(sys.argv[1], "rb").read()
lines = data.split(b"\n")
ok = all(json.loads(l) is not None for l in lines[:-1]) and lines[-1] == b""
print("ok" if ok else "bad")' "$WATCH_ALERTS" 2>/dev/null || echo bad)
  [[ $valid == ok ]] || lab_failed "watchfull: the alert file holds a partial line"
else
  lab_show_tail "$WATCH_LOG" "watch stderr"
  # Refusing to start with a clear line is acceptable; a crash is not.
  lab_has_crash_marker "$WATCH_LOG" && lab_failed "watchfull: watch crashed at start"
  grep -q . "$WATCH_LOG" || lab_failed "watchfull: watch exited at start without a word"
  lab_log "watchfull: watch refused to start: $(tail -1 "$WATCH_LOG")"
fi
lab_finish
