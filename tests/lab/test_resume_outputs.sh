#!/usr/bin/env bash
# Every output survives a resume: -oX, -oG, -oN and the history database, not only -oJ
# (resumable sinks: the result table and each sink's mark go into the checkpoint).
#
# The target namespace answers for 198.19.0.0/24 (256 addresses); listeners on 2 random ports,
# 1 more closed, 1 dropped by nft: 1024 probes at --max-rate 250 (about 4 s). An nft counter at
# the target counts the SYNs, so the signals come at a known point of the scan. Same --seed,
# -v (nmap's "# Ports scanned" line in -oG) and one --db for every run.
#   (a) reference: uninterrupted, with -oA and -oJ.
#   (b) SIGINT after ~35% of the SYNs, then --resume to the end.
#   (c) --checkpoint-interval 1s, SIGKILL after a checkpoint and ~55% of the SYNs (no end() ran:
#       the -oX is a cut document), then --resume to the end.
# After (b) and (c): the XML validates against nmap's DTD (xmllint) and holds exactly the
# reference's hosts, ports, states and reasons, one <nmaprun>, finished with exit="success"; the
# grepable file's Host lines equal the reference's, every host keeps its -O hint (-oX host script,
# -oN line: the resume file carries it, as the port whose SYN-ACK gave it is not probed again), with its "# Ports scanned: TCP(4;...)" line
# and one "done" line; the -oN holds one report with the reference's port lines; the database
# holds 3 runs (the resumed runs continue theirs) and `diff REF RUN` finds no change; the -oJ is
# the reference's set of ports, each once.
#
#   bash tests/lab/test_resume_outputs.sh /path/to/glasshouse     (LAB_SEED=N to repeat a run)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

NET=198.19.0.0/24
RATE=250
PROBES=$((256 * 4))
DTD=/usr/share/nmap/nmap.dtd

lab_require_root
lab_require_cmd nft xmllint
[[ -f $DTD ]] || lab_skip "nmap's DTD $DTD is missing (scripts/deps/results.txt: nmap)"
id nobody >/dev/null 2>&1 || lab_skip "no user nobody (the user a root scan drops to)"
lab_init "$@"
lab_create
lab_local_block "$NET"

read -ra OPEN <<<"$(random_ports 2 "$LAB_SEED")"
read -ra CLOSED <<<"$(random_ports 1 "$LAB_SEED-closed" "${OPEN[*]}")"
read -ra DROPPED <<<"$(random_ports 1 "$LAB_SEED-dropped" "${OPEN[*]} ${CLOSED[*]}")"
PORTS=$(printf '%s\n' "${OPEN[@]}" "${CLOSED[@]}" "${DROPPED[@]}" | sort -n | paste -sd,)
lab_log "open $(lab_join , "${OPEN[@]}"), closed ${CLOSED[*]}, dropped ${DROPPED[*]}; -p $PORTS on $NET"
lab_listen "${OPEN[@]}"
lab_filter "${DROPPED[@]}"

ip netns exec "$LAB_NS_TARGET" nft -f - <<EOF || lab_fail "nft SYN counter in the target namespace"
table netdev gh_resume_out {
  counter syns {}
  chain ingress {
    type filter hook ingress device "$LAB_IF_TARGET" priority -500; policy accept;
    tcp flags & (syn | ack) == syn counter name "syns"
  }
}
EOF
syns() {
  ip netns exec "$LAB_NS_TARGET" nft list counter netdev gh_resume_out syns |
    awk '/packets/ { for (i = 1; i < NF; i++) if ($i == "packets") { print $(i + 1); exit } }'
}
reset_counter() { ip netns exec "$LAB_NS_TARGET" nft reset counters table netdev gh_resume_out >/dev/null; }

# The scan becomes nobody once its sockets are open: its files must be where nobody can write.
chmod 711 "$LAB_WORK"
OUT=$LAB_WORK/out
mkdir -m 700 "$OUT"
chown nobody "$OUT"
DB=$OUT/history.db
COMMON=(-sS -O -p "$PORTS" --show all -n -v --max-rate "$RATE" --max-retries 1 --seed "$LAB_SEED"
  --no-status --audit-log "$LAB_WORK/audit.jsonl" --db "$DB")

