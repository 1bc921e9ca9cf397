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
#      dead ones (the scanner's own address is excluded here: its ports are not the target's);
#      so does -sU (a UDP echo server on each live address, a closed UDP port) on the /24 and
#      the IPv6 range: on-link, framed with the MACs of discovery's ARP/NDP replies.
#   3. nmap -sn on the /24 finds the same up set.
#   4. More than 512 live on-link hosts (a /22, 600 live): -sS reports exactly their ports. It
#      frames with the MACs of discovery's ARP replies (the kernel's neighbour-table path of -Pn
#      refuses more than 512 on-link hosts).
#   4b. A lossy LAN: the target drops 20% of its ARP replies at random (nft numgen); -sn of the
#      /22 still reports exactly the 600 live hosts: the retries follow the loss the first retry
#      measured (nmap's two ARP retries would miss ~0.8% of them, about 5).
#   5. A scope whose ports are only OPEN: -sn and -sS (with discovery) of the /24 still find the
#      live hosts (ARP is a port-less host probe), and the gate refuses nothing; the audit log's
#      probe count of the -sn equals the ARP requests counted at the target (retries included),
#      and its end record carries the sweep's load evidence (rates, back-offs).
#   6. SIGINT during discovery of the /20 (-sn, and -sS -sU with its two port stages streaming),
#      then --resume (the default checkpoint place): the union of the runs is exactly the
#      uninterrupted result, nothing twice.
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
ip -n "$LAB_NS_SCAN" addr add 198.19.64.1/22 dev "$LAB_IF_SCAN"
lab_assert_isolated "$LAB_NS_SCAN"

