#!/bin/bash
# Scanners inside, and IPv6. The protected networks are 198.18.0.0/25, 198.18.1.0/24,
# 2001:db8::/120 and 2001:db8:1::/64 (the last two and 198.18.1.0/24 answered by the target). An
# internal host (198.18.0.20, 2001:db8::20) sweeps the protected /24 (and 254 addresses of the
# IPv6 /64) on port 445, as a worm does: each sweep is one alert, direction "internal", caught by
# the worm rule, and (with --block-internal) challenged and blocked. From outside, nmap -sS over
# IPv4 and IPv6 and nmap -sU over IPv6 (refused with ICMPv6 port unreachable) are "inbound",
# challenged and blocked; a connect from each blocked address then fails. Neighbour discovery
# raises nothing. The capture is cut per source and read back with -r. With --no-kernel-fastpath:
# the path without the kernel's fast path (challenges from this process, their answers checked by
# nftables) stays covered here; test_watch_block.sh and test_watch_flood.sh run the fast path.
# About 40 s.
set -uo pipefail
. "$(dirname "$0")/watch_lib.sh"
lab_require_root
lab_require_cmd nmap nft tcpdump
lab_init "$@"
watch_lab_up
lab_listen 22 80 443
T=$LAB_V4_TARGET
T6=$LAB_V6_TARGET
ip -n "$LAB_NS_TARGET" -6 route add local 2001:db8:1::/64 dev lo
ip -n "$LAB_NS_SCAN" -6 route add 2001:db8:1::/64 via "$T6" dev "$LAB_IF_SCAN"
ip -n "$LAB_NS_SCAN" addr add 198.18.0.200/24 dev "$LAB_IF_SCAN"
for a in 2001:db8::20 2001:db8::1:40 2001:db8::1:41; do
  ip -n "$LAB_NS_SCAN" addr add "$a/64" dev "$LAB_IF_SCAN" nodad
done
lab_assert_isolated "$LAB_NS_SCAN"
lab_assert_isolated "$LAB_NS_TARGET"

watch_capture_start "$LAB_WORK/inside.pcap"
locals=(--local 198.18.0.0/25 --local 198.18.1.0/24 --local 2001:db8::/120 --local 2001:db8:1::/64)
watch_start inside "${locals[@]}" --block --block-internal --block-for 10m --nft-table gh_inside_lab \
  --no-kernel-fastpath

lab_log "worm sweeps: 198.18.0.20 -> 198.18.1.1-254:445, 2001:db8::20 -> 2001:db8:1::1-fe:445"
ip netns exec "$LAB_NS_SCAN" python3 "$LAB_DIR/watch_sweep.py" 198.18.0.20 198.18.1. 254 445 ||
  lab_failed "IPv4 sweep failed"
ip netns exec "$LAB_NS_SCAN" python3 "$LAB_DIR/watch_sweep.py" 2001:db8::20 2001:db8:1:: 254 445 ||
  lab_failed "IPv6 sweep failed"
watch_nmap syn200 -sS -T4 --max-retries 1 -S 198.18.0.200 -e gh0 -p 1-100 "$T"
watch_nmap syn6 -6 -sS -T4 --max-retries 1 -S 2001:db8::1:40 -e gh0 -p 1-100 "$T6"
watch_nmap udp6 -6 -sU -T4 --max-retries 1 -S 2001:db8::1:41 -e gh0 -p 1-30 "$T6"
sleep 1

ip netns exec "$LAB_NS_TARGET" nft list table inet gh_inside_lab >"$LAB_WORK/sets.txt" 2>&1
for src in 198.18.0.20 2001:db8::20 198.18.0.200 2001:db8::1:40 2001:db8::1:41; do
  grep -q "${src}[,} ]" "$LAB_WORK/sets.txt" || lab_failed "$src not in the block sets: $(cat "$LAB_WORK/sets.txt")"
done
for pair in "198.18.0.200|$T" "2001:db8::1:40|$T6" "2001:db8::20|$T6"; do
  src=${pair%|*} dst=${pair#*|}
  ip netns exec "$LAB_NS_SCAN" python3 "$LAB_DIR/watch_client.py" "$src" "$dst" 1 22 --expect-fail ||
    lab_failed "the blocked scanner $src can still reach $dst:22"
done
# Not a scanner: an address of the internal network that did nothing still connects.
ip netns exec "$LAB_NS_SCAN" python3 "$LAB_DIR/watch_client.py" 198.18.0.21 "$T" 2 22 80 ||
  lab_failed "198.18.0.21 cannot connect"

watch_stop
watch_capture_stop
final=$(grep 'stopped: packets' "$WATCH_LOG" | tail -1)
grep -Eq 'challenges ([3-9]|[1-9][0-9]+) \(kernel 0,.* proven ([3-9]|[1-9][0-9]+),' <<<"$final" && ! grep -q 'fast path (' <<<"$final" ||
  lab_failed "expected this process's own challenges (3 or more, proven), no fast path: $final"
lab_log "prepared challenges: $(grep -o 'prepared [0-9]* (used [0-9]*)' <<<"$final")"
watch_check \
  --expect src=198.18.0.20,direction=internal,type=connect,shape=horizontal,rule=worm,blocked=true \
  --expect src=2001:db8::20,direction=internal,type=connect,shape=horizontal,rule=worm,blocked=true \
  --expect src=198.18.0.200,direction=inbound,type=syn,shape=vertical,proof=challenge,blocked=true \
  --expect src=2001:db8::1:40,direction=inbound,type=syn,shape=vertical,proof=challenge,blocked=true \
  --expect src=2001:db8::1:41,direction=inbound,type=udp,shape=vertical,rule=udp-refused,blocked=true \
  --absent 198.18.0.21 --absent 198.18.0.2 --absent "$T6" ||
  lab_failed "alerts do not match (see $WATCH_ALERTS)"
grep -q '"src":"fe80' "$WATCH_ALERTS" && lab_failed "an alert for a link-local (neighbour discovery) source"
# The record that blocked it: after the block nftables drops its probes before the stack, so they
# go unanswered and a later record may say "unanswered" (the sooner the block, the more so).
udp6_blocked=$(grep '"src":"2001:db8::1:41"' "$WATCH_ALERTS" | grep '"blocked":true')
[[ ${udp6_blocked%%$'\n'*} == *'"class":"closed-ports"'* ]] ||
  lab_failed "the IPv6 UDP scan is not classified closed-ports"

# The same from the capture, one small pcap per source.
for case in "198.18.0.20|internal" "2001:db8::20|internal" "2001:db8::1:40|inbound" "2001:db8::1:41|inbound"; do
  src=${case%|*} dir=${case#*|}
  watch_replay "$LAB_WORK/inside.pcap" "host $src" "replay-${src//:/_}" "${locals[@]}"
  python3 "$LAB_DIR/watch_check.py" "$LAB_WORK/replay-${src//:/_}.jsonl" --expect "src=$src,direction=$dir" ||
    lab_failed "replay of $src does not match"
done
lab_finish
