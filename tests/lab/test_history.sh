#!/usr/bin/env bash
# The history database, diff and report around real scans (src/store, src/history).
#
# The target namespace answers for 198.19.0.0/30 (4 addresses). Listeners on 3 random ports, one
# more port closed, one dropped by nft; then:
#   1. scan 1: -sS --show all as root (it drops to nobody after opening its files, the database
#      included) into a fresh database ($LAB_WORK/history.db) and -oJ;
#   2. a 4th port starts listening (closed -> open) and one open port gets dropped by nft
#      (open -> filtered); scan 2, the same command;
#   3. `history --json` lists both runs, done, with their open-port counts;
#   4. `diff last~1 last --json` names exactly those 2 ports on each of the 4 addresses as state
#      changes and nothing else; `diff s1.jsonl s2.jsonl` says the same from the files; `diff
#      s2.jsonl last` finds nothing: the database holds exactly what -oJ holds;
#   5. nmap's XML of the same lab (nmap -sS) against our run 2: no port appeared, disappeared or
#      changed state;
#   6. `report` writes a page with the 8 changes and a row per port;
#   7. bad input, one line each: an unknown run id (exit 2), a truncated XML or JSON Lines file
#      (exit 2), a corrupt database for history (exit 2); a scan with a corrupt --db, and one with
#      a PostgreSQL server that is down, still exit 0 with -oJ complete and one warning line (and
#      no password on stderr or in the audit log);
#   8. a -sT scan as nobody records into the default ~/.local/share/glasshouse/history.db.
#
#   bash tests/lab/test_history.sh /path/to/glasshouse     (LAB_SEED=N to repeat a run)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

NET=198.19.0.0/30

lab_require_root
lab_require_cmd nft setpriv
lab_init "$@"
lab_create
lab_local_block "$NET"

read -ra OPEN <<<"$(random_ports 3 "$LAB_SEED")"
read -ra CLOSED <<<"$(random_ports 1 "$LAB_SEED-closed" "${OPEN[*]}")"
read -ra LATER <<<"$(random_ports 1 "$LAB_SEED-later" "${OPEN[*]} ${CLOSED[*]}")"
read -ra FILTERED <<<"$(random_ports 1 "$LAB_SEED-filtered" "${OPEN[*]} ${CLOSED[*]} ${LATER[*]}")"
PORTS=$(printf '%s\n' "${OPEN[@]}" "${CLOSED[@]}" "${LATER[@]}" "${FILTERED[@]}" | sort -n | paste -sd,)
lab_log "open $(lab_join , "${OPEN[@]}"), closed ${CLOSED[*]}, opened later ${LATER[*]}, filtered ${FILTERED[*]}"
lab_listen "${OPEN[@]}"
lab_filter "${FILTERED[@]}"

DB="$LAB_WORK/history.db"
COMMON=(-sS -p "$PORTS" --show all -n -T4 --max-retries 2 --seed "$LAB_SEED" --no-status
  --audit-log "$LAB_WORK/audit.jsonl")

lab_scan "$LAB_NS_SCAN" s1 "${COMMON[@]}" --db "$DB" -oJ "$LAB_WORK/s1.jsonl" "$NET" ||
  lab_failed "scan 1 failed"
lab_check_jsonl "$LAB_WORK/s1.jsonl" "${OPEN[*]}" "${FILTERED[*]}" "$PORTS" "$NET" --shown all \
  --interrupted false || lab_failed "scan 1: results differ from the lab"
[[ $(stat -c %a "$DB") == 600 ]] || lab_failed "the database is not mode 0600: $(stat -c %a "$DB")"

# Between the scans: a port opens, an open one gets filtered.
GONE=${OPEN[0]}
lab_listen "${LATER[@]}"
lab_filter "${FILTERED[@]}" "$GONE"
lab_scan "$LAB_NS_SCAN" s2 "${COMMON[@]}" --db "$DB" -oJ "$LAB_WORK/s2.jsonl" "$NET" ||
  lab_failed "scan 2 failed"
NOW_OPEN="${OPEN[*]:1} ${LATER[*]}"
lab_check_jsonl "$LAB_WORK/s2.jsonl" "$NOW_OPEN" "${FILTERED[*]} $GONE" "$PORTS" "$NET" --shown all \
  --interrupted false || lab_failed "scan 2: results differ from the lab"

