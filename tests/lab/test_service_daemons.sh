#!/usr/bin/env bash
# -sV against real Debian daemons (tests/lab/service_daemons.sh starts them in the target
# namespace on 198.18.0.2, configurations in the work dir): each must be named with the right
# product and, where the daemon discloses one, the installed package's upstream version
# (dpkg-query); TLS on 443, 4433 (an unusual port), 993, 995, STARTTLS on 21, 25, 110, 143; the
# HTTP title and redirect; the SSH host key's fingerprint as ssh-keygen -l prints it. Then nmap -sV
# on the same ports: Glasshouse must get at least as many right, and every one.
# ctest-labels: lab service
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service_daemons.sh"
lab_require_root
lab_require_cmd openssl ssh-keygen dpkg-query
lab_init "$@"
lab_create

svc_start_all "$LAB_NS_TARGET" "$LAB_V4_TARGET" "$LAB_WORK/daemons" >"$LAB_WORK/start.log" 2>&1
cat "$LAB_WORK/start.log"
if ((${#SVC_MISSING[@]})); then
  lab_failed "daemons not installed (scripts/deps/service.txt): ${SVC_MISSING[*]}"
fi
ports=$(IFS=,; echo "${SVC_PORTS[*]}")
# The table of what each port must say, for the checker.
expect="$LAB_WORK/expect.tsv"
: >"$expect"
for p in "${SVC_PORTS[@]}"; do
  IFS='|' read -r svc product pkg <<<"${SVC_EXPECT[$p]}"
  ver=-
  [[ $pkg != - ]] && ver=$(svc_upstream "$pkg")
  printf '%s\t%s\t%s\t%s\n' "$p" "$svc" "$product" "$ver" >>"$expect"
done
cat "$expect"
fp=$(ssh-keygen -lf "$LAB_WORK/daemons/ssh_host_ed25519_key.pub" | awk '{print $2}')

lab_scan "$LAB_NS_SCAN" sv -sT -sV -n -p "$ports" "$LAB_V4_TARGET" -oJ "$LAB_WORK/sv.jsonl" \
  -oN "$LAB_WORK/sv.txt" --audit-log "$LAB_WORK/audit.log" || lab_failed "glasshouse -sV run"
gh_secs=$LAB_SCAN_SECONDS
cat "$LAB_WORK/sv.txt"

lab_log "nmap -sV on the same ports"
t0=$(date +%s.%N)
ip netns exec "$LAB_NS_SCAN" nmap -n -Pn -sT -sV -p "$ports" -oX "$LAB_WORK/nmap.xml" \
  "$LAB_V4_TARGET" >"$LAB_WORK/nmap.txt" 2>&1 || lab_failed "nmap -sV run"
nmap_secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
lab_log "glasshouse ${gh_secs} s, nmap ${nmap_secs} s"

python3 "$LAB_DIR/check_services.py" "$expect" "$LAB_WORK/sv.jsonl" "$LAB_WORK/nmap.xml" \
  --ssh-fingerprint "$fp" --addr "$LAB_V4_TARGET" || lab_failed "service check"
lab_finish
