#!/usr/bin/env bash
# -sV against hostile services (tests/lab/hostile_server.py): an endless banner, binary junk, a
# slow drip, a TLS server that stalls, a certificate over 256 KiB, a silent service. The scan must
# end on its own, within --version-timeout plus a margin, without a crash, with a service record
# for every port, and say why it stopped where it cut something short.
# ctest-labels: lab service
set -uo pipefail
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_cmd openssl
lab_init "$@"
lab_create

base=7001
# A self-signed certificate with ~12,000 SANs: more than the 256 KiB a handshake may take.
{
  printf '[req]\ndistinguished_name=dn\nprompt=no\nx509_extensions=ext\n[dn]\nCN=huge.lab\n[ext]\nsubjectAltName=@alt\n[alt]\n'
  for i in $(seq 1 12000); do printf 'DNS.%d=host-%05d.a-rather-long-name.huge.lab\n' "$i" "$i"; done
} >"$LAB_WORK/huge.cnf"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -config "$LAB_WORK/huge.cnf" \
  -keyout "$LAB_WORK/huge.key" -out "$LAB_WORK/huge.pem" >/dev/null 2>&1 || lab_fail "cannot make the huge certificate"
size=$(openssl x509 -in "$LAB_WORK/huge.pem" -outform DER | wc -c)
lab_log "huge certificate: $size bytes"
((size > 262144)) || lab_fail "the huge certificate is only $size bytes"

lab_ns_prefix "$LAB_NS_TARGET"
"${LAB_PREFIX[@]}" python3 "$LAB_DIR/hostile_server.py" "$LAB_V4_TARGET" "$base" \
  "$LAB_WORK/huge.pem" "$LAB_WORK/huge.key" >"$LAB_WORK/hostile.log" 2>&1 &
LAB_PIDS+=($!)
for _ in $(seq 50); do grep -q ready "$LAB_WORK/hostile.log" && break; sleep 0.1; done
grep -q ready "$LAB_WORK/hostile.log" || lab_fail "hostile server did not start: $(cat "$LAB_WORK/hostile.log")"

ports="$base-$((base + 5))"
LAB_SCAN_TIMEOUT=60 lab_scan "$LAB_NS_SCAN" hostile -sT -sV -n -p "$ports" "$LAB_V4_TARGET" \
  --version-timeout 5s -oJ "$LAB_WORK/hostile.jsonl" --audit-log "$LAB_WORK/audit.log" ||
  lab_failed "scan of the hostile services"
cat "$LAB_WORK/hostile.stdout"
awk -v s="$LAB_SCAN_SECONDS" 'BEGIN { exit !(s < 20) }' ||
  lab_failed "the -sV stage took $LAB_SCAN_SECONDS s with --version-timeout 5s"

python3 - "$LAB_WORK/hostile.jsonl" "$base" <<'EOF' || lab_failed "hostile service records"
import json, sys
recs = {r["port"]: r for r in map(json.loads, open(sys.argv[1])) if r.get("type") == "service"}
base = int(sys.argv[2])
errors = []
for p in range(base, base + 6):
    if p not in recs:
        errors.append(f"{p}: no service record")
if base + 4 in recs and "TLS handshake failed" not in recs[base + 4].get("note", ""):
    errors.append(f"{base+4}: huge certificate not reported: {recs[base+4]}")
if base + 0 in recs and "KiB" not in recs[base].get("note", ""):
    errors.append(f"{base}: endless banner not reported as cut: {recs[base]}")
for p, r in sorted(recs.items()):
    print(p, r["name"], r["method"], r.get("note", ""))
sys.exit("\n".join(errors) if errors else 0)
EOF
lab_finish
