#!/usr/bin/env bash
# bench/udp: -sU against nmap -sU -T4 (and masscan -pU) in the namespace lab (issue 10).
#   case 1: the top 100 UDP ports (nmap-services' ranking, read from the installed nmap) plus the
#           daemons' ports, one host running real daemons (tests/lab/udp_daemons.sh), Linux's
#           default ICMP rate limit;
#   case 2: the top 100 UDP ports on 8 routed hosts, each its own namespace and ICMP limiter.
# Each case also against nmap's default timing (-T3), which gets every state right; masscan -pU
# on case 1 (it reports only the ports that answer). Each case twice for glasshouse: from the
# scanner's one address, and with -S from a pool of 16 addresses of the scanner's
# (198.18.0.60-75, scan/source_pool.h): the targets then keep 16 ICMP limiters for us.
# Same states required (per port, against nmap's). Writes bench/udp/RESULTS.md.
# Usage (root): bench/udp/run.sh [path/to/glasshouse]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tests/lab/lib.sh"
. "$here/../../tests/lab/udp_daemons.sh"
lab_require_root
lab_require_cmd nmap masscan nft
bin=${1:-$here/../../build/glasshouse}
lab_init "$bin"
lab_create
out="$here/RESULTS.md"
V4=$LAB_V4_TARGET
udp_daemons_start "$LAB_NS_TARGET" "$V4" "$LAB_V6_TARGET" "$LAB_WORK/daemons" || lab_fail "daemons"
TOP=$(python3 - <<'EOF'
ports = []
for line in open("/usr/share/nmap/nmap-services"):
    f = line.split()
    if len(f) >= 3 and f[1].endswith("/udp") and not line.startswith("#"):
        ports.append((float(f[2]), int(f[1].split("/")[0])))
print(",".join(str(p) for _, p in sorted(ports, reverse=True)[:100]))
EOF
)
CASE1="$TOP,$(lab_join , "${UDP_OPEN[@]}")"
ip netns exec "$LAB_NS_TARGET" sysctl -qw net.ipv4.ip_forward=1
HOSTS=()
for i in $(seq 1 8); do
  ns="gh-udpb$i-${LAB_TAG:-$$}"
  ip netns add "$ns" || lab_fail "ip netns add $ns"
  LAB_EXTRA_NS+=("$ns")
  ip -n "$ns" link set lo up
  ip -n "$LAB_NS_TARGET" link add "ghb$i" type veth peer name eth0 netns "$ns"
  ip -n "$LAB_NS_TARGET" addr add "198.18.$((20 + i)).1/24" dev "ghb$i"
  ip -n "$LAB_NS_TARGET" link set "ghb$i" up
  ip -n "$ns" addr add "198.18.$((20 + i)).2/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add 198.18.0.0/24 via "198.18.$((20 + i)).1"
  HOSTS+=("198.18.$((20 + i)).2")
