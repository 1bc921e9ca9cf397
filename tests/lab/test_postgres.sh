#!/usr/bin/env bash
# Sharded scans into one PostgreSQL store (--db postgresql://...), and `glasshouse merge`.
#
# A real PostgreSQL server from Debian's packages (initdb and pg_ctl from
# /usr/lib/postgresql/*/bin), started in $LAB_WORK as the unprivileged `postgres` user (or
# nobody), listening on a unix socket only (no TCP), stopped at the end. The target namespace
# answers for 198.19.0.0/29 (8 addresses); 3 random ports listen, one more is closed, one dropped.
#   0. six clients create the schema of an empty database at once: none fails;
#   1. three shards of one -sS scan (--shards 3, same --seed) start at once against the empty
#      database: the first to come creates the schema, the others wait (advisory lock); each
#      writes its run and its -oJ;
#   2. `history --json` lists 3 runs, shards 0, 1 and 2 of 3, every one done;
#   3. each shard's run in the database equals its -oJ (`diff FILE RUN`: no changes);
#   4. `merge` of the three -oJ files: every port once, exactly the lab (check_results.py), and
#      equal to an unsharded scan of the same targets (`diff`: no changes); merging a shard twice
#      drops the duplicates and says so;
#   4b. a -sS -sU scan in two shards (-oJ, -oX): both runs are "syn+udp" in `history` (--json:
#      scan_types), each equals its file, and their merge names both types and holds each port
#      of both protocols once;
#   5. the server stopped: a scan with that --db exits 0 with -oJ complete and one warning line;
#      `history` exits 1 with one line.
#
#   bash tests/lab/test_postgres.sh /path/to/glasshouse     (LAB_SEED=N to repeat a run)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

NET=198.19.0.0/29
SHARDS=3

lab_require_root
lab_require_cmd nft setpriv
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x $PGBIN/initdb && -x $PGBIN/pg_ctl ]] ||
  lab_skip "PostgreSQL server binaries not installed (scripts/deps/history.txt: postgresql)"
lab_init "$@"

PGUSER_OS=postgres
id "$PGUSER_OS" >/dev/null 2>&1 || PGUSER_OS=nobody
chmod 711 "$LAB_WORK"
PGDIR="$LAB_WORK/pg"
mkdir -p "$PGDIR/sock"
chown -R "$PGUSER_OS" "$PGDIR"
as_pg() { setpriv --reuid="$PGUSER_OS" --regid="$(id -g "$PGUSER_OS")" --clear-groups "$@"; }
PGPORT=$((20000 + RANDOM % 20000))
# Keeps the exit status it was called with: lab_cleanup, run after it by the EXIT trap, exits
# with $? (a failed step must not become a pass because the server stopped fine).
pg_stop() {
  local rc=$?
  [[ -f $PGDIR/data/postmaster.pid ]] || return "$rc"
  as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate -w stop >/dev/null 2>&1
  return "$rc"
}
trap 'pg_stop; lab_cleanup' EXIT

as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U glasshouse -A trust --no-sync >"$PGDIR/initdb.log" 2>&1 ||
  lab_fail "initdb failed: $(tail -5 "$PGDIR/initdb.log")"
as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 30 \
  -o "-c listen_addresses='' -k $PGDIR/sock -p $PGPORT -c fsync=off" start >/dev/null ||
  lab_fail "pg_ctl start failed: $(tail -5 "$PGDIR/server.log")"
as_pg "$PGBIN/createdb" -h "$PGDIR/sock" -p "$PGPORT" -U glasshouse scans ||
  lab_fail "createdb failed"
URL="postgresql://glasshouse@/scans?host=$PGDIR/sock&port=$PGPORT"
lab_log "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on $PGDIR/sock port $PGPORT (unix socket only)"

# 0. Schema creation under contention: six clients at once against an empty database, each
#    taking the advisory lock; the ones that waited must see the tables the first created (a
#    cached catalog miss made them create the tables again: "relation already exists").
as_pg "$PGBIN/createdb" -h "$PGDIR/sock" -p "$PGPORT" -U glasshouse race || lab_fail "createdb race failed"
RACE_URL="postgresql://glasshouse@/race?host=$PGDIR/sock&port=$PGPORT"
pids=()
for ((i = 0; i < 6; i++)); do
  "$GH" history --db "$RACE_URL" >/dev/null 2>"$LAB_WORK/race-$i.err" &
  pids+=($!)
done
for ((i = 0; i < 6; i++)); do
  wait "${pids[$i]}" || lab_failed "concurrent schema creation: client $i: $(cat "$LAB_WORK/race-$i.err")"
done