start_scan() {
  local name=$1
  shift
  lab_assert_isolated "$LAB_NS_SCAN"
  lab_log "$name: glasshouse scan $* (background)"
  ip netns exec "$LAB_NS_SCAN" "$GH" scan "$@" >"$LAB_WORK/$name.stdout" 2>"$LAB_WORK/$name.stderr" </dev/null &
  SCAN_PID=$!
  LAB_PIDS+=("$SCAN_PID")
}
# wait_syns N: until N SYNs reached the target (30 s at most, false if the scan ended first).
wait_syns() {
  local i
  for ((i = 0; i < 600; i++)); do
    (($(syns) >= $1)) && return 0
    kill -0 "$SCAN_PID" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
stop_scan() {
  local name=$1 sig=$2 i
  kill "-$sig" "$SCAN_PID"
  for ((i = 0; i < 200; i++)); do
    kill -0 "$SCAN_PID" 2>/dev/null || break
    sleep 0.1
  done
  STOP_RC=0
  wait "$SCAN_PID" || STOP_RC=$?
  lab_log "$name: SIG$sig after $(syns) of $PROBES SYNs; exit status $STOP_RC"
  if lab_has_crash_marker "$LAB_WORK/$name.stderr"; then
    lab_show_tail "$LAB_WORK/$name.stderr" "$name stderr"
    lab_failed "$name: crash marker on stderr"
  fi
}

# check_outputs NAME BASE: BASE.{xml,gnmap,nmap,jsonl} against the reference's.
check_outputs() {
  local name=$1 base=$2
  xmllint --noout --dtdvalid "$DTD" "$base.xml" 2>"$LAB_WORK/$name.xmllint" ||
    lab_failed "$name: $base.xml does not validate: $(head -3 "$LAB_WORK/$name.xmllint")"
  python3 - "$OUT/ref" "$base" <<'PY' || lab_failed "$name: the resumed outputs differ from the uninterrupted scan (LAB_SEED=$LAB_SEED)"
import re, sys, xml.etree.ElementTree as ET
ref, got = sys.argv[1], sys.argv[2]
errors = []

def xml_ports(path):
    root = ET.parse(path).getroot()
    out = {}
    for h in root.iter("host"):
        addr = h.find("address").get("addr")
        for p in h.iter("port"):
            s = p.find("state")
            out.setdefault((addr, p.get("protocol"), int(p.get("portid"))), []).append(
                (s.get("state"), s.get("reason")))
        for e in h.iter("extraports"):
            out.setdefault((addr, "extraports", e.get("state")), []).append(e.get("count"))
        hint = h.find("hostscript/script[@id='os-hint']")
        out[(addr, "os-hint")] = [hint is not None and hint.get("output").startswith("OS hint: Linux")]
    fin = root.find("runstats/finished")
    return out, fin.get("exit") if fin is not None else None, len(root.findall("host"))

r, _, rh = xml_ports(ref + ".xml")
g, exit_, gh = xml_ports(got + ".xml")
hinted = sum(1 for k, v in r.items() if k[1] == "os-hint" and v[0])
if hinted != rh:
    errors.append(f"xml: the reference has an OS hint for {hinted} of {rh} hosts")
lost = [k[0] for k, v in r.items() if k[1] == "os-hint" and v[0] and not g.get(k, [None])[0]]
if lost:
    errors.append(f"xml: {len(lost)} hosts lost their OS hint on resume, e.g. {lost[:3]}")
if exit_ != "success":
    errors.append(f"xml: runstats exit={exit_!r}")
dups = [k for k, v in g.items() if len(v) > 1]
if dups:
    errors.append(f"xml: {len(dups)} ports twice, e.g. {dups[:3]}")
if g != r:
    missing = sorted(set((k, tuple(v)) for k, v in r.items()) -
                     set((k, tuple(v)) for k, v in g.items() if k in r), key=str)
    extra = sorted(set(k for k in g) - set(r))
    errors.append(f"xml: {len(r)} reference ports vs {len(g)}; differ e.g. {missing[:3]} extra {extra[:3]}")
if gh != rh:
    errors.append(f"xml: {gh} <host> elements, the reference has {rh}")
with open(got + ".xml") as f:
    if f.read().count("<nmaprun") != 1:
        errors.append("xml: not exactly one <nmaprun>")

def gnmap(path):
    text = open(path).read()
    hosts = sorted(l for l in text.splitlines() if l.startswith("Host: "))
    return text, hosts

rt, rl = gnmap(ref + ".gnmap")
gt, gl = gnmap(got + ".gnmap")
if gl != rl:
    errors.append(f"gnmap: {len(gl)} Host lines vs the reference's {len(rl)}; first differing: "
                  f"{[l for l in gl if l not in rl][:1]} / {[l for l in rl if l not in gl][:1]}")
if not re.search(r"^# Ports scanned: TCP\(4;[0-9,]+\) UDP\(0;\) SCTP\(0;\) PROTOCOLS\(0;\)$", gt, re.M):
    errors.append("gnmap: no '# Ports scanned: TCP(4;...)' line")
if gt.count("# Glasshouse done at") != 1 or gt.count("scan initiated") != 1:
    errors.append("gnmap: not one header and one 'done' line")
if "interrupted" in gt:
    errors.append("gnmap: says interrupted")

def normal(path):
    host, out, reports = None, set(), 0
    for l in open(path):
        m = re.match(r"Glasshouse scan report for (\S+)", l)
        if m:
            host, reports = m.group(1), reports + 1
        elif re.match(r"^\d+/tcp ", l) and host:
            out.add((host, " ".join(l.split()[:3])))
        elif l.startswith("OS hint: Linux") and host:
            out.add((host, "os-hint"))
    return out, reports

rn, rr = normal(ref + ".nmap")
gn, gr = normal(got + ".nmap")
if gn != rn or gr != rr:
    errors.append(f"-oN: {len(gn)} port lines in {gr} reports, the reference {len(rn)} in {rr}")
print(f"  {got}: xml {len(g)} ports in {gh} hosts, gnmap {len(gl)} Host lines, -oN {len(gn)} port lines")
for e in errors:
    print("  " + e)
sys.exit(1 if errors else 0)
PY
  lab_check_jsonl "$base.jsonl" "${OPEN[*]}" "${DROPPED[*]}" "$PORTS" "$NET" --shown all \
    --summary required --interrupted false -q || lab_failed "$name: the resumed -oJ differs from the lab"
}

# --- (a) reference ----------------------------------------------------------------------------
reset_counter
lab_scan "$LAB_NS_SCAN" reference "${COMMON[@]}" -oA "$OUT/ref" -oJ "$OUT/ref.jsonl" "$NET" ||
  lab_failed "reference: scan failed"
lab_check_jsonl "$OUT/ref.jsonl" "${OPEN[*]}" "${DROPPED[*]}" "$PORTS" "$NET" --shown all -q ||
  lab_failed "reference: results differ from the lab (LAB_SEED=$LAB_SEED)"
xmllint --noout --dtdvalid "$DTD" "$OUT/ref.xml" || lab_failed "reference: XML does not validate"

# --- (b) SIGINT, resume -----------------------------------------------------------------------
# (c) SIGKILL after a checkpoint, resume
for c in b:INT:35 c:KILL:55; do
  IFS=: read -r name sig share <<<"$c"
  reset_counter
  start_scan "$name-first" -Pn "${COMMON[@]}" -oA "$OUT/$name" -oJ "$OUT/$name.jsonl" \
    --checkpoint "$OUT/$name.resume" --checkpoint-interval 1s "$NET"
  if [[ $sig == KILL ]]; then
    for ((i = 0; i < 100; i++)); do [[ -f $OUT/$name.resume ]] && break; sleep 0.05; done
  fi
  wait_syns $((PROBES * share / 100)) || lab_failed "$name: the scan ended before $share% of its SYNs"
  stop_scan "$name-first" "$sig"
  [[ -f $OUT/$name.resume ]] || lab_fail "$name: no resume file after SIG$sig"
  if [[ $sig == INT ]]; then
    [[ $STOP_RC -eq 130 ]] || lab_failed "$name: exit $STOP_RC after SIGINT, expected 130"
    xmllint --noout --dtdvalid "$DTD" "$OUT/$name.xml" ||
      lab_failed "$name: the interrupted XML does not validate"
  fi
  LAB_EXPECT_RC=0 lab_scan "$LAB_NS_SCAN" "$name-resumed" --resume "$OUT/$name.resume" ||
    lab_failed "$name: --resume did not complete"
  if grep -q warning "$LAB_WORK/$name-resumed.stderr"; then
    lab_failed "$name: $(grep warning "$LAB_WORK/$name-resumed.stderr")"
  fi
  check_outputs "$name" "$OUT/$name"
done

# --- the database: three runs, the resumed ones equal to the reference ------------------------
"$GH" history --json --db "$DB" >"$LAB_WORK/history.json" || lab_failed "history exited $?"
python3 - "$LAB_WORK/history.json" <<'PY' >"$LAB_WORK/runs" || lab_failed "history: $(cat "$LAB_WORK/runs")"
import json, sys
runs = sorted((json.loads(l) for l in open(sys.argv[1])), key=lambda r: r["run"])
if len(runs) != 3 or any(r["exit_reason"] != "done" for r in runs):
    print(f"{len(runs)} runs: {[(r['run'], r['exit_reason']) for r in runs]}; expected 3, done")
    sys.exit(1)
print(" ".join(str(r["run"]) for r in runs))
PY
read -r REF_RUN B_RUN C_RUN <"$LAB_WORK/runs"
for run in "$B_RUN" "$C_RUN"; do
  out=$("$GH" diff "$REF_RUN" "$run" --db "$DB") || lab_failed "diff $REF_RUN $run exited $?"
  grep -q '^no changes$' <<<"$out" || lab_failed "database run $run differs from the reference: $out"
done
lab_finish
