#!/usr/bin/env bash
# Issue 10's flag-scan benchmark: glasshouse against nmap, each TCP flag scan (-sF -sN -sX -sM
# -sA -sW) over the 1,000 top ports of one Linux target namespace (tests/lab/lib.sh: 198.18.0.2,
# or 2001:db8::2 with FAMILY=6) that has 20 listeners, 20 nft-dropped ports and 10 ports rejected
# with ICMP admin-prohibited among them; the rest are closed. Both tools run with -T4 -Pn -n, one
# after the other; the states of every port are compared (tests/lab/flag_states.py) and the wall
# times printed with their ratio. Root only; nothing leaves the two namespaces.
#
#   sudo bash bench/flags/run.sh build/glasshouse [REPEAT]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../tests/lab/lib.sh"
GH_BIN=$(realpath "${1:-build/glasshouse}")
REPEAT=${2:-3}
lab_require_root
lab_require_cmd nmap nft
lab_init "$GH_BIN"
lab_create
ADDR=$LAB_V4_TARGET
[[ ${FAMILY:-4} == 6 ]] && ADDR=$LAB_V6_TARGET

# nmap's 1,000 top TCP ports, from the user's nmap-services (read here, never copied).
PORTS=$(python3 -c '
rows = []
for line in open("/usr/share/nmap/nmap-services"):
    f = line.split()
    if len(f) >= 3 and not line.startswith("#") and f[1].endswith("/tcp"):
        rows.append((-float(f[2]), int(f[1].split("/")[0])))
print(",".join(str(p) for _, p in sorted(rows)[:1000]))')
mapfile -t LIST < <(python3 -c '
import sys
out = []
for part in sys.argv[1].split(","):
    lo, _, hi = part.partition("-")
    out += range(int(lo), int(hi or lo) + 1)
import random
random.seed(int(sys.argv[2]))
random.shuffle(out)
print("\n".join(map(str, out[:50])))' "$PORTS" "$LAB_SEED")
OPEN=("${LIST[@]:0:20}")
DROPPED=("${LIST[@]:20:20}")
REJECTED=("${LIST[@]:40:10}")
lab_listen "${OPEN[@]}"
lab_filter "${DROPPED[@]}"
lab_ns_exec "$LAB_NS_TARGET" nft -f - <<NFT
table inet gh_reject {
  chain input {
    type filter hook input priority filter; policy accept;
    meta nfproto ipv4 tcp dport { $(lab_join ', ' "${REJECTED[@]}") } reject with icmp type admin-prohibited
    meta nfproto ipv6 tcp dport { $(lab_join ', ' "${REJECTED[@]}") } reject with icmpv6 type admin-prohibited
  }
}
NFT
lab_ns_exec "$LAB_NS_TARGET" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0

# summary FILE: "closed 950, open|filtered 40, filtered 10" from our -oJ.
summary() {
  python3 -c '
import json, sys, collections
c = collections.Counter(r["state"] for r in map(json.loads, open(sys.argv[1])) if r.get("type") == "port")
print(", ".join(f"{s} {n}" for s, n in c.most_common()))' "$1"
}

printf '%-6s %-4s %10s %10s %7s  %s\n' scan run glasshouse nmap ratio states
for scan in -sF -sN -sX -sM -sA -sW; do
  for r in $(seq "$REPEAT"); do
    name="${scan#-}-$r"
    lab_scan "$LAB_NS_SCAN" "$name" "$scan" -T4 -n -p "$PORTS" --show all -oJ "$LAB_WORK/$name.jsonl" \
      "$ADDR" >/dev/null || lab_fail "$name: glasshouse failed"
    ours=$LAB_SCAN_SECONDS
    t0=$(date +%s.%N)
    lab_ns_exec "$LAB_NS_SCAN" nmap "-${FAMILY:-4}" "$scan" -T4 -Pn -n --reason -p "$PORTS" \
      -oX "$LAB_WORK/$name.nmap.xml" "$ADDR" >/dev/null 2>&1 || lab_fail "$name: nmap failed"
    t1=$(date +%s.%N)
    theirs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    same=same
    n=$(python3 "$LAB_DIR/flag_states.py" "$LAB_WORK/$name.jsonl" "$LAB_WORK/$name.nmap.xml" "$ADDR" - \
      2>"$LAB_WORK/$name.diff") || same="DIFFER ($(wc -l <"$LAB_WORK/$name.diff") lines, $LAB_WORK/$name.diff)"
    printf '%-6s %-4s %9ss %9ss %7s  %s\n' "$scan" "$r" "$ours" "$theirs" \
      "$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }')" "$same ($n ports; $(summary "$LAB_WORK/$name.jsonl"))"
  done
done
