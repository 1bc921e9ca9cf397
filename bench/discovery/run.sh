#!/usr/bin/env bash
# Issue 9's discovery benchmark, on a flat lab (tests/lab/lib.sh namespaces; one Ethernet
# segment, 1% of the addresses live, assigned one by one to the target's veth so that only they
# answer ARP; network and broadcast addresses silent). Root only; nothing leaves the namespaces.
#
#   1. -sn of a flat /16: glasshouse vs arp-scan (-B 100M: its pacing is not the limit) and
#      nmap -sn -PR -T5 (FULL=1: nmap takes minutes here);
#   2. -sS -p80 of a flat /20 (and /16 with FULL=1), with discovery (no -Pn): vs nmap -sS -T5;
#   3. memory: glasshouse's peak RSS for -sn of a flat /20 and /16.
# Every tool's up set (or open set) is compared with the live set; wall times and ratios printed.
# The routed -sn of a /16 against nmap and zmap's icmp_echoscan: bench/discovery/routed.sh.
#
#   sudo bash bench/discovery/run.sh build/glasshouse          (FULL=1 for the slow nmap cases)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../tests/lab/lib.sh"
GH_BIN=$(realpath "${1:-build/glasshouse}")
lab_require_root
lab_require_cmd nmap arp-scan /usr/bin/time
lab_init "$GH_BIN"
lab_create

