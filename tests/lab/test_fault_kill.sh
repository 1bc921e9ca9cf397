#!/usr/bin/env bash
# SIGKILL at random moments of a -sS scan, then --resume, again and again: the -oJ the runs leave
# together holds exactly the verdicts of an uninterrupted scan (every address and port once, same
# states), whatever the moments (chosen from LAB_SEED). A kill before the first checkpoint leaves
# no resume file: the scan is started over, as a user would. Checkpoints every second.
#
#   bash tests/lab/test_fault_kill.sh /path/to/glasshouse     (LAB_SEED=N to repeat a run)
set -uo pipefail
. "$(dirname "$0")/lib.sh"

NET=198.19.0.0/22
RATE=1500
KILLS=4

lab_require_root
lab_require_cmd nft
lab_init "$@"
lab_create
lab_local_block "$NET"
read -ra OPEN <<<"$(random_ports 3 "$LAB_SEED")"
read -ra CLOSED <<<"$(random_ports 3 "$LAB_SEED-closed" "${OPEN[*]}")"
PORTS=$(printf '%s\n' "${OPEN[@]}" "${CLOSED[@]}" | sort -n | paste -sd,)
lab_listen "${OPEN[@]}"

CKDIR=$LAB_WORK/checkpoints
mkdir -m 700 "$CKDIR"
chown nobody "$CKDIR"
COMMON=(-sS -p "$PORTS" --show all -n --max-rate "$RATE" --max-retries 1 --seed "$LAB_SEED" --no-status)

# The reference: one uninterrupted run.
lab_scan "$LAB_NS_SCAN" reference "${COMMON[@]}" --no-checkpoint -oJ "$LAB_WORK/reference.jsonl" "$NET" ||
  lab_fail "reference scan failed"
lab_check_jsonl "$LAB_WORK/reference.jsonl" "$(lab_join , "${OPEN[@]}")" "" "$PORTS" "$NET" ||
  lab_fail "the reference scan does not match the lab"

# Kill moments: KILLS delays in 0.2-3.0 s after each start, from the seed.
read -ra DELAYS <<<"$(python3 -c "
import random, sys
r = random.Random('glasshouse-kill-$LAB_SEED')
print(' '.join(f'{r.uniform(0.2, 3.0):.2f}' for _ in range($KILLS)))")"
lab_log "SIGKILL after ${DELAYS[*]} s of each run"

OUT=$LAB_WORK/killed.jsonl
FILE=$CKDIR/killed.resume
runs=0 restarts=0 resumes=0
next_args=("${COMMON[@]}" -oJ "$OUT" --checkpoint "$FILE" --checkpoint-interval 1s "$NET")
for delay in "${DELAYS[@]}" last; do
  runs=$((runs + 1))
  lab_assert_isolated "$LAB_NS_SCAN"
  name="run-$runs"
  if [[ $delay == last ]]; then
    lab_scan "$LAB_NS_SCAN" "$name" "${next_args[@]}" || lab_failed "$name: the last run did not complete"
    break
  fi
  lab_ns_prefix "$LAB_NS_SCAN"
  "${LAB_PREFIX[@]}" "$GH" scan "${next_args[@]}" >"$LAB_WORK/$name.stdout" 2>"$LAB_WORK/$name.stderr" </dev/null &
  pid=$!
  LAB_PIDS+=("$pid")
  sleep "$delay"
  if kill -KILL "$pid" 2>/dev/null; then
    wait "$pid"
    rc=$?
    lab_log "$name: SIGKILL after $delay s (exit $rc)"
  else
    wait "$pid"
    rc=$?
    lab_log "$name: finished before its SIGKILL at $delay s (exit $rc)"
    ((rc == 0)) || lab_failed "$name: exit $rc"
    [[ -e $FILE ]] && lab_failed "$name: the resume file outlived a completed scan"
    break
  fi
  if lab_has_crash_marker "$LAB_WORK/$name.stderr"; then
    lab_failed "$name: crash marker on stderr"
  fi
  if [[ -e $FILE ]]; then
    resumes=$((resumes + 1))
    next_args=(--resume "$FILE")
  else
    restarts=$((restarts + 1))  # killed before its first checkpoint: start over
    next_args=("${COMMON[@]}" -oJ "$OUT" --checkpoint "$FILE" --checkpoint-interval 1s "$NET")
  fi
done
lab_log "$runs runs: $resumes resumed from a checkpoint, $restarts started over"
[[ -e $FILE ]] && lab_failed "the resume file is still there after the scan completed"

python3 - "$LAB_WORK/reference.jsonl" "$OUT" <<'PY' || lab_failed "the killed-and-resumed scan differs from the uninterrupted one"
import json, sys
def verdicts(path):
    seen = {}
    for line in open(path):
        r = json.loads(line)
        if r.get("type") != "port":
            continue
        key = (r["ip"], r["proto"], r["port"])
        if key in seen:
            sys.exit(f"{path}: {key} reported twice")
        seen[key] = r["state"]
    return seen
ref, got = verdicts(sys.argv[1]), verdicts(sys.argv[2])
missing = sorted(set(ref) - set(got))
extra = sorted(set(got) - set(ref))
diff = sorted(k for k in set(ref) & set(got) if ref[k] != got[k])
if missing or extra or diff:
    sys.exit(f"missing {len(missing)} {missing[:5]}, extra {len(extra)} {extra[:5]}, "
             f"different {len(diff)} {[(k, ref[k], got[k]) for k in diff[:5]]}")
print(f"OK: {len(got)} verdicts, equal to the uninterrupted scan")
PY
lab_check_jsonl "$OUT" "$(lab_join , "${OPEN[@]}")" "" "$PORTS" "$NET" ||
  lab_failed "the killed-and-resumed scan does not match the lab"
lab_finish
