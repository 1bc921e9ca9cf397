#!/usr/bin/env bash
# Timing defaults against nmap's defaults (issue 16): wall time and open ports, one run each.
#   bash bench/timing/run.sh build/glasshouse
# Cases: loopback -p- (inside `unshare -n`), one lab host -p-, one lab host top 1000, a /24
# top 1000 (a local route in the target namespace, 3 listeners on every address). The fragile
# target's availability is measured by bench/timing/fragile.sh. Each row also runs glasshouse
# -T5 (no congestion control: what the machine allows) and prints the load average (the 2-core
# VM is shared: the numbers are noisy).
set -euo pipefail
. "$(dirname "$0")/../../tests/lab/lib.sh"
lab_require_root
lab_init "$@"
lab_create
NET=198.19.0.0/24
lab_local_block "$NET"
lab_listen 22 80 443
wall() { local t0 t1; t0=$(date +%s.%N); "$@" >"$LAB_WORK/out.txt" 2>&1; t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'; }
opens() { grep -Ec '^[0-9]+/tcp +open' "$LAB_WORK/out.txt" || true; }
row() {
  local name=$1 target=$2 ports=$3 ns=(ip netns exec "$LAB_NS_SCAN") g n go no
  [[ $target == 127.0.0.1 ]] && ns=(unshare -n)
  g=$(wall "${ns[@]}" sh -c "ip link set lo up 2>/dev/null; $GH scan -Pn -n --no-status $ports --audit-log $LAB_WORK/audit.jsonl $target"); go=$(opens)
  n=$(wall "${ns[@]}" sh -c "ip link set lo up 2>/dev/null; nmap -Pn -n $ports $target"); no=$(opens)
  f=$(wall "${ns[@]}" sh -c "ip link set lo up 2>/dev/null; $GH scan -Pn -n --no-status -T5 $ports --audit-log $LAB_WORK/audit.jsonl $target"); fo=$(opens)
  printf '| %s | %s s (%s open) | %s s (%s open) | %.2f | %s s (%s open) | %s |\n' "$name" "$g" "$go" \
    "$n" "$no" "$(awk -v a="$g" -v b="$n" 'BEGIN { print a / b }')" "$f" "$fo" \
    "$(cut -d' ' -f1 /proc/loadavg)"
}
echo "| case | glasshouse defaults | nmap defaults | ratio | glasshouse -T5 (bound) | load avg |"
echo "| --- | --- | --- | --- | --- | --- |"
row "loopback -p-" 127.0.0.1 -p-
row "one lab host -p-" "$LAB_V4_TARGET" -p-
row "one lab host, top 1000" "$LAB_V4_TARGET" ""
row "a /24, top 1000" "$NET" ""