"$GH" history --json --db "$DB" >"$LAB_WORK/history.json" 2>"$LAB_WORK/history.err" ||
  lab_failed "history exited $?: $(cat "$LAB_WORK/history.err")"
"$GH" history --db "$DB" | sed 's/^/  | /'
python3 - "$LAB_WORK/history.json" <<'PY' || lab_failed "history: wrong runs"
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
assert len(runs) == 2, runs
assert [r["run"] for r in runs] == [2, 1], runs
for r in runs:
    assert r["exit_reason"] == "done" and r["end"], r
    assert r["scan_type"] == "syn" and r["targets"] == 4 and r["ports"] == 6, r
    assert r["open_ports"] == 12 and r["hosts_up"] == 4, r
    assert r["audit_run"], r
PY

# check_diff FILE: exactly LATER closed->open and GONE open->filtered on each address.
check_diff() {
  python3 - "$1" "${LATER[0]}" "$GONE" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
later, gone = int(sys.argv[2]), int(sys.argv[3])
assert d["hosts"] == [], d["hosts"]
got = sorted((c["change"], c["ip"], c["port"], c["before"]["state"], c["after"]["state"])
             for c in d["ports"])
want = sorted([("state", f"198.19.0.{i}", later, "closed", "open") for i in range(4)] +
              [("state", f"198.19.0.{i}", gone, "open", "filtered") for i in range(4)])
assert got == want, f"got {got}\nwant {want}"
s = d["summary"]
assert s["state_changed"] == 8 and s["ports_appeared"] == 0 and s["ports_disappeared"] == 0, s
PY
}
"$GH" diff last~1 last --json --db "$DB" >"$LAB_WORK/diff-db.json" || lab_failed "diff of runs exited $?"
check_diff "$LAB_WORK/diff-db.json" || lab_failed "diff last~1 last: wrong changes"
"$GH" diff last~1 last --db "$DB" | sed 's/^/  | /'
"$GH" diff "$LAB_WORK/s1.jsonl" "$LAB_WORK/s2.jsonl" --json >"$LAB_WORK/diff-files.json" ||
  lab_failed "diff of files exited $?"
check_diff "$LAB_WORK/diff-files.json" || lab_failed "diff s1.jsonl s2.jsonl: wrong changes"
same=$("$GH" diff "$LAB_WORK/s2.jsonl" last --db "$DB") || lab_failed "diff s2.jsonl last exited $?"
grep -q "^no changes$" <<<"$same" || lab_failed "the database differs from -oJ: $same"

# nmap's view of the same lab, as XML, against ours.
if command -v nmap >/dev/null; then
  ip netns exec "$LAB_NS_SCAN" nmap -sS -Pn -n -T4 --max-retries 2 -p "$PORTS" \
    -oX "$LAB_WORK/nmap.xml" "$NET" >/dev/null 2>&1 || lab_failed "nmap failed"
  "$GH" diff "$LAB_WORK/nmap.xml" last --json --db "$DB" >"$LAB_WORK/diff-nmap.json" ||
    lab_failed "diff nmap.xml last exited $?"
  python3 - "$LAB_WORK/diff-nmap.json" <<'PY' || lab_failed "nmap and glasshouse disagree"
import json, sys
d = json.load(open(sys.argv[1]))
bad = [c for c in d["ports"] if c["change"] != "service"]
assert not bad and not d["hosts"], json.dumps(bad)[:2000]
PY
else
  lab_log "nmap not installed: no comparison with nmap's XML"
fi

"$GH" report last -o "$LAB_WORK/report.html" --db "$DB" 2>"$LAB_WORK/report.err" ||
  lab_failed "report exited $?: $(cat "$LAB_WORK/report.err")"
grep -q "changes since run 1" "$LAB_WORK/report.err" || lab_failed "report: not compared with run 1"
rows=$(grep -c '<tr data-order=' "$LAB_WORK/report.html" || true)
changes=$(grep -o 'data-change="state"' "$LAB_WORK/report.html" | wc -l)
[[ $rows -eq 24 && $changes -eq 8 ]] ||
  lab_failed "report: $rows port rows (want 24), $changes changes (want 8)"

