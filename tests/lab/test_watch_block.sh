#!/bin/bash
# glasshouse watch --block, challenge before block: nmap -sS, -sF, -sU, masscan, zmap
# (tcp_synscan), a connect scan and `glasshouse scan`, each from its own address, are each detected,
# challenged (one SYN-ACK whose ack is a cookie; the scanner host's kernel answers with a RST
# carrying it) and blocked; afterwards none of them can reach an open port. An allowlisted scanner
# is never challenged nor blocked; a scanner whose host drops unsolicited SYN-ACKs (nft in the
# scanner namespace) cannot prove anything and stays unblocked (the old rule). After watch exits, no
# nftables table is left. The traffic is captured, cut into one small pcap per scanner and read
# back with `watch -r --block` (a dry run: challenges simulated, nothing sent). About 40 s.
set -uo pipefail
. "$(dirname "$0")/watch_lib.sh"
lab_require_root
lab_require_cmd nmap nft tcpdump masscan zmap
lab_init "$@"
watch_lab_up
lab_listen 22 80 443
T=$LAB_V4_TARGET

# 198.18.0.48's host drops every unsolicited SYN-ACK (a firewalled scanner): no RST ever answers.
ip netns exec "$LAB_NS_SCAN" nft -f - <<'NFT' || lab_fail "cannot install the scanner's firewall"
table inet ghdrop {
  chain input {
    type filter hook input priority 0; policy accept;
    ip daddr 198.18.0.48 tcp flags & (syn | ack) == (syn | ack) drop
  }
}
NFT

watch_capture_start "$LAB_WORK/block.pcap"
watch_start block --block --block-for 10m --allow 198.18.0.41 --nft-table gh_watch_lab --stats 5s
ip netns exec "$LAB_NS_TARGET" nft list table inet gh_watch_lab >/dev/null 2>&1 ||
  lab_failed "no nftables table inet gh_watch_lab while watch runs"

# Before: the connect scanner's address reaches the open port. (Only that one: a connection
# completes a handshake, which would prove the others before their challenge.)
ip netns exec "$LAB_NS_SCAN" python3 "$LAB_DIR/watch_client.py" 198.18.0.40 "$T" 1 22 >/dev/null ||
  lab_failed "198.18.0.40 cannot connect before the scan"

# A scanner blocked after a few probes waits for the timeouts of all the others (10-17 s each):
# --host-timeout 5s ends it (the detection and the block come in its first milliseconds).
watch_nmap connect40 -sT -T4 --max-retries 1 --host-timeout 5s -S 198.18.0.40 -e gh0 -p 1-100 "$T"
watch_nmap allowed41 -sS -T4 --max-retries 1 -S 198.18.0.41 -e gh0 -p 1-100 "$T"
watch_nmap syn42 -sS -T4 --max-retries 1 --host-timeout 5s -S 198.18.0.42 -e gh0 -p 1-100 "$T"
watch_nmap fin43 -sF -T4 --max-retries 1 --host-timeout 5s -S 198.18.0.43 -e gh0 -p 1-100 "$T"
watch_nmap udp44 -sU -T4 --max-retries 1 -S 198.18.0.44 -e gh0 -p 1-30 "$T"
watch_masscan masscan45 198.18.0.45 198.18.1.0/24 -p81 --rate 2000
watch_zmap zmap46 198.18.0.46 -p 81 -r 2000 198.18.1.0/24
watch_nmap fw48 -sS -T4 --max-retries 1 -S 198.18.0.48 -e gh0 -p 1-100 "$T"
lab_scan "$LAB_NS_SCAN" ghscan -sS -n -p 1-100 "$T" || lab_failed "glasshouse scan failed"
sleep 1

ip netns exec "$LAB_NS_TARGET" nft list set inet gh_watch_lab blocked4 >"$LAB_WORK/set.txt" 2>&1
blocked=(198.18.0.40 198.18.0.42 198.18.0.43 198.18.0.44 198.18.0.45 198.18.0.46 "$LAB_V4_SCAN")
for src in "${blocked[@]}"; do
  grep -q "${src//./\\.}[,} ]" "$LAB_WORK/set.txt" || lab_failed "$src not in the block set: $(cat "$LAB_WORK/set.txt")"
  ip netns exec "$LAB_NS_SCAN" python3 "$LAB_DIR/watch_client.py" "$src" "$T" 1 22 --expect-fail ||
    lab_failed "the blocked scanner $src can still reach an open port"
done
grep -Eq '198\.18\.0\.4[18]' "$LAB_WORK/set.txt" && lab_failed "an allowlisted or unproven source was blocked: $(cat "$LAB_WORK/set.txt")"
# (198.18.0.48's own firewall drops SYN-ACKs, so only the allowlisted one can be tried.)
ip netns exec "$LAB_NS_SCAN" python3 "$LAB_DIR/watch_client.py" 198.18.0.41 "$T" 2 22 80 ||
  lab_failed "the allowlisted scanner 198.18.0.41 cannot reach an open port"

