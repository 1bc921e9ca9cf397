#!/usr/bin/env bash
# bench/udp: -sU against nmap -sU -T4 (and masscan -pU) in the namespace lab (issue 10).
#   case 1: the top 100 UDP ports (nmap-services' ranking, read from the installed nmap) plus the
#           daemons' ports, one host running real daemons (tests/lab/udp_daemons.sh), Linux's
#           default ICMP rate limit;
#   case 2: the top 100 UDP ports on 8 routed hosts, each its own namespace and ICMP limiter.
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
lab_assert_isolated "$LAB_NS_SCAN"

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# run NAME CMD...: time CMD in the scanner namespace; then let every ICMP bucket refill (10 s).
run() {
  local name=$1 t0 t1
  shift
  lab_assert_isolated "$LAB_NS_SCAN"
  t0=$(date +%s.%N)
  timeout 900 ip netns exec "$LAB_NS_SCAN" "$@" >"$LAB_WORK/$name.out" 2>&1 || lab_log "$name: exit $?"
  t1=$(date +%s.%N)
  T[$name]=$(secs "$t0" "$t1")
  lab_log "$name: ${T[$name]} s"
  sleep 10
}
declare -A T
run gh1 "$GH" scan -sU -Pn -n -p "$CASE1" --show all -oJ "$LAB_WORK/gh1.jsonl" "$V4"
run nmap1 nmap -sU -Pn -n -T4 -p "$CASE1" -oX "$LAB_WORK/nmap1.xml" "$V4"
run gh8 "$GH" scan -sU -Pn -n -p "$TOP" --show all -oJ "$LAB_WORK/gh8.jsonl" "${HOSTS[@]}"
run nmap8 nmap -sU -Pn -n -T4 -p "$TOP" -oX "$LAB_WORK/nmap8.xml" "${HOSTS[@]}"
run masscan8 masscan -e "$LAB_IF_SCAN" --rate 1000 -pU:"${TOP//,/,U:}" -oJ "$LAB_WORK/masscan8.json" "${HOSTS[@]}"

cmp_states() {  # cmp_states OURS.jsonl NMAP.xml: "N ports, D differ (list)"
  python3 - "$1" "$2" <<'EOF'
import json, sys, xml.etree.ElementTree as ET
ours = {}
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o.get("type") == "port":
        ours[(o["ip"], o["port"])] = o["state"]
theirs = {}
for h in ET.parse(sys.argv[2]).getroot().iter("host"):
    a = [x.get("addr") for x in h.iter("address") if x.get("addrtype") == "ipv4"][0]
    for p in h.iter("port"):
        theirs[(a, int(p.get("portid")))] = p.find("state").get("state")
    # nmap folds ports into <extraports>: those have the extraports state
    for e in h.iter("extraports"):
        pass
diff = []
for k, s in ours.items():
    t = theirs.get(k)
    if t is None:
        continue  # in nmap's extraports (closed), compared below by count
    if t != s:
        diff.append(f"{k[0]}:{k[1]} ours {s} nmap {t}")
ours_closed = sum(1 for s in ours.values() if s == "closed")
nmap_listed = len(theirs)
print(f"{len(ours)} ports; nmap listed {nmap_listed} (the rest in its closed extraports); "
      f"ours closed {ours_closed}; {len(diff)} differ" + (": " + "; ".join(diff[:8]) if diff else ""))
EOF
}
C1=$(cmp_states "$LAB_WORK/gh1.jsonl" "$LAB_WORK/nmap1.xml")
C8=$(cmp_states "$LAB_WORK/gh8.jsonl" "$LAB_WORK/nmap8.xml")
M8=$(grep -c '"port"' "$LAB_WORK/masscan8.json" 2>/dev/null || echo 0)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
{
  echo "# bench/udp results"
  echo
  echo "Run $(date -u '+%Y-%m-%d %H:%M UTC'), kernel $(uname -r), $(nproc) cores, $(nmap --version | head -1)."
  echo "Command: \`bench/udp/run.sh\` (root). Targets keep Linux's default ICMP limits ($(ip netns exec "$LAB_NS_TARGET" sysctl -n net.ipv4.icmp_ratelimit) ms per destination)."
  echo
  echo "| case | glasshouse -sU | nmap -sU -T4 | ratio | states |"
  echo "|---|---|---|---|---|"
  echo "| top 100 + daemons' ports ($(tr -cd , <<<"$CASE1," | wc -c) ports), 1 host | ${T[gh1]} s | ${T[nmap1]} s | $(ratio "${T[gh1]}" "${T[nmap1]}") | $C1 |"
  echo "| top 100, 8 hosts | ${T[gh8]} s | ${T[nmap8]} s | $(ratio "${T[gh8]}" "${T[nmap8]}") | $C8 |"
  echo
  echo "masscan -pU (top 100, 8 hosts, --rate 1000): ${T[masscan8]} s, $M8 open ports reported (it reports no closed UDP ports)."
} >"$out"
cat "$out"
lab_finish