ip -n "$LAB_NS_SCAN" addr add 198.19.0.1/16 dev "$LAB_IF_SCAN"
lab_assert_isolated "$LAB_NS_SCAN"
# 1% live: 655 of the /16 (of which the /20 198.19.0.0/20 holds ~40).
LIVE=$(python3 - "$LAB_SEED" <<'PY'
import ipaddress, random, sys
r = random.Random(f"glasshouse-bench-discovery-{sys.argv[1]}")
base = int(ipaddress.IPv4Address("198.19.0.0"))
print(" ".join(str(ipaddress.IPv4Address(base + h)) for h in sorted(r.sample(range(2, 65535), 655))))
PY
)
for a in $LIVE; do echo "addr add $a/16 dev $LAB_IF_TARGET"; done | ip -n "$LAB_NS_TARGET" -batch -
LIVE20=$(tr ' ' '\n' <<<"$LIVE" | python3 -c '
import ipaddress, sys
net = ipaddress.ip_network("198.19.0.0/20")
print(" ".join(a for a in sys.stdin.read().split() if ipaddress.ip_address(a) in net))')
lab_listen 80
lab_log "live: $(wc -w <<<"$LIVE") of the /16, $(wc -w <<<"$LIVE20") of the /20"

# timed NAME CMD...: runs CMD in the scanner namespace; sets SECS, output in $LAB_WORK/NAME.out.
timed() {
  local name=$1 t0 t1
  shift
  t0=$(date +%s.%N)
  ip netns exec "$LAB_NS_SCAN" "$@" >"$LAB_WORK/$name.out" 2>"$LAB_WORK/$name.err" || true
  t1=$(date +%s.%N)
  SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
}
# same SET_A SET_B: "yes" when the two whitespace-separated address sets are equal.
same() { [[ $(tr ' ' '\n' <<<"$1" | grep . | sort -u) == $(tr ' ' '\n' <<<"$2" | grep . | sort -u) ]] && echo yes || echo NO; }
gh_up() { python3 "$HERE/../../tests/lab/discovery_check.py" glasshouse-up "$1" | tr ',' ' '; }
gh_open() { python3 -c '
import json, sys
print(" ".join(sorted({r["ip"] for r in map(json.loads, open(sys.argv[1])) if r.get("type") == "port" and r["state"] == "open"})))' "$1"; }
nmap_up() { python3 "$HERE/../../tests/lab/discovery_check.py" nmap-up "$1" | tr ',' ' ' | sed 's/198\.19\.0\.1\b//'; }
nmap_open() { grep -E 'Ports: 80/open' "$1" | awk '{print $2}' | tr '\n' ' '; }
row() { printf '| %s | %s | %s s | %s |\n' "$@"; }

echo
echo "| case | tool | wall | same set as the lab |"
echo "| --- | --- | --- | --- |"
# 1. -sn of the /16.
timed gh16 "$GH" scan -sn -n --exclude 198.19.0.1 -oJ "$LAB_WORK/gh16.jsonl" 198.19.0.0/16
GH16=$SECS
row "-sn flat /16" glasshouse "$GH16" "$(same "$(gh_up "$LAB_WORK/gh16.jsonl")" "$LIVE")"
timed arp16 arp-scan -I "$LAB_IF_SCAN" -x -q -B 100M 198.19.0.0/16
row "-sn flat /16" "arp-scan -B 100M" "$SECS" "$(same "$(awk '{print $1}' "$LAB_WORK/arp16.out")" "$LIVE")"
ARP16=$SECS
[[ -s $LAB_WORK/arp16.out ]] || { echo "arp-scan said:"; head -3 "$LAB_WORK/arp16.err"; }
timed gh16t5 "$GH" scan -sn -n -T5 --exclude 198.19.0.1 -oJ "$LAB_WORK/gh16t5.jsonl" 198.19.0.0/16
row "-sn flat /16" "glasshouse -T5" "$SECS" "$(same "$(gh_up "$LAB_WORK/gh16t5.jsonl")" "$LIVE")"
GH16T5=$SECS
if [[ ${FULL:-0} == 1 ]]; then
  timed nmap16 nmap -sn -PR -T5 -n -oG "$LAB_WORK/nmap16.gnmap" 198.19.0.0/16
  row "-sn flat /16" "nmap -sn -PR -T5" "$SECS" "$(same "$(nmap_up "$LAB_WORK/nmap16.gnmap")" "$LIVE")"
fi
# 2. -sS -p80 with discovery.
timed gh20s "$GH" scan -sS -p80 -n --exclude 198.19.0.1 -oJ "$LAB_WORK/gh20s.jsonl" 198.19.0.0/20
GH20S=$SECS
row "-sS -p80 flat /20" glasshouse "$SECS" "$(same "$(gh_open "$LAB_WORK/gh20s.jsonl")" "$LIVE20")"
timed nmap20s nmap -sS -p80 -T5 -n --exclude 198.19.0.1 -oG "$LAB_WORK/nmap20s.gnmap" 198.19.0.0/20
NMAP20S=$SECS
row "-sS -p80 flat /20" "nmap -sS -T5" "$SECS" "$(same "$(nmap_open "$LAB_WORK/nmap20s.gnmap")" "$LIVE20")"
timed gh16s "$GH" scan -sS -p80 -n --exclude 198.19.0.1 -oJ "$LAB_WORK/gh16s.jsonl" 198.19.0.0/16
row "-sS -p80 flat /16" glasshouse "$SECS" "$(same "$(gh_open "$LAB_WORK/gh16s.jsonl")" "$LIVE")"
if [[ ${FULL:-0} == 1 ]]; then
  timed nmap16s nmap -sS -p80 -T5 -n --exclude 198.19.0.1 -oG "$LAB_WORK/nmap16s.gnmap" 198.19.0.0/16
  row "-sS -p80 flat /16" "nmap -sS -T5" "$SECS" "$(same "$(nmap_open "$LAB_WORK/nmap16s.gnmap")" "$LIVE")"
fi
echo
awk -v a="$GH16" -v b="$ARP16" 'BEGIN { printf "-sn /16: glasshouse / arp-scan = %.2f\n", a / b }'
awk -v a="$GH16T5" -v b="$ARP16" 'BEGIN { printf "-sn /16: glasshouse -T5 / arp-scan = %.2f\n", a / b }'
awk -v a="$GH20S" -v b="$NMAP20S" 'BEGIN { printf "-sS -p80 /20: glasshouse / nmap = %.2f\n", a / b }'
# 3. Peak memory of -sn as the network grows.
for net in 198.19.0.0/20 198.19.0.0/16; do
  ip netns exec "$LAB_NS_SCAN" /usr/bin/time -f %M "$GH" scan -sn -n --exclude 198.19.0.1 "$net" \
    >/dev/null 2>"$LAB_WORK/mem.err" || true
  echo "-sn $net: peak RSS $(tail -n 1 "$LAB_WORK/mem.err") KiB"
done
lab_finish
