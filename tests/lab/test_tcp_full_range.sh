#!/usr/bin/env bash
# Full-range TCP scan of one lab host, IPv4 and IPv6, SYN and connect scan.
#
# The target namespace listens on 20 random ports and drops (nft) 5 other random ports; every
# other port answers RST. From the scanner namespace (no route out) we run
#   glasshouse scan -sS|-sT -p- --show all -oJ FILE -n -T4 --max-retries 2 --seed S TARGET
# against 198.18.0.2 and 2001:db8::2 and require, for each run: exactly the listening ports open,
# exactly the dropped ports filtered, the other 65510 ports closed, each port reported once.
# Then one -sS of both addresses at once (ports 1-2000 and the lab's), with the same check.
#
#   bash tests/lab/test_tcp_full_range.sh /path/to/glasshouse     (LAB_SEED=N to repeat a run)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

lab_require_root
lab_require_cmd nft
lab_init "$@"
lab_create

read -ra OPEN <<<"$(random_ports 20 "$LAB_SEED")"
read -ra FILTERED <<<"$(random_ports 5 "$LAB_SEED-filtered" "${OPEN[*]}")"
lab_log "open ports:     $(lab_join , "${OPEN[@]}")"
lab_log "filtered ports: $(lab_join , "${FILTERED[@]}")"
lab_listen "${OPEN[@]}"
lab_filter "${FILTERED[@]}"

for target in "$LAB_V4_TARGET" "$LAB_V6_TARGET"; do
  for type in -sS -sT; do
    fam=v4
    [[ $target == *:* ]] && fam=v6
    name="full-${type#-}-$fam"
    out="$LAB_WORK/$name.jsonl"
    if ! lab_scan "$LAB_NS_SCAN" "$name" "$type" -p- --show all -oJ "$out" -n -T4 --max-retries 2 \
        --seed "$LAB_SEED" "$target"; then
      lab_failed "$name: scan failed (LAB_SEED=$LAB_SEED)"
      continue
    fi
    if ! lab_check_jsonl "$out" "${OPEN[*]}" "${FILTERED[*]}" 1-65535 "$target" --interrupted false; then
      lab_failed "$name: results differ from the lab (LAB_SEED=$LAB_SEED)"
    fi
  done
done
# Both families in one raw scan: the send path batches frames per path (family), and a batch
# that changes path midway must still send every frame it was given (one retry only, so lost
# probes would show as filtered ports).
name=mixed-sS-v4v6
ports="1-2000,$(lab_join , "${OPEN[@]}" "${FILTERED[@]}")"
out="$LAB_WORK/$name.jsonl"
if lab_scan "$LAB_NS_SCAN" "$name" -sS -p "$ports" --show all -oJ "$out" -n -T4 --max-retries 1 \
    --seed "$LAB_SEED" "$LAB_V4_TARGET" "$LAB_V6_TARGET"; then
  lab_check_jsonl "$out" "${OPEN[*]}" "${FILTERED[*]}" "$ports" "$LAB_V4_TARGET,$LAB_V6_TARGET" \
    --interrupted false || lab_failed "$name: results differ from the lab (LAB_SEED=$LAB_SEED)"
else
  lab_failed "$name: scan failed (LAB_SEED=$LAB_SEED)"
fi
lab_finish
