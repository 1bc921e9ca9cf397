#!/usr/bin/env bash
# -sV side by side: the lab's real Debian daemons (tests/lab/service_daemons.sh) scanned by
# glasshouse -sT -sV and nmap -sT -sV in the same run, REPEAT times each, alternating; prints
# wall times, their ratio, and how many ports each named right (tests/lab/check_services.py).
# Usage (root): bench/service/run.sh build/glasshouse   [REPEAT=3]
#
# --udp: -sU -sV instead, against the UDP daemons of tests/lab/udp_daemons.sh (dnsmasq DNS,
# chronyd, snmpd, memcached on 198.18.0.2): glasshouse -sU -sV and nmap -n -Pn -sU -sV on their
# ports, REPEAT times each (default 1 here: nmap takes ~100 s).
#   bench/service/run.sh --udp build/glasshouse
set -uo pipefail
LAB=$(cd "$(dirname "$0")/../../tests/lab" && pwd)
. "$LAB/lib.sh"
. "$LAB/service_daemons.sh"
udp=0
if [[ ${1:-} == --udp ]]; then
  udp=1
  shift
fi
lab_require_root
lab_init "$@"
lab_create
now() { date +%s.%N; }
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
if ((udp)); then
  . "$LAB/udp_daemons.sh"
  udp_daemons_start "$LAB_NS_TARGET" "$LAB_V4_TARGET" "$LAB_V6_TARGET" "$LAB_WORK/daemons" ||
    lab_fail "UDP daemons did not start"
  ports=53,123,161,11211
  printf '53\tdomain\tdnsmasq\t%s\n123\tntp\tchrony\t-\n161\tsnmp\tnet-snmp\t%s\n11211\tmemcached\tMemcached\t%s\n' \
    "$(svc_upstream dnsmasq-base)" "$(svc_upstream snmpd)" "$(svc_upstream memcached)" >"$LAB_WORK/expect.tsv"
  gh_t=(); nm_t=()
  for i in $(seq "${REPEAT:-1}"); do
    t0=$(now)
    ip netns exec "$LAB_NS_SCAN" "$GH" scan -sU -sV -n -p "$ports" "$LAB_V4_TARGET" \
      -oJ "$LAB_WORK/gh.jsonl" --audit-log "$LAB_WORK/audit.log" >/dev/null 2>&1
    t1=$(now)
    ip netns exec "$LAB_NS_SCAN" nmap -n -Pn -sU -sV -p "$ports" -oX "$LAB_WORK/nmap.xml" \
      "$LAB_V4_TARGET" >/dev/null 2>&1
    t2=$(now)
    gh_t+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')")
    nm_t+=("$(awk -v a="$t1" -v b="$t2" 'BEGIN{printf "%.2f", b-a}')")
    echo "run $i: glasshouse -sU -sV ${gh_t[-1]} s, nmap -sU -sV ${nm_t[-1]} s"
  done
  g=$(med "${gh_t[@]}"); n=$(med "${nm_t[@]}")
  echo "median: glasshouse $g s, nmap $n s, ratio $(awk -v g="$g" -v n="$n" 'BEGIN{printf "%.3f", g/n}') (target <= 0.25)"
  python3 "$LAB/check_services.py" "$LAB_WORK/expect.tsv" "$LAB_WORK/gh.jsonl" "$LAB_WORK/nmap.xml" \
    --addr "$LAB_V4_TARGET" | tail -n 20
  exit 0
fi
svc_start_all "$LAB_NS_TARGET" "$LAB_V4_TARGET" "$LAB_WORK/daemons" >"$LAB_WORK/start.log" 2>&1
ports=$(IFS=,; echo "${SVC_PORTS[*]}")
: >"$LAB_WORK/expect.tsv"
for p in "${SVC_PORTS[@]}"; do
  IFS='|' read -r svc product pkg <<<"${SVC_EXPECT[$p]}"
  ver=-; [[ $pkg != - ]] && ver=$(svc_upstream "$pkg")
  printf '%s\t%s\t%s\t%s\n' "$p" "$svc" "$product" "$ver" >>"$LAB_WORK/expect.tsv"
done
gh_t=(); nm_t=()
for i in $(seq "${REPEAT:-3}"); do
  t0=$(now)
  ip netns exec "$LAB_NS_SCAN" "$GH" scan -sT -sV -n -p "$ports" "$LAB_V4_TARGET" \
    -oJ "$LAB_WORK/gh.jsonl" --audit-log "$LAB_WORK/audit.log" >/dev/null 2>&1
  t1=$(now)
  ip netns exec "$LAB_NS_SCAN" nmap -n -Pn -sT -sV -p "$ports" -oX "$LAB_WORK/nmap.xml" \
    "$LAB_V4_TARGET" >/dev/null 2>&1
  t2=$(now)
  gh_t+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')")
  nm_t+=("$(awk -v a="$t1" -v b="$t2" 'BEGIN{printf "%.2f", b-a}')")
  echo "run $i: glasshouse ${gh_t[-1]} s, nmap ${nm_t[-1]} s"
done
g=$(med "${gh_t[@]}"); n=$(med "${nm_t[@]}")
echo "median: glasshouse $g s, nmap $n s, ratio $(awk -v g="$g" -v n="$n" 'BEGIN{printf "%.2f", g/n}') (target <= 0.25)"
python3 "$LAB/check_services.py" "$LAB_WORK/expect.tsv" "$LAB_WORK/gh.jsonl" "$LAB_WORK/nmap.xml" \
  --addr "$LAB_V4_TARGET" | tail -n 20
