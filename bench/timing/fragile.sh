#!/usr/bin/env bash
# The fragile target's availability during scans (issue 16), one run, side by side:
#   bash bench/timing/fragile.sh build/glasshouse        (as root; nmap, masscan, zmap, nginx, nft)
# The lab of tests/lab/test_fragile_target.sh (tests/lab/fragile_lib.sh): nginx behind an nft rule
# that drops new connections above 5,000/s from all sources, a client at 200 requests/s on new
# connections from another link. Each scanner sends the same 9,000 SYNs (ports 1-9000 of
# 198.18.0.2) except zmap 2.1.1, which scans one port per run: 9,000 SYNs to port 80, each from
# its own source port (-P 9000), i.e. 9,000 new connections, at its default rate. Per row: the
# scan's wall time, the client's requests started during it, failed, p50/p99/max, the new
# connections the target dropped, and the open ports found (listening: 22,80,443,8080; zmap
# looks at port 80 only).
set -euo pipefail
. "$(dirname "$0")/../../tests/lab/lib.sh"
. "$(dirname "$0")/../../tests/lab/fragile_lib.sh"
lab_require_cmd nmap masscan zmap
fragile_lab_create "$@"
PORTS=1-9000
MAC=$(ip -n "$LAB_NS_TARGET" -o link show "$LAB_IF_TARGET" | grep -o 'link/ether [0-9a-f:]*' | awk '{print $2}')
: >"$LAB_WORK/zmap.blocklist"

# timed NAME CMD...: runs CMD in the scanner namespace (no route out), its output in NAME.out.
timed() {
  local name=$1 t0 t1
  shift
  lab_assert_isolated "$LAB_NS_SCAN"
  t0=$(date +%s.%N)
  timeout -k 5 300 ip netns exec "$LAB_NS_SCAN" "$@" >"$LAB_WORK/$name.out" 2>&1 || true
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }' >"$LAB_WORK/$name.secs"
}
ROWS=()
row() {
  local label=$1 name=$2 open=${3:-none}
  local secs="-"
  [[ -f $LAB_WORK/$name.secs ]] && secs="$(cat "$LAB_WORK/$name.secs") s"
  ROWS+=("| $label | $secs | $N_REQ | $N_FAIL | $P50 ms | $P99 ms | $PMAX ms | $OVER | $open |")
}
ports_gh() { grep -Eo '^[0-9]+/tcp +open' "$LAB_WORK/$1.out" | cut -d/ -f1 | sort -n | paste -sd, || true; }

client none
row "no scan (3 s)" none "-"
GH_ARGS=(scan -Pn -n --no-status -p "$PORTS" --audit-log "$LAB_WORK/audit.jsonl" "$LAB_V4_TARGET")
client gh_default timed gh_default "$GH" "${GH_ARGS[@]}"
row "glasshouse defaults (-T3)" gh_default "$(ports_gh gh_default)"
EVIDENCE=$("$GH" audit show "$LAB_WORK/audit.jsonl" | grep -A3 'load:' | tail -4 || true)
client gh_t5 timed gh_t5 "$GH" "${GH_ARGS[@]}" -T5
row "glasshouse -T5" gh_t5 "$(ports_gh gh_t5)"
client nmap_t4 timed nmap_t4 nmap -Pn -n -T4 -p "$PORTS" "$LAB_V4_TARGET"
row "nmap -T4" nmap_t4 "$(ports_gh nmap_t4)"
client masscan timed masscan masscan -p "$PORTS" --rate 1000000 --wait 1 --interface "$LAB_IF_SCAN" \
  --router-mac "$MAC" --source-ip "$LAB_V4_SCAN" "$LAB_V4_TARGET"
row "masscan --rate 1000000" masscan \
  "$(grep -Eo 'port [0-9]+/tcp' "$LAB_WORK/masscan.out" | awk -F'[ /]' '{print $2}' | sort -n | paste -sd, || true)"
client zmap timed zmap zmap -M tcp_synscan -p 80 -P 9000 -i "$LAB_IF_SCAN" -G "$MAC" \
  -S "$LAB_V4_SCAN" -b "$LAB_WORK/zmap.blocklist" -c 1 -q "$LAB_V4_TARGET/32"
row "zmap -p 80 -P 9000 (default rate)" zmap "$(grep -q "$LAB_V4_TARGET" "$LAB_WORK/zmap.out" && echo 80)"

echo
echo "| scan (ports $PORTS of $LAB_V4_TARGET) | wall | client requests during it | failed | p50 | p99 | max | new connections dropped | open ports found |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${ROWS[@]}"
echo
echo "glasshouse defaults, audit evidence:"
echo "$EVIDENCE"
