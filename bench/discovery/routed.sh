#!/usr/bin/env bash
# Issue 9's routed discovery benchmark: -sn of a /16 behind a router, 1% live, against nmap -sn
# and zmap's icmp_echoscan (each with its defaults). Root only; nothing leaves the namespaces.
#
#   scanner ns (198.18.0.1) --veth-- router ns (198.18.0.2 | 198.18.1.1) --veth-- far ns (198.18.1.2)
#
# The far namespace answers for all of 198.19.0.0/16 (`ip route add local ... dev lo`: echo,
# timestamp, RST to the TCP pings) and nft drops everything to an address outside a set of 655
# live ones, so only they answer. The scanner routes the /16 via the router; no namespace has a
# default route. Every tool's up set is compared with the live set; wall times and ratios printed.
#
#   sudo bash bench/discovery/routed.sh build/glasshouse
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../tests/lab/lib.sh"
GH_BIN=$(realpath "${1:-build/glasshouse}")
lab_require_root
lab_require_cmd nmap zmap nft
lab_init "$GH_BIN"
lab_create

ROUTER=$LAB_NS_TARGET
FAR="gh-far-${LAB_TAG:-$$}"
ip netns add "$FAR" || lab_fail "ip netns add $FAR"
LAB_EXTRA_NS+=("$FAR")
ip -n "$FAR" link set lo up
ip -n "$ROUTER" link add gh-rt0 type veth peer name gh-far0 netns "$FAR"
ip -n "$ROUTER" addr add 198.18.1.1/30 dev gh-rt0
ip -n "$FAR" addr add 198.18.1.2/30 dev gh-far0
ip -n "$ROUTER" link set gh-rt0 up
ip -n "$FAR" link set gh-far0 up
ip netns exec "$ROUTER" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0
ip -n "$ROUTER" route add 198.19.0.0/16 via 198.18.1.2
ip -n "$FAR" route add 198.18.0.0/24 via 198.18.1.1
ip -n "$FAR" route add local 198.19.0.0/16 dev lo
# The far namespace stands for 655 hosts: one ICMP limiter for all of them would be the lab's
# artefact, not the network's.
ip netns exec "$FAR" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_msgs_per_sec=1000000
ip -n "$LAB_NS_SCAN" route add 198.19.0.0/16 via "$LAB_V4_TARGET"
lab_assert_isolated "$LAB_NS_SCAN"
for ns in "$ROUTER" "$FAR"; do
  if ip -n "$ns" route show table all | grep -Eq '^(default|0\.0\.0\.0/0)'; then lab_fail "$ns has a default route"; fi
done

LIVE=$(python3 - "$LAB_SEED" <<'PY'
import ipaddress, random, sys
r = random.Random(f"glasshouse-bench-routed-{sys.argv[1]}")
base = int(ipaddress.IPv4Address("198.19.0.0"))
print(" ".join(str(ipaddress.IPv4Address(base + h)) for h in sorted(r.sample(range(1, 65535), 655))))
PY
)
ip netns exec "$FAR" nft -f - <<NFT || lab_fail "nft live set"
table inet ghlive {
  set live { type ipv4_addr; elements = { $(tr ' ' ',' <<<"$LIVE") } }
  chain input {
    type filter hook input priority 0; policy accept;
    ip daddr 198.19.0.0/16 ip daddr != @live drop
  }
}
NFT
lab_log "live: $(wc -w <<<"$LIVE") of 198.19.0.0/16 behind the router"
ROUTER_MAC=$(ip -n "$ROUTER" -o link show "$LAB_IF_TARGET" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
CHECK="$HERE/../../tests/lab/discovery_check.py"

timed() {
  local name=$1 t0 t1
  shift
  t0=$(date +%s.%N)
  ip netns exec "$LAB_NS_SCAN" "$@" >"$LAB_WORK/$name.out" 2>"$LAB_WORK/$name.err" || true
  t1=$(date +%s.%N)
  SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
}
same() {
  [[ $(tr ' ' '\n' <<<"$1" | grep . | sort -u) == $(tr ' ' '\n' <<<"$2" | grep . | sort -u) ]] && echo yes ||
    echo "NO ($(tr ' ' '\n' <<<"$1" | grep -c .) hosts)"
}
row() { printf '| %s | %s | %s s | %s |\n' "$@"; }

echo
echo "| case | tool | wall | same set as the lab |"
echo "| --- | --- | --- | --- |"
timed gh "$GH" scan -sn -n -oJ "$LAB_WORK/gh.jsonl" 198.19.0.0/16
GHS=$SECS
row "-sn routed /16" "glasshouse (default -T3)" "$SECS" \
  "$(same "$(python3 "$CHECK" glasshouse-up "$LAB_WORK/gh.jsonl" | tr ',' ' ')" "$LIVE")"
# zmap: no default route to learn the gateway from (-G: the router's MAC), and its default
# blocklist holds 198.18.0.0/15 (-b /dev/null: the lab is ours).
timed zmap zmap --probe-module=icmp_echoscan -i "$LAB_IF_SCAN" -G "$ROUTER_MAC" -S "$LAB_V4_SCAN" \
  -b /dev/null -o "$LAB_WORK/zmap.txt" 198.19.0.0/16
ZS=$SECS
row "-sn routed /16" "zmap --probe-module=icmp_echoscan" "$SECS" "$(same "$(cat "$LAB_WORK/zmap.txt" 2>/dev/null)" "$LIVE")"
[[ -s $LAB_WORK/zmap.txt ]] || { echo "zmap said:"; tail -3 "$LAB_WORK/zmap.err"; }
timed nmap nmap -sn -n -oG "$LAB_WORK/nmap.gnmap" 198.19.0.0/16
NS=$SECS
row "-sn routed /16" "nmap -sn" "$SECS" \
  "$(same "$(python3 "$CHECK" nmap-up "$LAB_WORK/nmap.gnmap" | tr ',' ' ')" "$LIVE")"
echo
awk -v a="$GHS" -v z="$ZS" -v n="$NS" 'BEGIN { f = z < n ? z : n;
  printf "routed -sn /16: glasshouse / zmap = %.2f, / nmap = %.2f, / fastest peer = %.2f\n", a / z, a / n, a / f }'
grep -h "done:" "$LAB_WORK/gh.out" || true
lab_finish
