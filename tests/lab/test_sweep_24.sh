#!/usr/bin/env bash
# Sweep of a whole /24, SYN and connect scan.
#
# The target namespace answers for every address of 198.19.0.0/24 (`ip route add local ... dev
# lo`), and the scanner namespace routes that /24 to it. Listeners on 3 random ports (dual-stack
# sockets on the wildcard address, so every address of the /24 accepts), 2 more random ports
# closed. We scan the /24 on those 5 ports with -sS and -sT and require all 256 addresses, .0
# and .255 included, to report exactly the 3 listening ports open and the 2 others closed.
#
# Why .0 and .255 answer: with no interface address in 198.19.0.0/24 there is no broadcast route
# for it on either side; the local route makes all 256 addresses local to the target, and the
# scanner treats them as plain unicast behind 198.18.0.2. The test checks that before scanning.
#
#   bash tests/lab/test_sweep_24.sh /path/to/glasshouse     (LAB_SEED=N to repeat a run)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SWEEP=198.19.0.0/24

lab_require_root
lab_init "$@"
lab_create
lab_local_block "$SWEEP"

read -ra OPEN <<<"$(random_ports 3 "$LAB_SEED")"
read -ra CLOSED <<<"$(random_ports 2 "$LAB_SEED-closed" "${OPEN[*]}")"
PORTS=$(printf '%s\n' "${OPEN[@]}" "${CLOSED[@]}" | sort -n | paste -sd,)
lab_log "open ports: $(lab_join , "${OPEN[@]}"); closed ports: $(lab_join , "${CLOSED[@]}"); scanning -p $PORTS"
lab_listen "${OPEN[@]}"

# Lab sanity: the network and broadcast-looking ends of the /24 accept and refuse like any other.
ip netns exec "$LAB_NS_SCAN" python3 - "${OPEN[0]}" "${CLOSED[0]}" <<'EOF' || lab_fail "lab setup: the /24 does not answer as expected"
import socket, sys
open_port, closed_port = int(sys.argv[1]), int(sys.argv[2])
for host in ("198.19.0.0", "198.19.0.1", "198.19.0.128", "198.19.0.255"):
    for port, want in ((open_port, "open"), (closed_port, "closed")):
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect((host, port))
            got = "open"
        except ConnectionRefusedError:
            got = "closed"
        except OSError as e:
            got = f"error {e}"
        finally:
            s.close()
        if got != want:
            print(f"{host}:{port}: expected {want}, got {got}", file=sys.stderr)
            sys.exit(1)
EOF
lab_log "lab: $SWEEP answers on all 256 addresses, .0 and .255 included"

for type in -sS -sT; do
  name="sweep-${type#-}"
  out="$LAB_WORK/$name.jsonl"
  if ! lab_scan "$LAB_NS_SCAN" "$name" "$type" -p "$PORTS" --show all -oJ "$out" -n -T4 --max-retries 2 \
      --seed "$LAB_SEED" "$SWEEP"; then
    lab_failed "$name: scan failed (LAB_SEED=$LAB_SEED)"
    continue
  fi
  if ! lab_check_jsonl "$out" "${OPEN[*]}" "" "$PORTS" "$SWEEP" --interrupted false; then
    lab_failed "$name: results differ from the lab (LAB_SEED=$LAB_SEED)"
  fi
done
lab_finish
