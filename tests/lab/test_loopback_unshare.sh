#!/usr/bin/env bash
# Full-range scan of loopback inside a private network namespace (`unshare -n`), IPv4 and IPv6.
#
# The script re-runs itself under `unshare -n`: a namespace with nothing but lo, brought up here.
# Listeners on 6 random ports (dual-stack, so 127.0.0.1 and ::1 both accept), nft drops 2 other
# random ports on input; then
#   glasshouse scan -sS|-sT -p 1-65535 --show all -oJ FILE -n -T4 --max-retries 2 127.0.0.1|::1
# must report exactly the listening ports open, the dropped ones filtered, every other closed.
#
# Note for connect scans of loopback: Linux lets a socket connect to itself when the ephemeral
# source port it picks equals the destination port (TCP simultaneous open), so a naive -sT of
# 127.0.0.1 sees one or two closed ports in the ephemeral range as "open" in most runs. That is a
# scanner bug this test is meant to catch; check_results.py prints a hint when it sees it.
#
#   bash tests/lab/test_loopback_unshare.sh /path/to/glasshouse     (LAB_SEED=N to repeat a run)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [[ ${GH_LAB_IN_UNSHARE:-} != inside ]]; then
  lab_require_root
  lab_require_cmd unshare nft
  unshare -n true 2>/dev/null || lab_skip "unshare -n does not work here"
  GH_LAB_IN_UNSHARE=inside exec unshare -n -- bash "$0" "$@"
fi

lab_init "$@"
# From here on we are in a namespace of our own; it goes away when the last process in it exits.
ip link set lo up
sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.lo.disable_ipv6=0 >/dev/null || true
lab_assert_isolated -
[[ $(ip -o link show | wc -l) -eq 1 ]] || lab_fail "the unshared namespace has devices other than lo"

read -ra OPEN <<<"$(random_ports 6 "$LAB_SEED")"
read -ra FILTERED <<<"$(random_ports 2 "$LAB_SEED-filtered" "${OPEN[*]}")"
lab_log "open ports:     $(lab_join , "${OPEN[@]}")"
lab_log "filtered ports: $(lab_join , "${FILTERED[@]}")"
lab_listen_in - "${OPEN[@]}"
lab_filter_in - "${FILTERED[@]}"
lab_log "ephemeral port range here: $(tr '\t' - </proc/sys/net/ipv4/ip_local_port_range)"

for target in 127.0.0.1 ::1; do
  for type in -sS -sT; do
    fam=v4
    [[ $target == *:* ]] && fam=v6
    name="loopback-${type#-}-$fam"
    out="$LAB_WORK/$name.jsonl"
    if ! lab_scan - "$name" "$type" -p 1-65535 --show all -oJ "$out" -n -T4 --max-retries 2 \
        --seed "$LAB_SEED" "$target"; then
      lab_failed "$name: scan failed (LAB_SEED=$LAB_SEED)"
      continue
    fi
    if ! lab_check_jsonl "$out" "${OPEN[*]}" "${FILTERED[*]}" 1-65535 "$target" --interrupted false; then
      lab_failed "$name: results differ from the lab (LAB_SEED=$LAB_SEED)"
    fi
  done
done
lab_finish
