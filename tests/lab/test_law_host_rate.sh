#!/usr/bin/env bash
# The per-host load cap, measured on the wire at the target, and least privilege while scanning.
#
#  1. One host, 400 filtered ports, one retry each (800 SYNs), -T5 (no global cap) and
#     --max-host-rate 200: every SYN is captured at the target; no one-second window may hold
#     more than 200 (+2 for window edges and timer jitter), all 800 arrive (retries included),
#     and the scan takes the ~4 s that the cap implies. Meanwhile /proc shows the running scanner
#     as nobody, with no capabilities and no_new_privs.
#  2. The same without the cap: far more than 200 SYNs in a second (the capture can see a burst).
#  3. A wide scan (198.19.0.0/22 x 2 closed ports at --max-rate 4000) takes about as long with
#     --max-host-rate 200 as without: the permutation spreads each host's probes.
#
#   bash tests/lab/test_law_host_rate.sh /path/to/glasshouse     (LAB_SEED=N to repeat a run)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CAP_RATE=200
WIDE=198.19.0.0/22

lab_require_root
lab_require_cmd nft tcpdump
lab_init "$@"
lab_create
lab_local_block "$WIDE"
ip netns exec "$LAB_NS_TARGET" nft -f - <<EOF || lab_fail "nft drop rule could not be loaded"
table inet gh_cap {
  chain input {
    type filter hook input priority filter; policy accept;
    ip daddr $LAB_V4_TARGET tcp dport 1-400 drop
  }
}
EOF
lab_log "dropping tcp 1-400 to $LAB_V4_TARGET: every probe goes unanswered and is retried"
AUDIT="$LAB_WORK/audit.jsonl"

# capture_start NAME / capture_stop: every SYN arriving at the target, into $LAB_WORK/NAME.pcap.
capture_start() {
  CAP_FILE="$LAB_WORK/$1.pcap"
  lab_ns_prefix "$LAB_NS_TARGET"
  "${LAB_PREFIX[@]}" tcpdump -i "$LAB_IF_TARGET" -Q in -nn -B 65536 --immediate-mode -U -w "$CAP_FILE" \
    'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn' 2>"$CAP_FILE.err" &
  CAP_PID=$!
  LAB_PIDS+=("$CAP_PID")
  for _ in $(seq 100); do
    grep -q 'listening on' "$CAP_FILE.err" 2>/dev/null && return 0
    kill -0 "$CAP_PID" 2>/dev/null || lab_fail "tcpdump died: $(cat "$CAP_FILE.err")"
    sleep 0.1
  done
  lab_fail "tcpdump not ready after 10 s"
}
capture_stop() {
  sleep 0.3
  kill -INT "$CAP_PID" 2>/dev/null || true
  wait "$CAP_PID" 2>/dev/null || true
  grep -Eq '^0 packets dropped by kernel' "$CAP_FILE.err" ||
    lab_failed "tcpdump dropped packets: $(tail -3 "$CAP_FILE.err")"
}

# wire_stats PCAP: "<SYNs> <max SYNs to one address in any 1 s window> <span in seconds>"
wire_stats() {
  python3 - "$1" <<'EOF'
import collections, struct, sys
data = open(sys.argv[1], "rb").read()
magic = struct.unpack_from("<I", data)[0]
endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
off, times = 24, collections.defaultdict(list)
while off + 16 <= len(data):
    sec, frac, incl, _ = struct.unpack_from(endian + "IIII", data, off)
    frame = data[off + 16: off + 16 + incl]
    off += 16 + incl
    if len(frame) >= 34 and frame[12:14] == b"\x08\x00":
        times[frame[30:34]].append(sec + frac / (1e9 if nano else 1e6))
total = sum(len(t) for t in times.values())
worst, first, last = 0, float("inf"), 0.0
for t in times.values():
    t.sort()
    first, last = min(first, t[0]), max(last, t[-1])
    j = 0
    for i in range(len(t)):  # packets in [t[j], t[j] + 1 s)
        while t[i] - t[j] >= 1.0:
            j += 1
        worst = max(worst, i - j + 1)
print(total, worst, f"{(last - first) if total else 0:.2f}")
EOF
}

# 1. One host under the cap; watch the scanner's privileges while it runs.
capture_start capped
lab_log "capped: scanning $LAB_V4_TARGET -p 1-400 with --max-host-rate $CAP_RATE in the background"
lab_scan "$LAB_NS_SCAN" capped -sS -p 1-400 -n -T5 --max-retries 1 --initial-rtt-timeout 300ms \
  --max-host-rate "$CAP_RATE" --seed "$LAB_SEED" --audit-log "$AUDIT" -oJ "$LAB_WORK/capped.jsonl" \
  --show all "$LAB_V4_TARGET" &