# Bad input: one line, the exit status given.
expect_one_line() {
  local name=$1 want_rc=$2 pattern=$3
  shift 3
  local rc=0
  "$@" >"$LAB_WORK/$name.out" 2>"$LAB_WORK/$name.err" || rc=$?
  [[ $rc -eq $want_rc ]] || lab_failed "$name: exit $rc, want $want_rc: $(cat "$LAB_WORK/$name.err")"
  [[ $(wc -l <"$LAB_WORK/$name.err") -eq 1 ]] ||
    lab_failed "$name: not one line: $(cat "$LAB_WORK/$name.err")"
  grep -q -- "$pattern" "$LAB_WORK/$name.err" ||
    lab_failed "$name: no '$pattern': $(cat "$LAB_WORK/$name.err")"
}
expect_one_line unknown-run 2 'unknown run "42"' "$GH" diff 1 42 --db "$DB"
expect_one_line unknown-last 2 'unknown run "last~5"' "$GH" report last~5 -o "$LAB_WORK/x.html" --db "$DB"
if [[ -f $LAB_WORK/nmap.xml ]]; then
  head -c 700 "$LAB_WORK/nmap.xml" >"$LAB_WORK/cut.xml"
  expect_one_line truncated-xml 2 'truncated' "$GH" diff "$LAB_WORK/cut.xml" last --db "$DB"
fi
head -c 300 "$LAB_WORK/s1.jsonl" >"$LAB_WORK/cut.jsonl"
expect_one_line truncated-jsonl 2 'cut.jsonl:1' "$GH" diff "$LAB_WORK/cut.jsonl" last --db "$DB"
head -c 5000 /dev/urandom >"$LAB_WORK/junk.db"
expect_one_line corrupt-history 2 'not a Glasshouse database' "$GH" history --db "$LAB_WORK/junk.db"

# A scan whose database fails: one warning, exit 0, every other output complete.
for bad in "$LAB_WORK/junk.db" "postgresql://glasshouse:secret@127.0.0.1:1/none"; do
  name=baddb-file
  [[ $bad == postgresql* ]] && name=baddb-pg
  lab_scan "$LAB_NS_SCAN" "$name" "${COMMON[@]}" --db "$bad" -oJ "$LAB_WORK/$name.jsonl" "$NET" ||
    lab_failed "$name: the scan failed"
  lab_check_jsonl "$LAB_WORK/$name.jsonl" "$NOW_OPEN" "${FILTERED[*]} $GONE" "$PORTS" "$NET" \
    --shown all --interrupted false || lab_failed "$name: -oJ incomplete"
  warnings=$(grep -c 'warning: history database' "$LAB_WORK/$name.stderr" || true)
  [[ $warnings -eq 1 ]] || lab_failed "$name: $warnings warning lines: $(cat "$LAB_WORK/$name.stderr")"
  ! grep -q secret "$LAB_WORK/$name.stderr" || lab_failed "$name: the password is on stderr"
  ! grep -q secret "$LAB_WORK/audit.jsonl" || lab_failed "$name: the password is in the audit log"
done

# As nobody (-sT, no privilege): the default database under $HOME/.local/share.
chmod 711 "$LAB_WORK"
NOBODY_HOME="$LAB_WORK/nobody-home"
mkdir -p "$NOBODY_HOME"
chown 65534:65534 "$NOBODY_HOME"
printf '#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups env -u XDG_STATE_HOME -u XDG_DATA_HOME -u GLASSHOUSE_DB HOME="%s" "%s" "$@"\n' \
  "$NOBODY_HOME" "$GH" >"$LAB_WORK/as-nobody"
chmod 755 "$LAB_WORK/as-nobody"
GH_SAVED=$GH
GH="$LAB_WORK/as-nobody"
lab_scan "$LAB_NS_SCAN" nobody-sT -sT -p "$PORTS" -n --no-status "$NET" || lab_failed "nobody -sT failed"
GH=$GH_SAVED
NOBODY_DB="$NOBODY_HOME/.local/share/glasshouse/history.db"
if [[ -f $NOBODY_DB && $(stat -c %U "$NOBODY_DB") == nobody ]]; then
  n=$("$GH" history --json --db "$NOBODY_DB" |
    python3 -c 'import json,sys; r=[json.loads(l) for l in sys.stdin]; print(r[0]["open_ports"] if len(r)==1 else -1)')
  [[ $n -eq 12 ]] || lab_failed "nobody's run: $n open ports, want 12"
else
  lab_failed "no database of nobody's at $NOBODY_DB"
fi
lab_finish
