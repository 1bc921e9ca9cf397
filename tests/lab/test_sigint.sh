#!/usr/bin/env bash
# SIGINT in the middle of a slow scan: prompt exit, complete output, nothing found is lost.
#
# The target listens on 200 random ports; we scan those and 800 random closed ones at
# --max-rate 50 (about 20 s for the whole scan) with -sS, then with -sT. A packet capture on the
# target's veth logs when each SYN-ACK left. Once a few SYN-ACKs have gone out (the scan is
# under way) and one more second has passed, the scan gets SIGINT. Then:
#   * it exits within 5 s of the signal, not by a crash;
#   * the -oJ file is complete: every line valid JSON, newline-terminated, the last line a
#     summary record (not a port result), with "interrupted": true when it has that field;
#   * the port records present are right (open for listeners, closed for the others) and unique;
#   * every port the target answered with a SYN-ACK at least 0.5 s before the signal is in the
#     file as open (the scanner saw it, so it must not be lost).
#
#   bash tests/lab/test_sigint.sh /path/to/glasshouse     (LAB_SEED=N to repeat a run)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

N_OPEN=200
N_CLOSED=800
RATE=50
MAX_EXIT_SECONDS=5
MARGIN=0.5  # a SYN-ACK this long before the signal must have been processed

lab_require_root
lab_init "$@"
lab_create

read -ra OPEN <<<"$(random_ports "$N_OPEN" "$LAB_SEED")"
read -ra CLOSED <<<"$(random_ports "$N_CLOSED" "$LAB_SEED-closed" "${OPEN[*]}")"
PORTS=$(printf '%s\n' "${OPEN[@]}" "${CLOSED[@]}" | sort -n | paste -sd,)
lab_log "$N_OPEN open and $N_CLOSED closed ports, in $(awk -F, '{print NF}' <<<"$PORTS") ports to scan at --max-rate $RATE"
lab_listen "${OPEN[@]}"

for type in -sS -sT; do
  name="sigint-${type#-}"
  out="$LAB_WORK/$name.jsonl"
  cap="$LAB_WORK/$name.synacks"
  lab_sniff_in "$LAB_NS_TARGET" "$LAB_IF_TARGET" "$cap" --synack
  lab_assert_isolated "$LAB_NS_SCAN"
  args=("$type" -p "$PORTS" --show all -oJ "$out" -n -Pn --max-rate "$RATE" --max-retries 2 --seed "$LAB_SEED"
    "$LAB_V4_TARGET")
  # A paused -sS scan leaves a resume file (test_resume.sh tests those): not wanted here.
  [[ $type == -sS ]] && args=(--no-checkpoint "${args[@]}")
  lab_log "$name: [$LAB_NS_SCAN] glasshouse scan ${args[*]/#$PORTS/<ports>}"
  timeout -k 10 300 ip netns exec "$LAB_NS_SCAN" "$GH" scan "${args[@]}" \
    >"$LAB_WORK/$name.stdout" 2>"$LAB_WORK/$name.stderr" </dev/null &
  scan_pid=$!

  # Wait (15 s at most) until 3 SYN-ACKs have left the target, then one more second.
  started=0
  for _ in $(seq 150); do
    if (($(grep -vc '^ready$' "$cap" || true) >= 3)); then
      started=1
      break
    fi
    kill -0 "$scan_pid" 2>/dev/null || break
    sleep 0.1
  done
  if ((started)); then
    sleep 1
  fi
  if ! kill -0 "$scan_pid" 2>/dev/null; then
    rc=0
    wait "$scan_pid" || rc=$?
    lab_show_tail "$LAB_WORK/$name.stderr" "$name stderr"
    if ((started)); then
      lab_failed "$name: the scan ended (exit $rc) before SIGINT; 1000 ports at --max-rate $RATE should take ~20 s"
    else
      lab_failed "$name: the scan ended (exit $rc) before any open port answered"
    fi
    continue
  fi
  if ((!started)); then
    lab_failed "$name: no SYN-ACK from the target within 15 s of the start; interrupting anyway"
  fi

  t_sig=$(date +%s.%N)
  kill -INT "$scan_pid"  # timeout(1) passes it on to the scanner
  rc=0
  wait "$scan_pid" || rc=$?
  t_end=$(date +%s.%N)
  took=$(awk -v a="$t_sig" -v b="$t_end" 'BEGIN { printf "%.2f", b - a }')
  lab_log "$name: SIGINT at $t_sig; exit status $rc after $took s"

  if [[ $rc -eq 124 || $rc -eq 137 ]]; then
    lab_failed "$name: did not exit after SIGINT (killed by the 300 s timeout)"
  elif [[ $rc -eq 134 || $rc -eq 136 || $rc -eq 139 ]]; then
    lab_failed "$name: crashed after SIGINT (signal $((rc - 128)))"
  fi
  if awk -v t="$took" -v m="$MAX_EXIT_SECONDS" 'BEGIN { exit !(t >= m) }'; then
    lab_failed "$name: took $took s to exit after SIGINT (limit $MAX_EXIT_SECONDS s)"
  fi
  if lab_has_crash_marker "$LAB_WORK/$name.stderr"; then
    lab_show_tail "$LAB_WORK/$name.stderr" "$name stderr"
    lab_failed "$name: crash marker on stderr after SIGINT"
  fi
  if [[ ! -s $out ]]; then
    lab_failed "$name: no -oJ output after SIGINT"
    continue
  fi
  # The file as it stands: complete, right where present, summary last with interrupted true.
  if ! lab_check_jsonl "$out" "${OPEN[*]}" "" "$PORTS" "$LAB_V4_TARGET" \
      --allow-missing --summary required --interrupted true; then
    lab_failed "$name: -oJ file after SIGINT is not complete and correct (LAB_SEED=$LAB_SEED)"
  fi
  # Nothing the scanner was told before the signal may be missing.
  if ! python3 - "$cap" "$out" "$t_sig" "$MARGIN" "$LAB_V4_TARGET" <<'EOF'; then
import json, sys
cap, out, t_sig, margin, target = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
answered = {}  # port -> first SYN-ACK time
for line in open(cap):
    f = line.split()
    if len(f) >= 7 and f[2] == target:
        answered.setdefault(int(f[3]), float(f[0]))
reported = set()
for line in open(out):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if isinstance(r, dict) and r.get("state") == "open" and "port" in r and r.get("type", "port") == "port":
        reported.add(r["port"])
due = {p for p, t in answered.items() if t <= t_sig - margin}
lost = sorted(due - reported)
before = sum(1 for t in answered.values() if t <= t_sig)
print(f"  {before} port(s) answered SYN-ACK before the signal, {len(due)} of them >= {margin} s before; "
      f"{len(reported)} open port(s) in the file")
if lost:
    print(f"  open ports answered >= {margin} s before SIGINT but missing from the file: "
          + ",".join(map(str, lost)))
    sys.exit(1)
if not due:
    print("  (nothing to check: no SYN-ACK early enough)")
EOF
    lab_failed "$name: open ports found before SIGINT are missing from the -oJ file"
  fi
done
lab_finish
