#!/usr/bin/env bash
# Runs one libFuzzer target for CI (fuzz/CMakeLists.txt):
#   run.sh replay BINARY CORPUS               every file of CORPUS once; fails on a crash
#   run.sh fuzz BINARY CORPUS SECONDS WORK    fuzz for SECONDS ($GH_FUZZ_SECONDS when set: CI
#                                             computes it from the time left) from CORPUS; new
#                                             inputs and crash files go to WORK (not the source tree)
# A crash, a leak, a timeout (10 s on one input) or running out of memory (1 GiB) fails the test;
# the input that did it is printed (base64) and kept in WORK: copy it into CORPUS as a regression.
set -euo pipefail
mode=$1 bin=$2 corpus=$3
[[ -d $corpus ]] && [[ -n $(ls -A "$corpus") ]] || { echo "FAIL: no seed corpus in $corpus"; exit 1; }
common=(-timeout=10 -rss_limit_mb=1024 -max_len=65536 -print_final_stats=1)
case $mode in
  replay)
    exec "$bin" "${common[@]}" -runs=0 "$corpus"
    ;;
  fuzz)
    seconds=${GH_FUZZ_SECONDS:-$4} work=$5
    rm -rf "$work"
    mkdir -p "$work/corpus" "$work/artifacts"
    rc=0
    "$bin" "${common[@]}" -max_total_time="$seconds" -artifact_prefix="$work/artifacts/" \
      "$work/corpus" "$corpus" 2>"$work/log" || rc=$?
    tail -n 30 "$work/log"
    if ((rc != 0)); then
      for f in "$work"/artifacts/*; do
        [[ -f $f ]] || continue
        echo "FAIL: $(basename "$f") ($(stat -c %s "$f") bytes), kept in $f; base64:"
        base64 -w 76 "$f" | head -c 8000
        echo
      done
      exit "$rc"
    fi
    echo "fuzzed $seconds s: $(ls "$work/corpus" | wc -l) new corpus entries (not kept)"
    ;;
  *)
    echo "usage: $0 replay|fuzz BINARY CORPUS [SECONDS WORK]" >&2
    exit 2
    ;;
esac
