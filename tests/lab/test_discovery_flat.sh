#!/usr/bin/env bash
# Host discovery on a flat LAN: scanner and targets on one Ethernet segment, most addresses
# silent (issue 9).
#
# The target namespace holds a few addresses of each network, assigned one by one on its veth,
# so only they answer ARP / neighbor solicitations; the network and broadcast addresses and every
# other address stay silent. Networks: 198.18.0.0/24 (2 random live addresses besides the target's
# own), 198.19.0.0/20 (1% live: 40 random addresses), and the on-link IPv6 range 2001:db8::/120
# (2 random live ones). The scanner's own addresses are in the ranges too: up, localhost-response.
#   1. -sn reports exactly the live set (arp-response / nd-response, the target's MAC).
#   2. -sS and -sT -p OPEN,CLOSED report exactly the live hosts' port states and nothing for the
#      dead ones (the scanner's own address is excluded here: its ports are not the target's).
#
#   bash tests/lab/test_discovery_flat.sh /path/to/glasshouse     (LAB_SEED=N to repeat a run)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

lab_require_root
lab_init "$@"
lab_create
CHECK="$LAB_DIR/discovery_check.py"

# The /20 shares the segment: both ends get an address in it.
ip -n "$LAB_NS_SCAN" addr add 198.19.0.1/20 dev "$LAB_IF_SCAN"
ip -n "$LAB_NS_TARGET" addr add 198.19.0.2/20 dev "$LAB_IF_TARGET"
lab_assert_isolated "$LAB_NS_SCAN"

# Random live addresses (seeded), assigned to the target one by one.
read -r LIVE24 LIVE20 LIVE6 < <(python3 - "$LAB_SEED" <<'PY'
import ipaddress, random, sys
r = random.Random(f"glasshouse-discovery-{sys.argv[1]}")
v24 = [f"198.18.0.{h}" for h in r.sample(range(3, 255), 2)]
base = int(ipaddress.IPv4Address("198.19.0.0"))
v20 = [str(ipaddress.IPv4Address(base + h)) for h in r.sample(range(3, 4095), 40)]
v6 = [f"2001:db8::{h:x}" for h in r.sample(range(3, 256), 2)]
print(",".join(v24), ",".join(v20), ",".join(v6))
PY
)
{
  for a in ${LIVE24//,/ }; do echo "addr add $a/24 dev $LAB_IF_TARGET"; done
  for a in ${LIVE20//,/ }; do echo "addr add $a/20 dev $LAB_IF_TARGET"; done
  for a in ${LIVE6//,/ }; do echo "addr add $a/64 dev $LAB_IF_TARGET nodad"; done
} | ip -n "$LAB_NS_TARGET" -batch - || lab_fail "cannot assign the live addresses"
TARGET_MAC=$(ip -n "$LAB_NS_TARGET" -o link show "$LAB_IF_TARGET" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
lab_log "live: /24 $LIVE24; /20 ${LIVE20:0:60}... (40); IPv6 $LIVE6; target MAC $TARGET_MAC"

read -ra OPEN <<<"$(random_ports 1 "$LAB_SEED")"
read -ra CLOSED <<<"$(random_ports 1 "$LAB_SEED-closed" "${OPEN[*]}")"
lab_listen "${OPEN[@]}"

# case NAME RANGE OWN LIVE
run_case() {
  local name=$1 range=$2 own=$3 live=$4 macs=() a
  local want="$own,$LAB_V4_TARGET,$live"
  [[ $range == 198.19.* ]] && want="$own,198.19.0.2,$live"
  [[ $range == 2001:* ]] && want="$own,$LAB_V6_TARGET,$live"
  for a in ${want//,/ }; do [[ $a == "$own" ]] || macs+=(--mac "$a=$TARGET_MAC"); done
  local out="$LAB_WORK/$name-sn.jsonl"
  if lab_scan "$LAB_NS_SCAN" "$name-sn" -sn -n -oJ "$out" "$range"; then
    python3 "$CHECK" hosts "$out" "$want" --reason arp-response --reason nd-response \
      --local "$own" "${macs[@]}" || lab_failed "$name -sn: not exactly the live set (LAB_SEED=$LAB_SEED)"
    grep -Eq "^Glasshouse done: [0-9]+ IP addresses \($(tr ',' '\n' <<<"$want" | grep -c .) hosts up\)" \
      "$LAB_WORK/$name-sn.stdout" || lab_failed "$name -sn: summary line does not count the up hosts"
    grep -Eq '^Host is up \([0-9.]+s latency\)\.$' "$LAB_WORK/$name-sn.stdout" ||
      lab_failed "$name -sn: no 'Host is up (Xs latency).' line"
    grep -q "^MAC Address: ${TARGET_MAC^^} (" "$LAB_WORK/$name-sn.stdout" ||
      lab_failed "$name -sn: no MAC Address line"
  else
    lab_failed "$name -sn: scan failed"
  fi
  local type
  for type in -sS -sT; do
    out="$LAB_WORK/$name$type.jsonl"
    if LAB_DISCOVERY=1 lab_scan "$LAB_NS_SCAN" "$name$type" "$type" -n -p "${OPEN[0]},${CLOSED[0]}" \
        --show all -oJ "$out" --exclude "$own" -T4 "$range"; then
      python3 "$CHECK" ports "$out" "${want#"$own",}" "${OPEN[0]}" "${CLOSED[0]}" ||
        lab_failed "$name $type: not exactly the live hosts' ports (LAB_SEED=$LAB_SEED)"
    else
      lab_failed "$name $type: scan failed"
    fi
  done
}

run_case flat24 198.18.0.0/24 "$LAB_V4_SCAN" "$LIVE24"
run_case flat20 198.19.0.0/20 198.19.0.1 "$LIVE20"
run_case flat6 2001:db8::/120 "$LAB_V6_SCAN" "$LIVE6"
lab_finish