lab_create
lab_local_block "$NET"
read -ra OPEN <<<"$(random_ports 3 "$LAB_SEED")"
read -ra CLOSED <<<"$(random_ports 1 "$LAB_SEED-closed" "${OPEN[*]}")"
read -ra FILTERED <<<"$(random_ports 1 "$LAB_SEED-filtered" "${OPEN[*]} ${CLOSED[*]}")"
PORTS=$(printf '%s\n' "${OPEN[@]}" "${CLOSED[@]}" "${FILTERED[@]}" | sort -n | paste -sd,)
lab_listen "${OPEN[@]}"
lab_filter "${FILTERED[@]}"
COMMON=(-sS -p "$PORTS" --show all -n -T4 --max-retries 2 --seed "$LAB_SEED" --no-status
  --audit-log "$LAB_WORK/audit.jsonl")

# 1. Three shards at once, into the empty database.
pids=()
for ((i = 0; i < SHARDS; i++)); do
  lab_scan "$LAB_NS_SCAN" "shard-$i" "${COMMON[@]}" --shards "$SHARDS" --shard "$i" --db "$URL" \
    -oJ "$LAB_WORK/shard-$i.jsonl" "$NET" &
  pids+=($!)
done
for ((i = 0; i < SHARDS; i++)); do
  wait "${pids[$i]}" || lab_failed "shard $i failed"
  if grep -q 'warning' "$LAB_WORK/shard-$i.stderr"; then
    lab_failed "shard $i: $(cat "$LAB_WORK/shard-$i.stderr")"
  fi
done

# 2. The runs.
"$GH" history --json --db "$URL" >"$LAB_WORK/history.json" || lab_failed "history exited $?"
"$GH" history --db "$URL" | sed 's/^/  | /'
python3 - "$LAB_WORK/history.json" "$SHARDS" <<'PY' || lab_failed "history: wrong runs"
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[2])
assert len(runs) == n, runs
assert sorted(r["shard"] for r in runs) == list(range(n)), runs
for r in runs:
    assert r["shards"] == n and r["exit_reason"] == "done" and r["end"], r
PY

# 3. Each shard's run equals its file.
for ((i = 0; i < SHARDS; i++)); do
  run=$(python3 -c 'import json,sys; print([r["run"] for r in map(json.loads, open(sys.argv[1])) if r["shard"] == int(sys.argv[2])][0])' \
    "$LAB_WORK/history.json" "$i")
  out=$("$GH" diff "$LAB_WORK/shard-$i.jsonl" "$run" --db "$URL") || lab_failed "diff shard $i exited $?"
  grep -q '^no changes$' <<<"$out" || lab_failed "shard $i: the database differs from -oJ: $out"
done

# 4. Merge, against the lab and an unsharded scan.
"$GH" merge "$LAB_WORK"/shard-*.jsonl -o "$LAB_WORK/merged.jsonl" 2>"$LAB_WORK/merge.err" ||
  lab_failed "merge exited $?: $(cat "$LAB_WORK/merge.err")"
cat "$LAB_WORK/merge.err"
grep -q '(0 duplicates dropped)' "$LAB_WORK/merge.err" || lab_failed "merge dropped duplicates of disjoint shards"
lab_check_jsonl "$LAB_WORK/merged.jsonl" "${OPEN[*]}" "${FILTERED[*]}" "$PORTS" "$NET" --shown all ||
  lab_failed "merged: differs from the lab"
lab_scan "$LAB_NS_SCAN" whole "${COMMON[@]}" --db "$URL" -oJ "$LAB_WORK/whole.jsonl" "$NET" ||
  lab_failed "unsharded scan failed"
out=$("$GH" diff "$LAB_WORK/whole.jsonl" "$LAB_WORK/merged.jsonl") || lab_failed "diff whole merged exited $?"
grep -q '^no changes$' <<<"$out" || lab_failed "merged shards differ from the unsharded scan: $out"
out=$("$GH" diff "$LAB_WORK/merged.jsonl" last --db "$URL") || lab_failed "diff merged last exited $?"
grep -q '^no changes$' <<<"$out" || lab_failed "merged shards differ from the stored unsharded run: $out"
"$GH" merge "$LAB_WORK"/shard-*.jsonl "$LAB_WORK/shard-1.jsonl" -o "$LAB_WORK/twice.jsonl" \
  2>"$LAB_WORK/twice.err" || lab_failed "merge with a shard twice exited $?"
