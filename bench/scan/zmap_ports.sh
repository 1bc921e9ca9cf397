#!/usr/bin/env bash
# zmap scans one port per run: run it once per port, one after the other, as one timed command.
#
#   zmap_ports.sh OUT_PREFIX PORT[,PORT...] -- ZMAP_ARGS...
#
# Writes OUT_PREFIX.PORT.csv and OUT_PREFIX.PORT.json (metadata) for each port. ZMAP_ARGS must not
# hold -p, -o or -m. Stops at the first run that fails, with its exit status.
set -u
prefix=$1 ports=$2
shift 2
[[ ${1:-} == -- ]] && shift
IFS=, read -ra list <<<"$ports"
for p in "${list[@]}"; do
  zmap -p "$p" -o "$prefix.$p.csv" -m "$prefix.$p.json" "$@" || exit $?
done