SCAN_JOB=$!
PRIV=""
for _ in $(seq 40); do
  sleep 0.1
  for pid in $(ip netns pids "$LAB_NS_SCAN" 2>/dev/null); do
    [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$GH" ]] || continue
    PRIV=$(grep -E '^(Uid|Gid|Groups|CapPrm|CapEff|CapBnd|NoNewPrivs):' "/proc/$pid/status" 2>/dev/null || true)
  done
  [[ $PRIV == *"Uid:"*65534* ]] && break
done
wait "$SCAN_JOB" || lab_failed "capped: scan failed (LAB_SEED=$LAB_SEED)"
capture_stop
lab_log "scanner while running: $(tr '\n\t' '  ' <<<"$PRIV")"
grep -Eq '^Uid:\s+65534\s+65534\s+65534\s+65534$' <<<"$PRIV" || lab_failed "the running scanner is not nobody: $PRIV"
grep -Eq '^CapEff:\s+0+$' <<<"$PRIV" || lab_failed "the running scanner has effective capabilities: $PRIV"
grep -Eq '^CapPrm:\s+0+$' <<<"$PRIV" || lab_failed "the running scanner has permitted capabilities: $PRIV"
grep -Eq '^NoNewPrivs:\s+1$' <<<"$PRIV" || lab_failed "no_new_privs is not set: $PRIV"
read -r TOTAL WORST SPAN <<<"$(wire_stats "$CAP_FILE")"
lab_log "capped: $TOTAL SYNs at the target over $SPAN s, at most $WORST in any second (cap $CAP_RATE)"
((TOTAL == 800)) || lab_failed "capped: $TOTAL SYNs arrived, expected 800 (400 probes and 400 retries)"
((WORST <= CAP_RATE + 2)) || lab_failed "capped: $WORST SYNs to one host within a second, above the cap of $CAP_RATE"
awk -v s="$SPAN" 'BEGIN { exit !(s >= 3.8) }' || lab_failed "capped: 800 SYNs in $SPAN s: faster than the cap allows"
lab_check_jsonl "$LAB_WORK/capped.jsonl" "" "1-400" "1-400" "$LAB_V4_TARGET" ||
  lab_failed "capped: results differ (every port should be filtered)"

# 2. Without the cap the same scan bursts far past it.
capture_start uncapped
lab_scan "$LAB_NS_SCAN" uncapped -sS -p 1-400 -n -T5 --max-retries 1 --initial-rtt-timeout 300ms \
  --seed "$LAB_SEED" --audit-log "$AUDIT" "$LAB_V4_TARGET" || lab_failed "uncapped: scan failed"
capture_stop
read -r TOTAL WORST SPAN <<<"$(wire_stats "$CAP_FILE")"
lab_log "uncapped: $TOTAL SYNs over $SPAN s, at most $WORST in a second"
((WORST > 2 * CAP_RATE)) || lab_failed "uncapped: only $WORST SYNs in a second; the comparison shows nothing"

# 3. A wide scan is not slowed by the cap.
WIDE_ARGS=(-sS -p "80,443" -n --max-rate 4000 --max-retries 1 --initial-rtt-timeout 300ms
  --seed "$LAB_SEED" --audit-log "$AUDIT" "$WIDE")
lab_scan "$LAB_NS_SCAN" wide-free "${WIDE_ARGS[@]}" || lab_failed "wide-free: scan failed"
FREE=$LAB_SCAN_SECONDS
capture_start wide-capped
lab_scan "$LAB_NS_SCAN" wide-capped "${WIDE_ARGS[@]}" --max-host-rate "$CAP_RATE" ||
  lab_failed "wide-capped: scan failed"
CAPPED=$LAB_SCAN_SECONDS
capture_stop
read -r TOTAL WORST SPAN <<<"$(wire_stats "$CAP_FILE")"
lab_log "wide: ${FREE} s without the cap, ${CAPPED} s with it; $TOTAL SYNs, at most $WORST to one host in a second"
awk -v f="$FREE" -v c="$CAPPED" 'BEGIN { exit !(c <= f * 1.5 + 0.5) }' ||
  lab_failed "wide: the per-host cap slowed a wide scan from $FREE s to $CAPPED s"
((TOTAL == 2048)) || lab_failed "wide-capped: $TOTAL SYNs, expected 2048"

"$GH" audit verify "$AUDIT" >/dev/null || lab_failed "audit verify failed on this test's log"
lab_finish
