#!/bin/bash
# glasshouse watch --block: a connect scan (which completes handshakes, so its source address is
# proven) gets its source blocked with nftables and can no longer reach an open port; the same
# scan from an allowlisted address is reported but not blocked; a SYN scan (half-open: nothing
# proves the address is not spoofed) is reported but not blocked. After watch exits, no nftables
# table of ours is left. About 20 s.
set -uo pipefail
. "$(dirname "$0")/watch_lib.sh"
lab_require_root
lab_require_cmd nmap nft
lab_init "$@"
watch_lab_up
lab_listen 22 80 443
T=$LAB_V4_TARGET

watch_start block --block --block-for 60s --allow 198.18.0.41 --nft-table gh_watch_lab
ip netns exec "$LAB_NS_TARGET" nft list table inet gh_watch_lab >/dev/null 2>&1 ||
  lab_failed "no nftables table inet gh_watch_lab while watch runs"

# Before: every address reaches the open port.
ip netns exec "$LAB_NS_SCAN" python3 "$LAB_DIR/watch_client.py" 198.18.0.40 "$T" 1 22 >/dev/null ||
  lab_failed "198.18.0.40 cannot connect before the scan"

watch_nmap scan40 -sT -T4 --max-retries 1 -S 198.18.0.40 -e gh0 -p 1-100 "$T"
watch_nmap scan41 -sT -T4 --max-retries 1 -S 198.18.0.41 -e gh0 -p 1-100 "$T"
watch_nmap scan42 -sS -T4 --max-retries 1 -S 198.18.0.42 -e gh0 -p 1-100 "$T"
sleep 1

ip netns exec "$LAB_NS_TARGET" nft list set inet gh_watch_lab blocked4 >"$LAB_WORK/set.txt" 2>&1
grep -q '198\.18\.0\.40' "$LAB_WORK/set.txt" || lab_failed "198.18.0.40 not in the block set: $(cat "$LAB_WORK/set.txt")"
grep -Eq '198\.18\.0\.4[12]' "$LAB_WORK/set.txt" && lab_failed "an allowlisted or unverified source was blocked: $(cat "$LAB_WORK/set.txt")"

ip netns exec "$LAB_NS_SCAN" python3 "$LAB_DIR/watch_client.py" 198.18.0.40 "$T" 3 22 80 --expect-fail ||
  lab_failed "the blocked scanner 198.18.0.40 can still reach an open port"
ip netns exec "$LAB_NS_SCAN" python3 "$LAB_DIR/watch_client.py" 198.18.0.41 "$T" 3 22 80 ||
  lab_failed "the allowlisted scanner 198.18.0.41 cannot reach an open port"
ip netns exec "$LAB_NS_SCAN" python3 "$LAB_DIR/watch_client.py" 198.18.0.42 "$T" 3 22 80 ||
  lab_failed "the unverified SYN scanner 198.18.0.42 was blocked"

watch_stop
if ip netns exec "$LAB_NS_TARGET" nft list tables | grep -q gh_watch_lab; then
  lab_failed "nftables table inet gh_watch_lab left after exit"
fi
[[ -z $(ip netns exec "$LAB_NS_TARGET" nft list ruleset) ]] || lab_failed "nft rules left after exit: $(ip netns exec "$LAB_NS_TARGET" nft list ruleset)"

watch_check \
  --expect src=198.18.0.40,type=connect,shape=vertical,verified=true,blocked=true \
  --expect src=198.18.0.41,type=connect,shape=vertical,verified=true,blocked=false \
  --expect src=198.18.0.42,type=syn,shape=vertical,verified=false,blocked=false ||
  lab_failed "alerts do not match (see $WATCH_ALERTS)"
grep -q '"block_note":"allowlisted"' "$WATCH_ALERTS" || lab_failed "no 'allowlisted' note for 198.18.0.41"
lab_finish