done
ip -n "$LAB_NS_SCAN" route add 198.18.16.0/20 via "$V4"
POOL_N=16
for i in $(seq 60 $((60 + POOL_N - 1))); do ip -n "$LAB_NS_SCAN" addr add "198.18.0.$i/24" dev "$LAB_IF_SCAN"; done
POOL="198.18.0.60-198.18.0.$((60 + POOL_N - 1))"
lab_assert_isolated "$LAB_NS_SCAN"

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# run NAME CMD...: time CMD in the scanner namespace; then let every ICMP bucket refill (10 s).
run() {
  local name=$1 t0 t1
  shift
  lab_assert_isolated "$LAB_NS_SCAN"
  t0=$(date +%s.%N)
  timeout "${RUN_TIMEOUT:-900}" ip netns exec "$LAB_NS_SCAN" "$@" >"$LAB_WORK/$name.out" 2>&1 || lab_log "$name: exit $?"
  t1=$(date +%s.%N)
  T[$name]=$(secs "$t0" "$t1")
  lab_log "$name: ${T[$name]} s"
  sleep 10
}
declare -A T
# masscan finds its router from the default route, which the lab's scanner has none of: give it
# the MAC of the target namespace (the on-link target itself, and the router to the 8 hosts).
ROUTER_MAC=$(ip -n "$LAB_NS_TARGET" -o link show "$LAB_IF_TARGET" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
run gh1 "$GH" scan -sU -Pn -n -p "$CASE1" --show all -oJ "$LAB_WORK/gh1.jsonl" "$V4"
run nmap1 nmap -sU -Pn -n -T4 -p "$CASE1" -oX "$LAB_WORK/nmap1.xml" "$V4"
run nmap1t3 nmap -sU -Pn -n -p "$CASE1" -oX "$LAB_WORK/nmap1t3.xml" "$V4"
run gh1pool "$GH" scan -sU -Pn -n -S "$POOL" -p "$CASE1" --show all -oJ "$LAB_WORK/gh1pool.jsonl" "$V4"
run gh8 "$GH" scan -sU -Pn -n -p "$TOP" --show all -oJ "$LAB_WORK/gh8.jsonl" "${HOSTS[@]}"
run gh8pool "$GH" scan -sU -Pn -n -S "$POOL" -p "$TOP" --show all -oJ "$LAB_WORK/gh8pool.jsonl" "${HOSTS[@]}"
run nmap8 nmap -sU -Pn -n -T4 -p "$TOP" -oX "$LAB_WORK/nmap8.xml" "${HOSTS[@]}"
run nmap8t3 nmap -sU -Pn -n -p "$TOP" -oX "$LAB_WORK/nmap8t3.xml" "${HOSTS[@]}"
# masscan -pU reports only ports that answer (no closed, no open|filtered), so it runs on the
# host with daemons. Its exit can hang after the wait ("waiting -N secs"): 60 s at most.
RUN_TIMEOUT=60 run masscan1 masscan -e "$LAB_IF_SCAN" --router-mac "$ROUTER_MAC" --rate 1000 --wait 5 \
  -pU:"${CASE1//,/,U:}" -oJ "$LAB_WORK/masscan1.json" "$V4"

cmp_states() {  # cmp_states OURS.jsonl NMAP.xml: our counts per state; the ports that differ from nmap's
  python3 - "$1" "$2" <<'EOF'
import collections, json, sys, xml.etree.ElementTree as ET
ours = {}
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o.get("type", "port") == "port" and "port" in o and o.get("proto") == "udp":
        ours[(o["ip"], int(o["port"]))] = o["state"]
theirs, folded = {}, collections.Counter()
for h in ET.parse(sys.argv[2]).getroot().iter("host"):
    a = [x.get("addr") for x in h.iter("address") if x.get("addrtype") == "ipv4"][0]
    for p in h.iter("port"):
        theirs[(a, int(p.get("portid")))] = p.find("state").get("state")
    for e in h.iter("extraports"):  # ports nmap folds into one line: counted by state
        folded[(a, e.get("state"))] += int(e.get("count"))
diff = []
for k, s in sorted(ours.items()):
    t = theirs.get(k)
    if t is None:
        if folded[(k[0], s)] > 0:
            folded[(k[0], s)] -= 1  # one of nmap's folded ports in the same state
        else:
            diff.append(f"{k[0]}:{k[1]} ours {s}, nmap folded it with other states")
    elif t != s:
        diff.append(f"{k[0]}:{k[1]} ours {s}, nmap {t}")
count = collections.Counter(ours.values())
print(f"{len(ours)} ports: " + ", ".join(f"{n} {s}" for s, n in sorted(count.items()))
      + f"; {len(diff)} differ from nmap"
      + (" (" + "; ".join(diff[:2]) + (" ..." if len(diff) > 2 else "") + ")" if diff else ""))
EOF
}
C1=$(cmp_states "$LAB_WORK/gh1.jsonl" "$LAB_WORK/nmap1.xml")
C1T3=$(cmp_states "$LAB_WORK/gh1.jsonl" "$LAB_WORK/nmap1t3.xml" | sed 's/^[^;]*; //')
C8=$(cmp_states "$LAB_WORK/gh8.jsonl" "$LAB_WORK/nmap8.xml")
C8T3=$(cmp_states "$LAB_WORK/gh8.jsonl" "$LAB_WORK/nmap8t3.xml" | sed 's/^[^;]*; //')
P1=$(cmp_states "$LAB_WORK/gh1pool.jsonl" "$LAB_WORK/nmap1.xml")
P1T3=$(cmp_states "$LAB_WORK/gh1pool.jsonl" "$LAB_WORK/nmap1t3.xml" | sed 's/^[^;]*; //')
P8=$(cmp_states "$LAB_WORK/gh8pool.jsonl" "$LAB_WORK/nmap8.xml")
P8T3=$(cmp_states "$LAB_WORK/gh8pool.jsonl" "$LAB_WORK/nmap8t3.xml" | sed 's/^[^;]*; //')
# The pool must not change a single state: the same ports, each in the state of the one-address
# scan of the same case.
same() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
def states(path):
    return {(o["ip"], o["port"]): o["state"] for o in map(json.loads, open(path))
            if o.get("type", "port") == "port" and "port" in o}
a, b = states(sys.argv[1]), states(sys.argv[2])
d = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
print(f"{len(d)} of {len(a)} ports differ from the one-address scan" + (f" (first: {d[0]})" if d else ""))
EOF
}
S1=$(same "$LAB_WORK/gh1.jsonl" "$LAB_WORK/gh1pool.jsonl")
S8=$(same "$LAB_WORK/gh8.jsonl" "$LAB_WORK/gh8pool.jsonl")
M1=$(grep -o '"port": *[0-9]*' "$LAB_WORK/masscan1.json" 2>/dev/null | grep -o '[0-9]*$' | sort -n | paste -sd, -)
G1=$(python3 -c 'import json,sys; print(",".join(str(p) for p in sorted({o["port"] for o in map(json.loads, open(sys.argv[1])) if o.get("type") == "port" and o.get("state") == "open"})))' "$LAB_WORK/gh1.jsonl")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
RATE_MS=$(ip netns exec "$LAB_NS_TARGET" sysctl -n net.ipv4.icmp_ratelimit)
# The target's ICMP limiter is the physical bound: Linux answers a burst of 6 port unreachables
# to one address, then one every icmp_ratelimit ms. With C closed ports on the busiest host, the
# last answer cannot come before (C - 6) x icmp_ratelimit. From K addresses (-S) the host keeps K
# limiters: at best (the closed ports split evenly over the K) (C - 6K) / K x icmp_ratelimit, and
# never below C / 1000 s (icmp_msgs_per_sec); the real split is a hash's, a little uneven.
bound() {  # bound JSONL [K]
  python3 - "$1" "$RATE_MS" "${2:-1}" <<'EOF'
import collections, json, sys
closed = collections.Counter()
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o.get("type") == "port" and o.get("state") == "closed":
        closed[o["ip"]] += 1
c, k = max(closed.values(), default=0), int(sys.argv[3])
print(f"{max(max(0, c - 6 * k) / k * int(sys.argv[2]) / 1000, c / 1000):.1f}")
EOF
}
B1=$(bound "$LAB_WORK/gh1.jsonl")
B8=$(bound "$LAB_WORK/gh8.jsonl")
BP1=$(bound "$LAB_WORK/gh1pool.jsonl" "$POOL_N")
BP8=$(bound "$LAB_WORK/gh8pool.jsonl" "$POOL_N")
{
  echo "# bench/udp results"
  echo
  echo "Run $(date -u '+%Y-%m-%d %H:%M UTC'), kernel $(uname -r), $(nproc) cores, $(nmap --version | head -1)."
  echo "Command: \`bench/udp/run.sh\` (root). Targets keep Linux's default ICMP limits ($RATE_MS ms per destination, burst 6)."
  echo
  echo "| case | glasshouse -sU | nmap -sU -T4 | ratio | nmap -sU (-T3) | ratio | ICMP bound | glasshouse / bound |"
  echo "|---|---|---|---|---|---|---|---|"
  echo "| top 100 + daemons' ports ($(tr , '\n' <<<"$CASE1" | sort -u | wc -l) ports), 1 host | ${T[gh1]} s | ${T[nmap1]} s | $(ratio "${T[gh1]}" "${T[nmap1]}") | ${T[nmap1t3]} s | $(ratio "${T[gh1]}" "${T[nmap1t3]}") | $B1 s | $(ratio "${T[gh1]}" "$B1") |"
  echo "| top 100, 8 hosts | ${T[gh8]} s | ${T[nmap8]} s | $(ratio "${T[gh8]}" "${T[nmap8]}") | ${T[nmap8t3]} s | $(ratio "${T[gh8]}" "${T[nmap8t3]}") | $B8 s | $(ratio "${T[gh8]}" "$B8") |"
  echo "| 1 host, -S pool of $POOL_N | ${T[gh1pool]} s | ${T[nmap1]} s | $(ratio "${T[gh1pool]}" "${T[nmap1]}") | ${T[nmap1t3]} s | $(ratio "${T[gh1pool]}" "${T[nmap1t3]}") | $BP1 s (even split) | - |"
  echo "| 8 hosts, -S pool of $POOL_N | ${T[gh8pool]} s | ${T[nmap8]} s | $(ratio "${T[gh8pool]}" "${T[nmap8]}") | ${T[nmap8t3]} s | $(ratio "${T[gh8pool]}" "${T[nmap8t3]}") | $BP8 s (even split) | - |"
  echo
  echo "States, 1 host: $C1 (-T4); $C1T3 (-T3)."
  echo
  echo "States, 8 hosts: $C8 (-T4); $C8T3 (-T3)."
  echo
  echo "States with -S $POOL: 1 host: $P1 (-T4); $P1T3 (-T3); $S1. 8 hosts: $P8 (-T4); $P8T3 (-T3); $S8."
  echo
  echo "masscan -pU (case 1, --rate 1000, --wait 5): ${T[masscan1]} s, open ports reported: ${M1:-none} (glasshouse: $G1). It reports no closed or open|filtered UDP port."
} >"$out"
cat "$out"
lab_finish