kill -USR1 "$WATCH_PID"
sleep 0.3
watch_stop
watch_capture_stop
if ip netns exec "$LAB_NS_TARGET" nft list tables | grep -q gh_watch_lab; then
  lab_failed "nftables table inet gh_watch_lab left after exit"
fi
[[ -z $(ip netns exec "$LAB_NS_TARGET" nft list ruleset) ]] || lab_failed "nft rules left after exit: $(ip netns exec "$LAB_NS_TARGET" nft list ruleset)"
for dir in ingress egress; do  # the kernel fast path's tc-BPF programs are detached at exit
  left=$(ip netns exec "$LAB_NS_TARGET" tc filter show dev "$LAB_IF_TARGET" "$dir")
  [[ -z $left ]] || lab_failed "tc $dir filters left after exit: $left"
done
stats=$(grep 'stats: packets' "$WATCH_LOG" | tail -1)
lab_log "counters: $stats"
grep -q 'challenges [1-9]' <<<"$stats" || lab_failed "no challenge counted: $stats"
# The kernel's fast path (on by default): it challenged the scanners at their second refusal,
# with our refusal rewritten (this process saw those challenges leave: "kernel"), checked the
# answers and dropped the proven, detected sources' next probes before the stack. The seven
# blocked scanners were challenged there (the firewalled one too, unanswered); the allowlisted
# one never.
fp=$(grep -o 'fast path (challenges:[0-9]* proven:[0-9]* wrong:[0-9]* [^)]*dropped:[0-9]*)' <<<"$stats")
[[ -n $fp ]] || lab_failed "no fast path counters (did the BPF programs load?): $stats"
fp_chal=$(sed 's/.*challenges:\([0-9]*\).*/\1/' <<<"$fp")
fp_proven=$(sed 's/.*proven:\([0-9]*\).*/\1/' <<<"$fp")
fp_dropped=$(sed 's/.*dropped:\([0-9]*\).*/\1/' <<<"$fp")
((fp_chal >= 8 && fp_proven >= 7 && fp_proven < fp_chal && fp_dropped >= 1)) ||
  lab_failed "fast path: expected >= 8 challenges, >= 7 proven (not the firewalled scanner), drops: $fp"
grep -Eq 'challenges [0-9]+ \(kernel ([89]|[1-9][0-9])' <<<"$stats" ||
  lab_failed "this process did not recognise the kernel's challenges: $stats"
for src in 198.18.0.42 198.18.0.44; do  # nmap -sS and -sU: blocked through the fast path
  grep "\"src\":\"$src\"" "$WATCH_ALERTS" | grep '"blocked":true' |
    grep -q "challenged by the kernel's fast path" ||
    lab_failed "$src was not blocked after the kernel's challenge (see $WATCH_ALERTS)"
done

watch_check \
  --expect src=198.18.0.40,type=connect,shape=vertical,verified=true,blocked=true \
  --expect src=198.18.0.41,type=syn,shape=vertical,verified=false,blocked=false \
  --expect src=198.18.0.42,type=syn,shape=vertical,tool=nmap,verified=true,proof=challenge,blocked=true \
  --expect src=198.18.0.43,type=fin,shape=vertical,verified=true,proof=challenge,blocked=true \
  --expect src=198.18.0.44,type=udp,shape=vertical,verified=true,proof=challenge,blocked=true \
  --expect src=198.18.0.45,type=syn,shape=horizontal,tool=masscan,verified=true,proof=challenge,blocked=true \
  --expect src=198.18.0.46,type=syn,shape=horizontal,tool=zmap,verified=true,proof=challenge,blocked=true \
  --expect src=198.18.0.48,type=syn,shape=vertical,verified=false,blocked=false \
  --expect "src=$LAB_V4_SCAN,type=syn,shape=vertical,tool=glasshouse,verified=true,proof=challenge,blocked=true" ||
  lab_failed "alerts do not match (see $WATCH_ALERTS)"
grep -q '"block_note":"allowlisted"' "$WATCH_ALERTS" || lab_failed "no 'allowlisted' note for 198.18.0.41"
grep '"src":"198.18.0.41"' "$WATCH_ALERTS" | grep -q '"challenge"' && lab_failed "the allowlisted scanner was challenged"
grep '"src":"198.18.0.48"' "$WATCH_ALERTS" | grep -q '"challenge":"sent"' || lab_failed "198.18.0.48 was not challenged"

# The same scans from the capture, one small pcap each: detected alike; a dry run of --block
# simulates the challenges (sends nothing) and blocks nothing.
for case in 40:connect 42:syn 43:fin 44:udp 45:syn 46:syn; do
  src=198.18.0.${case%%:*}
  watch_replay "$LAB_WORK/block.pcap" "host $src" "replay$src" --local "$T" --local 198.18.1.0/24 --block
  python3 "$LAB_DIR/watch_check.py" "$LAB_WORK/replay$src.jsonl" --expect "src=$src,type=${case#*:},blocked=false" ||
    lab_failed "replay of $src does not match"
  grep -q '"challenge":"simulated"\|"proof":"handshake"' "$LAB_WORK/replay$src.jsonl" ||
    lab_failed "replay of $src: no simulated challenge"
done
lab_finish
