#!/usr/bin/env bash
# AF_PACKET send and receive paths side by side, in a two-namespace lab built here (README.md).
#
#   bench/io/run.sh [IO_BENCH]      (root; IO_BENCH defaults to build/io_bench:
#                                    `ninja -C build io_bench` builds it)
#
# Transmit: COUNT (1,000,000) 60-byte SYNs from the sender namespace, to the peer's MAC and to
# another MAC, through PacketSocket::send_batch (sendmmsg, 64 a call), TxRing (copy_frames),
# TxRing with PACKET_QDISC_BYPASS, and a zero-copy TxRing, each flushed every 64 frames; REPEAT
# (2) rounds, interleaved, pinned to CPU 1.
# Receive: the peer floods through a TxRing (pinned to CPU 0) while the sender namespace counts
# for RX_SECONDS (2) what its destination filter lets through, with RxRing::poll and with
# PacketSocket::receive (poll + recvfrom a frame), pinned to CPU 1.
# Environment: COUNT, REPEAT, RX_SECONDS. Under a minute in all on the 2-core development machine.
#
# Network safety: both namespaces are made here, joined only by their veth pair (198.18.99.0/30),
# with no default route (checked before anything is sent); io_bench itself refuses addresses
# outside 198.18.0.0/15.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BENCH=$(readlink -f "${1:-$ROOT/build/io_bench}")
COUNT=${COUNT:-1000000}
REPEAT=${REPEAT:-2}
RX_SECONDS=${RX_SECONDS:-2}

[[ $(id -u) -eq 0 ]] || { echo "run.sh needs root (network namespaces, packet sockets)" >&2; exit 1; }
[[ -x $BENCH ]] || { echo "no io_bench at $BENCH (ninja -C BUILD io_bench)" >&2; exit 1; }

# shellcheck source=../../tests/lab/lib.sh
. "$ROOT/tests/lab/lib.sh"
LAB_IF_SCAN=ghio0   # in the sender namespace
LAB_IF_TARGET=ghio1 # in the peer namespace
A="ghio-tx-$$"
B="ghio-peer-$$"
A_IP=198.18.99.1
B_IP=198.18.99.2

rxout=$(mktemp)
cleanup() {
  rm -f "$rxout"
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
}
trap cleanup EXIT

ip netns add "$A"
ip netns add "$B"
ip -n "$A" link set lo up
ip -n "$B" link set lo up
ip -n "$A" link add "$LAB_IF_SCAN" type veth peer name "$LAB_IF_TARGET" netns "$B"
ip -n "$A" addr add "$A_IP/30" dev "$LAB_IF_SCAN"
ip -n "$B" addr add "$B_IP/30" dev "$LAB_IF_TARGET"
ip -n "$A" link set "$LAB_IF_SCAN" up
ip -n "$B" link set "$LAB_IF_TARGET" up
lab_assert_isolated "$A"
lab_assert_isolated "$B"
B_MAC=$(ip netns exec "$B" cat "/sys/class/net/$LAB_IF_TARGET/address")
A_MAC=$(ip netns exec "$A" cat "/sys/class/net/$LAB_IF_SCAN/address")

# counter NS IF rx_packets|rx_dropped|tx_packets|tx_dropped
counter() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"; }

echo "machine: nproc $(nproc), kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "qdisc on the sender's veth: $(ip -n "$A" -o link show "$LAB_IF_SCAN" | grep -o 'qdisc [a-z_]*')"

# To the peer's MAC, its IP stack takes each frame (and drops it on the bad IPv4 checksum), on the
# sender's CPU: veth delivers in the sender's context. To another MAC (the documentation range of
# RFC 7042), the peer drops the frame at once as PACKET_OTHERHOST: the sender's cost alone, closer
# to a real NIC, where the receiver is another machine.
OTHER_MAC=00:00:5e:00:53:01
echo "== transmit: $COUNT frames each, $REPEAT rounds, CPU 1"
for round in $(seq "$REPEAT"); do
  for mac in "$B_MAC" "$OTHER_MAC"; do
    for method in sendmmsg ring ring-bypass ring-zc; do
      rx0=$(counter "$B" "$LAB_IF_TARGET" rx_packets)
      out=$(ip netns exec "$A" taskset -c 1 "$BENCH" tx "$method" "$LAB_IF_SCAN" "$A_IP" "$B_IP" "$mac" "$COUNT" 64)
      sleep 0.2
      rx1=$(counter "$B" "$LAB_IF_TARGET" rx_packets)
      to=peer
      [[ $mac == "$OTHER_MAC" ]] && to=other
      echo "round $round to $to MAC: $out peer_rx=$((rx1 - rx0))"
    done
  done
done

echo "== receive: the peer floods (CPU 0), $RX_SECONDS s counted (CPU 1)"
for round in $(seq "$REPEAT"); do
  for method in ring recv; do
    ip netns exec "$A" taskset -c 1 "$BENCH" rx "$method" "$LAB_IF_SCAN" "$A_IP" "$RX_SECONDS" >"$rxout" &
    rxpid=$!
    sleep 0.3
    rx0=$(counter "$A" "$LAB_IF_SCAN" rx_packets)
    drop0=$(counter "$A" "$LAB_IF_SCAN" rx_dropped)
    flood=$(ip netns exec "$B" taskset -c 0 "$BENCH" flood "$LAB_IF_TARGET" "$B_IP" "$A_IP" "$A_MAC" "$((RX_SECONDS + 1))")
    wait "$rxpid"
    rx1=$(counter "$A" "$LAB_IF_SCAN" rx_packets)
    drop1=$(counter "$A" "$LAB_IF_SCAN" rx_dropped)
    echo "round $round: $(cat "$rxout") | $flood veth_rx=$((rx1 - rx0)) veth_rx_dropped=$((drop1 - drop0))"
  done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
