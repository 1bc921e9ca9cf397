#!/usr/bin/env bash
# Timing defaults against nmap's defaults (issue 16): wall time and open ports.
#   bash bench/timing/run.sh build/glasshouse [RUNS]      (RUNS: 3 by default)
# Cases: loopback -p- (inside `unshare -n`), one lab host -p-, one lab host top 1000, a /24
# top 1000 (a local route in the target namespace, 3 listeners on every address). The fragile
# target's availability is measured by bench/timing/fragile.sh. Each row also runs glasshouse
# -T5 (no congestion control: what the machine allows) and prints the load average (the 2-core
# VM is shared: the numbers are noisy).
#
# Each tool's wall time is taken inside the namespace by bash's `time` (fork, exec, run, exit):
# entering the namespace (`ip netns exec`, ~14 ms here, as much as the whole top-1000 scan) is
# the harness's, not the tools'. The tools run interleaved, RUNS times per case; the table gives
# the medians.
set -euo pipefail
. "$(dirname "$0")/../../tests/lab/lib.sh"
lab_require_root
lab_init "$1"
RUNS=${2:-3}
lab_create
NET=198.19.0.0/24
lab_local_block "$NET"
lab_listen 22 80 443
# One timed run: prints the seconds; the tool's output goes to $LAB_WORK/out.txt.
wall() {
  local target=$1 cmd=$2 ns=(ip netns exec "$LAB_NS_SCAN")
  [[ $target == 127.0.0.1 ]] && ns=(unshare -n)
  "${ns[@]}" bash -c "ip link set lo up 2>/dev/null; TIMEFORMAT=%3R
    { time $cmd >$LAB_WORK/out.txt 2>&1; } 2>$LAB_WORK/time.txt"
  cat "$LAB_WORK/time.txt"
}
opens() { grep -Ec '^[0-9]+/tcp +open' "$LAB_WORK/out.txt" || true; }
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
row() {
  local name=$1 target=$2 ports=$3 g=() n=() f=() go no fo i
  local audit="--audit-log $LAB_WORK/audit.jsonl"
  for ((i = 0; i < RUNS; i++)); do
    g+=("$(wall "$target" "$GH scan -Pn -n --no-status $ports $audit $target")"); go=$(opens)
    n+=("$(wall "$target" "nmap -Pn -n $ports $target")"); no=$(opens)
    f+=("$(wall "$target" "$GH scan -Pn -n --no-status -T5 $ports $audit $target")"); fo=$(opens)
  done
  local gm nm fm
  gm=$(median "${g[@]}") nm=$(median "${n[@]}") fm=$(median "${f[@]}")
  printf '| %s | %s s (%s open) | %s s (%s open) | %.2f | %s s (%s open) | %s | %s / %s |\n' \
    "$name" "$gm" "$go" "$nm" "$no" "$(awk -v a="$gm" -v b="$nm" 'BEGIN { print a / b }')" \
    "$fm" "$fo" "$(cut -d' ' -f1 /proc/loadavg)" "${g[*]}" "${n[*]}"
}
echo "| case | glasshouse defaults | nmap defaults | ratio | glasshouse -T5 (bound) | load avg | all runs (glasshouse / nmap) |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
row "loopback -p-" 127.0.0.1 -p-
row "one lab host -p-" "$LAB_V4_TARGET" -p-
row "one lab host, top 1000" "$LAB_V4_TARGET" ""
row "a /24, top 1000" "$NET" ""