dups=$(grep -c '"type":"port"' "$LAB_WORK/shard-1.jsonl")
grep -q "($dups duplicates dropped)" "$LAB_WORK/twice.err" || lab_failed "merge twice: $(cat "$LAB_WORK/twice.err")"
grep -q 'shard 1 of 3 is given twice' "$LAB_WORK/twice.err" || lab_failed "merge twice: no note"
cmp -s <(grep '"type":"port"' "$LAB_WORK/merged.jsonl") <(grep '"type":"port"' "$LAB_WORK/twice.jsonl") ||
  lab_failed "merging a shard twice changed the port records"

# 4b. A -sS -sU scan in two shards (one -oJ, one -oX): the runs and the merge name both scan
#     types (runs.scan_type "syn+udp", the merged header's "scan_types"), each run equals its
#     file, and the merge holds both protocols' ports once.
BOTH=(-sS -sU -p "T:${OPEN[0]},${CLOSED[0]},U:7,9" --show all -n --seed "$LAB_SEED" --no-status
  --shards 2 --db "$URL")
lab_scan "$LAB_NS_SCAN" both-0 "${BOTH[@]}" --shard 0 -oJ "$LAB_WORK/both-0.jsonl" "$LAB_V4_TARGET" ||
  lab_failed "both-0 failed"
lab_scan "$LAB_NS_SCAN" both-1 "${BOTH[@]}" --shard 1 -oX "$LAB_WORK/both-1.xml" "$LAB_V4_TARGET" ||
  lab_failed "both-1 failed"
"$GH" history --json -n 2 --db "$URL" >"$LAB_WORK/both-history.json" || lab_failed "history exited $?"
"$GH" history -n 2 --db "$URL" | sed 's/^/  | /'
python3 - "$LAB_WORK/both-history.json" <<'PY' || lab_failed "history: the -sS -sU runs do not name both scan types"
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
assert len(runs) == 2, runs
for r in runs:
    assert r["scan_type"] == "syn" and r["scan_types"] == ["syn", "udp"] and r["shards"] == 2, r
PY
"$GH" history -n 2 --db "$URL" | grep -c ' syn+udp ' | grep -qx 2 || lab_failed "history: TYPE is not syn+udp"
for i in 0 1; do
  f=$LAB_WORK/both-$i.jsonl
  [[ $i == 1 ]] && f=$LAB_WORK/both-1.xml
  out=$("$GH" diff "$f" "last~$((1 - i))" --db "$URL") || lab_failed "diff both-$i exited $?"
  grep -q '^no changes$' <<<"$out" || lab_failed "both-$i: the database differs from its file: $out"
done
"$GH" merge "$LAB_WORK/both-0.jsonl" "$LAB_WORK/both-1.xml" -o "$LAB_WORK/both-merged.jsonl" \
  2>"$LAB_WORK/both-merge.err" || lab_failed "merge of -sS -sU shards exited $?: $(cat "$LAB_WORK/both-merge.err")"
python3 - "$LAB_WORK/both-merged.jsonl" "$LAB_V4_TARGET" "${OPEN[0]}" "${CLOSED[0]}" <<'PY' ||
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
addr, op, cl = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
head = recs[0]
assert head["type"] == "scan" and head["scan_type"] == "syn" and head["scan_types"] == ["syn", "udp"], head
got = sorted((r["proto"], r["port"], r["state"]) for r in recs if r["type"] == "port" and r["ip"] == addr)
want = sorted([("tcp", op, "open"), ("tcp", cl, "closed"), ("udp", 7, "closed"), ("udp", 9, "closed")])
assert got == want and len(recs) == 6, (got, want)
PY
  lab_failed "merge of -sS -sU shards: $(cat "$LAB_WORK/both-merged.jsonl")"

# 5. The server goes away.
pg_stop || true
lab_scan "$LAB_NS_SCAN" pg-down "${COMMON[@]}" --db "$URL" -oJ "$LAB_WORK/pg-down.jsonl" "$NET" ||
  lab_failed "a scan with the server down failed"
lab_check_jsonl "$LAB_WORK/pg-down.jsonl" "${OPEN[*]}" "${FILTERED[*]}" "$PORTS" "$NET" --shown all \
  --interrupted false || lab_failed "pg-down: -oJ incomplete"
[[ $(grep -c 'warning: history database' "$LAB_WORK/pg-down.stderr") -eq 1 ]] ||
  lab_failed "pg-down: not one warning: $(cat "$LAB_WORK/pg-down.stderr")"
rc=0
"$GH" history --db "$URL" >/dev/null 2>"$LAB_WORK/history-down.err" || rc=$?
[[ $rc -eq 1 && $(wc -l <"$LAB_WORK/history-down.err") -eq 1 ]] ||
  lab_failed "history with the server down: exit $rc, $(cat "$LAB_WORK/history-down.err")"
lab_finish