# Random live addresses (seeded), assigned to the target one by one.
read -r LIVE24 LIVE20 LIVE6 LIVE22 < <(python3 - "$LAB_SEED" <<'PY'
import ipaddress, random, sys
r = random.Random(f"glasshouse-discovery-{sys.argv[1]}")
v24 = [f"198.18.0.{h}" for h in r.sample(range(3, 255), 2)]
base = int(ipaddress.IPv4Address("198.19.0.0"))
v20 = [str(ipaddress.IPv4Address(base + h)) for h in r.sample(range(3, 4095), 40)]
v6 = [f"2001:db8::{h:x}" for h in r.sample(range(3, 256), 2)]
base = int(ipaddress.IPv4Address("198.19.64.0"))
v22 = [str(ipaddress.IPv4Address(base + h)) for h in r.sample(range(2, 1023), 600)]
print(",".join(v24), ",".join(v20), ",".join(v6), ",".join(v22))
PY
)
{
  for a in ${LIVE24//,/ }; do echo "addr add $a/24 dev $LAB_IF_TARGET"; done
  for a in ${LIVE20//,/ }; do echo "addr add $a/20 dev $LAB_IF_TARGET"; done
  for a in ${LIVE22//,/ }; do echo "addr add $a/22 dev $LAB_IF_TARGET"; done
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
  local type types=(-sS -sT) open closed
  # -sU on the LAN too, but not on the /20: its 41 hosts share one kernel and so one ICMP
  # limiter (~35 s of port unreachables).
  [[ $name == flat20 ]] || types+=(-sU)
  for type in "${types[@]}"; do
    out="$LAB_WORK/$name$type.jsonl"
    open=${OPEN[0]} closed=${CLOSED[0]}
    [[ $type == -sU ]] && open=$UDP_OPEN closed=$UDP_CLOSED
    if LAB_DISCOVERY=1 lab_scan "$LAB_NS_SCAN" "$name$type" "$type" -n -p "$open,$closed" \
        --show all -oJ "$out" --exclude "$own" -T4 "$range"; then
      python3 "$CHECK" ports "$out" "${want#"$own",}" "$open" "$closed" ||
        lab_failed "$name $type: not exactly the live hosts' ports (LAB_SEED=$LAB_SEED)"
    else
      lab_failed "$name $type: scan failed"
    fi
  done
}

# -sU: a UDP echo server on every live address of the /24 and the IPv6 range (each socket bound
# to its address, so that a reply comes from the address probed), and a closed UDP port.
# The /20's live addresses get one too, for the interrupted -sS -sU below (open ports only: no
# ICMP limiter in the way).
read -r UDP_OPEN UDP_CLOSED <<<"$(random_ports 2 "$LAB_SEED-udp" "${OPEN[*]} ${CLOSED[*]}")"
ip netns exec "$LAB_NS_TARGET" python3 - "$UDP_OPEN" "$LAB_V4_TARGET" ${LIVE24//,/ } \
  "$LAB_V6_TARGET" ${LIVE6//,/ } 198.19.0.2 ${LIVE20//,/ } <<'PY' &
import select, socket, sys
port, socks = int(sys.argv[1]), []
for a in sys.argv[2:]:
    s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a, port))
    socks.append(s)
while True:
    for s in select.select(socks, [], [])[0]:
        d, peer = s.recvfrom(2048)
        s.sendto(b"echo:" + d[:16], peer)
PY
LAB_PIDS+=($!)
for _ in $(seq 50); do
  (($(ip netns exec "$LAB_NS_TARGET" ss -Hlun | grep -c ":$UDP_OPEN ") >= 47)) && break
  sleep 0.1
done

run_case flat24 198.18.0.0/24 "$LAB_V4_SCAN" "$LIVE24"
run_case flat20 198.19.0.0/20 198.19.0.1 "$LIVE20"
run_case flat6 2001:db8::/120 "$LAB_V6_SCAN" "$LIVE6"

# 3. nmap's ARP ping finds the same up set on the /24.
if ip netns exec "$LAB_NS_SCAN" nmap -sn -n -oG "$LAB_WORK/nmap24.gnmap" 198.18.0.0/24 >/dev/null 2>&1; then
  nmap_up=$(python3 "$CHECK" nmap-up "$LAB_WORK/nmap24.gnmap")
  [[ $nmap_up == $(python3 "$CHECK" glasshouse-up "$LAB_WORK/flat24-sn.jsonl") ]] ||
    lab_failed "flat24 -sn: not nmap's up set ($nmap_up)"
else
  lab_failed "nmap -sn failed"
fi

# 4. 600 live on-link hosts: past the kernel path's 512.
out="$LAB_WORK/big22-sS.jsonl"
if LAB_DISCOVERY=1 lab_scan "$LAB_NS_SCAN" big22-sS -sS -n -p "${OPEN[0]},${CLOSED[0]}" --show all \
    -oJ "$out" --exclude 198.19.64.1 -T4 198.19.64.0/22; then
  python3 "$CHECK" ports "$out" "$LIVE22" "${OPEN[0]}" "${CLOSED[0]}" ||
    lab_failed "big22 -sS: not exactly the 600 live hosts' ports (LAB_SEED=$LAB_SEED)"
else
  lab_failed "big22 -sS: scan failed"
fi

# 4b. 20% of the ARP replies lost: every live host found all the same.
ip netns exec "$LAB_NS_TARGET" nft -f - <<'NFT'
table arp gh_loss {
  chain out {
    type filter hook output priority 0; policy accept;
    arp operation reply numgen random mod 100 < 20 counter drop
  }
}
NFT
if lab_scan "$LAB_NS_SCAN" lossy22-sn -sn -n --exclude 198.19.64.1 -oJ "$LAB_WORK/lossy22-sn.jsonl" \
    198.19.64.0/22; then
  python3 "$CHECK" hosts "$LAB_WORK/lossy22-sn.jsonl" "$LIVE22" --reason arp-response ||
    lab_failed "lossy22 -sn: not exactly the 600 live hosts with 20% of the ARP replies lost (LAB_SEED=$LAB_SEED)"
  dropped=$(ip netns exec "$LAB_NS_TARGET" nft list table arp gh_loss | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
  lab_log "lossy22 -sn: $dropped ARP replies dropped at the target"
  [[ $dropped -ge 60 ]] || lab_failed "lossy22 -sn: only $dropped ARP replies dropped: the loss did not happen"
else
  lab_failed "lossy22 -sn: scan failed"
fi
ip netns exec "$LAB_NS_TARGET" nft delete table arp gh_loss

# 5. A scope whose only port is OPEN still lets discovery find its hosts.
SCOPE="$LAB_WORK/ports-only.toml"
cat >"$SCOPE" <<EOF
[engagement]
id = "LAB-DISCOVERY-$LAB_SEED"
authorized_by = "Lab owner, glasshouse CI"
contact = "ci@lab.example"
not_before = 2020-01-01T00:00:00Z
not_after  = 2199-12-31T23:59:59Z
[targets]
include = ["198.18.0.0/24"]
ports = "${OPEN[0]}"
EOF
want24="$LAB_V4_TARGET,$LIVE24"
# Every ARP request reaching the target is counted (nft's arp family); the audit log's end record
# must count exactly those: discovery probes, retries included, are audited probes.
ip netns exec "$LAB_NS_TARGET" nft -f - <<'NFT'
table arp gh_arp {
  chain in {
    type filter hook input priority 0; policy accept;
    arp operation request counter
  }
}
NFT
if lab_scan "$LAB_NS_SCAN" scope-sn -sn -n --scope "$SCOPE" --exclude "$LAB_V4_SCAN" \
    --audit-log "$LAB_WORK/audit.jsonl" -oJ "$LAB_WORK/scope-sn.jsonl" 198.18.0.0/24; then
  python3 "$CHECK" hosts "$LAB_WORK/scope-sn.jsonl" "$want24" --reason arp-response ||
    lab_failed "scope -sn: not exactly the live set"
  ! grep -q "policy gate refused" "$LAB_WORK/scope-sn.stderr" || lab_failed "scope -sn: the gate refused probes"
  wire=$(ip netns exec "$LAB_NS_TARGET" nft list table arp gh_arp | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
  audited=$(python3 -c 'import json,sys; print([r for r in map(json.loads, open(sys.argv[1])) if r.get("event") == "end"][-1]["probes_sent"])' "$LAB_WORK/audit.jsonl")
  lab_log "scope -sn: $wire ARP requests at the target, $audited probes in the audit log"
  [[ $wire == "$audited" && $wire -ge 255 ]] ||
    lab_failed "scope -sn: the audit log counts $audited probes, the wire $wire ARP requests"
  # A -sn run at the default timing records its sweep's own load evidence (its congestion
  # control's highest rates and back-offs), as a port scan does.
  python3 - "$LAB_WORK/audit.jsonl" <<'PY' || lab_failed "scope -sn: no load evidence in the audit log's end record"
import json, sys
end = [r for r in map(json.loads, open(sys.argv[1])) if r.get("event") == "end"][-1]
load = end["load"]
for key in ("max_rate", "max_host_rate", "max_rtt_inflation", "backoffs", "backoffs_loss",
            "backoffs_rtt", "backoffs_kernel", "hosts_backed_off", "hosts_impaired", "impairment"):
    assert key in load, key
assert load["max_rate"] > 0 and load["max_host_rate"] > 0, load
print("[lab] scope -sn: audit load evidence:", json.dumps(load))
PY
else
  lab_failed "scope -sn: scan failed"
fi
if LAB_DISCOVERY=1 lab_scan "$LAB_NS_SCAN" scope-sS -sS -n -p "${OPEN[0]}" --show all --scope "$SCOPE" \
    --exclude "$LAB_V4_SCAN" -oJ "$LAB_WORK/scope-sS.jsonl" 198.18.0.0/24; then
  python3 "$CHECK" ports "$LAB_WORK/scope-sS.jsonl" "$want24" "${OPEN[0]}" "" ||
    lab_failed "scope -sS: not exactly the live hosts' port"
  ! grep -q "policy gate refused" "$LAB_WORK/scope-sS.stderr" || lab_failed "scope -sS: the gate refused probes"
else
  lab_failed "scope -sS: scan failed"
fi

# 6. SIGINT during discovery, then --resume: the same result as uninterrupted.
# interrupt NAME ARGS...: starts the scan, SIGINT after 1 s (discovery of the /20 at 2,500
# probes/s is still sweeping its first pass), expects exit 130, hosts already written to
# $LAB_WORK/NAME.jsonl and a resume file, then resumes it to the end.
interrupt() {
  local name=$1 rc=0 file
  shift
  lab_log "$name: glasshouse scan $* (SIGINT after 1 s, then --resume)"
  ip netns exec "$LAB_NS_SCAN" "$GH" scan "$@" >"$LAB_WORK/$name.stdout" 2>"$LAB_WORK/$name.stderr" </dev/null &
  local pid=$!
  LAB_PIDS+=("$pid")
  sleep 1
  kill -INT "$pid"
  wait "$pid" || rc=$?
  [[ $rc == 130 ]] || { lab_failed "$name: exit $rc after SIGINT, expected 130"; return 1; }
  grep -q '"type":"host"' "$LAB_WORK/$name.jsonl" ||
    { lab_failed "$name: no host written before the SIGINT (nothing to resume from)"; return 1; }
  file=$(sed -n 's/^glasshouse: paused; continue with: glasshouse scan --resume //p' "$LAB_WORK/$name.stderr" | tail -n 1)
  [[ -n $file ]] || { lab_failed "$name: no 'continue with' line"; return 1; }
  lab_scan "$LAB_NS_SCAN" "$name-resumed" --resume "${file//\'/}" || { lab_failed "$name: resume failed"; return 1; }
}
want20="198.19.0.2,$LIVE20"
if interrupt int-sn -sn -n --max-rate 2500 --exclude 198.19.0.1 \
    -oJ "$LAB_WORK/int-sn.jsonl" 198.19.0.0/20; then
  python3 "$CHECK" hosts "$LAB_WORK/int-sn.jsonl" "$want20" --reason arp-response ||
    lab_failed "-sn interrupted and resumed: not exactly the live set"
fi
# -sS -sU: a host is finished once both its TCP and its UDP stage are written.
if interrupt int-sS -sS -sU -n -p "T:${OPEN[0]},${CLOSED[0]},U:$UDP_OPEN" --show all --max-rate 2500 \
    --exclude 198.19.0.1 -oJ "$LAB_WORK/int-sS.jsonl" 198.19.0.0/20; then
  python3 "$CHECK" ports "$LAB_WORK/int-sS.jsonl" "$want20" "${OPEN[0]},$UDP_OPEN" "${CLOSED[0]}" ||
    lab_failed "-sS -sU interrupted and resumed: not exactly the live hosts' ports"
  python3 "$CHECK" hosts "$LAB_WORK/int-sS.jsonl" "$want20" --reason arp-response ||
    lab_failed "-sS -sU interrupted and resumed: not exactly the live set"
  [[ $(grep -c '"proto":"udp"' "$LAB_WORK/int-sS.jsonl") == 41 ]] ||
    lab_failed "-sS -sU interrupted and resumed: not one UDP record per live host"
fi
lab_finish
