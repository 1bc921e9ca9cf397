#!/usr/bin/env bash
# SYN and connect scan of several on-link hosts: each needs its own next-hop MAC.
#
# The target namespace holds 198.18.0.2-.4 on its veth (one link, three hosts as far as ARP is
# concerned); 198.18.0.5 exists nowhere. The scanner, on the same /24 with no gateway, must
# resolve each target's MAC from the kernel's neighbour table and address its frames to it. The
# three live hosts report the listeners open and one more port closed; the absent one has every
# port filtered (host-unreach for -sS, which never got an ARP answer; no-response or host-unreach
# for -sT, as the kernel decides), and nothing else is reported.
#
#   bash tests/lab/test_onlink_hosts.sh /path/to/glasshouse     (LAB_SEED=N to repeat a run)
# ctest-labels: sanitize
set -euo pipefail
. "$(dirname "$0")/lib.sh"

lab_require_root
lab_init "$@"
lab_create
ip -n "$LAB_NS_TARGET" addr add 198.18.0.3/24 dev "$LAB_IF_TARGET"
ip -n "$LAB_NS_TARGET" addr add 198.18.0.4/24 dev "$LAB_IF_TARGET"

read -ra OPEN <<<"$(random_ports 2 "$LAB_SEED")"
read -ra CLOSED <<<"$(random_ports 1 "$LAB_SEED-closed" "${OPEN[*]}")"
PORTS=$(printf '%s\n' "${OPEN[@]}" "${CLOSED[@]}" | sort -n | paste -sd,)
lab_log "open ports: $(lab_join , "${OPEN[@]}"); closed: ${CLOSED[0]}; scanning -p $PORTS"
lab_listen "${OPEN[@]}"

for type in -sS -sT; do
  name="onlink-${type#-}"
  out="$LAB_WORK/$name.jsonl"
  if ! lab_scan "$LAB_NS_SCAN" "$name" "$type" -p "$PORTS" --show all -oJ "$out" -n -T4 \
      --max-retries 1 --seed "$LAB_SEED" 198.18.0.2-198.18.0.5; then
    lab_failed "$name: scan failed (LAB_SEED=$LAB_SEED)"
    continue
  fi
  # Live hosts: exact states. The absent host: every port filtered. Nothing twice, nothing else.
  python3 - "$out" "$PORTS" "${OPEN[*]}" <<'PY' || lab_failed "$name: results differ (LAB_SEED=$LAB_SEED)"
import json, sys
path, ports, open_ports = sys.argv[1], {int(p) for p in sys.argv[2].split(",")}, {int(p) for p in sys.argv[3].split()}
got = {}
for line in open(path):
    r = json.loads(line)
    if r.get("type") != "port":
        continue
    key = (r["ip"], r["port"])
    if key in got:
        sys.exit(f"duplicate result {key}")
    got[key] = (r["state"], r["reason"])
bad = []
for host in ("198.18.0.2", "198.18.0.3", "198.18.0.4", "198.18.0.5"):
    for p in sorted(ports):
        want = "filtered" if host == "198.18.0.5" else ("open" if p in open_ports else "closed")
        state = got.pop((host, p), (None, None))[0]
        if state != want:
            bad.append(f"{host}:{p} expected {want}, got {state}")
bad += [f"unexpected result {k}" for k in got]
if bad:
    sys.exit("\n".join(bad))
print(f"OK: {path}: 4 hosts x {len(ports)} ports as expected")
PY
done
lab_finish
