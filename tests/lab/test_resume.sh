#!/usr/bin/env bash
# Pause and resume of a -sS (and -sS -sU) scan: SIGINT, SIGKILL, --resume, and the union of the runs' outputs.
#
# The target namespace answers for every address of 198.19.0.0/22 (a local route, as in
# test_sweep_24.sh): listeners on 2 random ports, 1 more closed, 3 dropped by nft: 1024 x 6 =
# 6144 probes at --max-rate 1500 (about 4 s for the first pass, then a retry pass for the
# dropped ports). An nft counter at the target's ingress counts the SYNs, so the signals come at
# a known point of the scan, not at a guessed time. Same --seed everywhere.
#
#   (a) reference: uninterrupted, matches the lab exactly; its --checkpoint file (written after
#       the first interval) is removed when it completes.
#   (b) SIGINT once ~25% of pass 0 is sent: exit 130, stderr says "paused; continue with:
#       glasshouse scan --resume FILE" with FILE in the default directory (owned by nobody, 0700);
#       resumed, SIGINT again (exit 130, same FILE), resumed again to the end (exit 0, FILE gone).
#   (c) --checkpoint-interval 1s, SIGKILL once a checkpoint exists and ~45% of pass 0 is sent: the
#       -oJ holds records after the checkpoint; resumed to the end. -oN is rewritten whole, from
#       the table the checkpoint saved: one report with every open port.
#   (e) SIGINT during the retry pass (more SYNs to the dropped ports than pass 0 sends): resumed.
#   For (b), (c) and (e) the -oJ file then holds each (ip, port) once, the set of (ip, port,
#   state) equals the reference, the scan header first, one summary last, and each "resume"
#   record starts at its kept_bytes with ports_written_before port records above it. The audit
#   log's start record of each resumed run names the first run ("resumes").
#   (g) -Pn -sS -sU (two port stages), SIGINT in the UDP stage: the resumed run sends no SYN
#       (the checkpoint says the TCP stage finished), and -oJ holds each (ip, proto, port) once in
#       the expected state (UDP: answered, port unreachable, dropped), -oN both protocols' ports.
#   (h) -sU (an answered and a closed port) from a pool of eight source addresses (-S), SIGINT,
#       resumed: the resumed run keeps
#       sending from the pool only (the target's nft set), its audit record names the pool, and
#       -oJ holds each (ip, port) once in the expected state.
#   (d) errors, exit 2 with one line and nothing sent: a corrupted, a truncated and a foreign
#       resume file, --resume with another option, a missing file; --checkpoint in a directory
#       nobody cannot write; --checkpoint with -sT. An edited --excludefile refuses the resume
#       (exit 2) and leaves the resume file and the -oJ untouched; restored, the resume completes.
#
#   bash tests/lab/test_resume.sh /path/to/glasshouse     (LAB_SEED=N to repeat a run)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

NET=198.19.0.0/22
ADDRS=1024
RATE=1500
DEFAULT_DIR=/var/lib/glasshouse/resume

lab_require_root
lab_require_cmd nft
id nobody >/dev/null 2>&1 || lab_skip "no user nobody (the user a root scan drops to)"
lab_init "$@"
lab_create
lab_local_block "$NET"

read -ra OPEN <<<"$(random_ports 2 "$LAB_SEED")"
read -ra CLOSED <<<"$(random_ports 1 "$LAB_SEED-closed" "${OPEN[*]}")"
read -ra DROPPED <<<"$(random_ports 3 "$LAB_SEED-dropped" "${OPEN[*]} ${CLOSED[*]}")"
PORTS=$(printf '%s\n' "${OPEN[@]}" "${CLOSED[@]}" "${DROPPED[@]}" | sort -n | paste -sd,)
PROBES=$((ADDRS * 6))
DROPPED_PASS0=$((ADDRS * 3))
lab_log "open $(lab_join , "${OPEN[@]}"), closed ${CLOSED[*]}, dropped $(lab_join , "${DROPPED[@]}"); -p $PORTS on $NET ($PROBES probes)"
lab_listen "${OPEN[@]}"
lab_filter "${DROPPED[@]}"

# SYNs reaching the target (all, and to the dropped ports), before the nft drop.
ip netns exec "$LAB_NS_TARGET" nft -f - <<EOF || lab_fail "nft SYN counters in the target namespace"
table netdev gh_resume {
  counter syns {}
  counter dropped {}
  chain ingress {
    type filter hook ingress device "$LAB_IF_TARGET" priority -500; policy accept;
    tcp flags & (syn | ack) == syn counter name "syns"
    tcp flags & (syn | ack) == syn tcp dport { $(lab_join ', ' "${DROPPED[@]}") } counter name "dropped"
  }
}
EOF
counter() {
  ip netns exec "$LAB_NS_TARGET" nft list counter netdev gh_resume "$1" |
    awk '!done && /packets/ { for (i = 1; i < NF; i++) if ($i == "packets") { print $(i + 1); done = 1; break } }'
}
reset_counters() {
  ip netns exec "$LAB_NS_TARGET" nft reset counters table netdev gh_resume >/dev/null
}

# The scanner becomes nobody once its sockets are open: an explicit --checkpoint must be in a
# directory nobody can write (and reach).
chmod 711 "$LAB_WORK"
CKDIR=$LAB_WORK/checkpoints
mkdir -m 700 "$CKDIR"
chown nobody "$CKDIR"
AUDIT=$LAB_WORK/audit.jsonl
COMMON=(-sS -p "$PORTS" --show all -n --max-rate "$RATE" --max-retries 2 --seed "$LAB_SEED"
  --no-status --audit-log "$AUDIT")

# start_scan NAME ARGS...: `glasshouse scan ARGS` in the background in the scanner namespace;
# SCAN_PID is the scanner's own pid (ip netns exec execs it).
start_scan() {
  local name=$1
  shift
  lab_assert_isolated "$LAB_NS_SCAN"
  lab_ns_prefix "$LAB_NS_SCAN"
  lab_log "$name: [$LAB_NS_SCAN] glasshouse scan $* (background)"
  # -Pn: checkpoints cover the port scan of -Pn runs (a run with host discovery has none yet);
  # --resume takes no other option.
  local pn=(-Pn)
  [[ $1 == --resume ]] && pn=()
  "${LAB_PREFIX[@]}" "$GH" scan "${pn[@]}" "$@" >"$LAB_WORK/$name.stdout" 2>"$LAB_WORK/$name.stderr" </dev/null &
  SCAN_PID=$!
  LAB_PIDS+=("$SCAN_PID")
}

# wait_until SECONDS CONDITION...: poll CONDITION every 50 ms; false if the scan ended or time ran out.
wait_until() {
  local limit=$1 i
  shift
  for ((i = 0; i < limit * 20; i++)); do
    "$@" && return 0
    kill -0 "$SCAN_PID" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
syns_at_least() { (($(counter syns) >= $1)); }
dropped_at_least() { (($(counter dropped) >= $1)); }

# stop_scan NAME SIGNAL: send it, wait (20 s at most), set STOP_RC.
stop_scan() {
  local name=$1 sig=$2 i
  kill "-$sig" "$SCAN_PID"
  for ((i = 0; i < 200; i++)); do
    kill -0 "$SCAN_PID" 2>/dev/null || break
    sleep 0.1
  done
  STOP_RC=0
  if kill -0 "$SCAN_PID" 2>/dev/null; then
    kill -KILL "$SCAN_PID"
    lab_failed "$name: still running 20 s after SIG$sig"
  fi
  wait "$SCAN_PID" || STOP_RC=$?
  lab_log "$name: SIG$sig after $(counter syns) SYNs; exit status $STOP_RC"
  if lab_has_crash_marker "$LAB_WORK/$name.stderr"; then
    lab_show_tail "$LAB_WORK/$name.stderr" "$name stderr"
    lab_failed "$name: crash marker on stderr"
  fi
}

# The resume file a stopped scan names on stderr ("" when none).
paused_file() {
  sed -n 's/^glasshouse: paused; continue with: glasshouse scan --resume //p' "$LAB_WORK/$1.stderr" | tail -n 1
}

# check_union NAME FILE RESUMES FIRST_RUN: FILE is the reference scan, each port once, header
# first, one summary last, RESUMES "resume" records consistent with the file.
check_union() {
  local name=$1 file=$2 resumes=$3 first_run=$4
  if ! lab_check_jsonl "$file" "${OPEN[*]}" "${DROPPED[*]}" "$PORTS" "$NET" --shown all \
    --summary required --interrupted false -q; then
    lab_failed "$name: the resumed -oJ file differs from the lab (LAB_SEED=$LAB_SEED)"
  fi
  if ! python3 - "$LAB_WORK/reference.jsonl" "$file" "$resumes" "$first_run" <<'EOF'; then
import json, sys

ref_path, path, want_resumes, first_run = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
errors = []


def ports_of(p):
    out = {}
    for line in open(p, "rb").read().decode().splitlines():
        r = json.loads(line)
        if r.get("type") == "port":
            out.setdefault((r["ip"], r["port"]), []).append(r["state"])
    return out


ref = ports_of(ref_path)
data = open(path, "rb").read()
lines = data.split(b"\n")
if lines[-1] != b"":
    errors.append("the file does not end with a newline")
lines = lines[:-1]
recs, offsets, off = [], [], 0
for n, line in enumerate(lines, 1):
    offsets.append(off)
    off += len(line) + 1
    try:
        recs.append(json.loads(line))
    except ValueError:
        errors.append(f"line {n} is not JSON: {line[:80]!r}")
        recs.append({})
types = [r.get("type") for r in recs]
if not types or types[0] != "scan":
    errors.append(f"the first record is {types[:1]}, not the scan header")
if types.count("scan") != 1:
    errors.append(f"{types.count('scan')} scan headers")
if types.count("summary") != 1 or types[-1] != "summary":
    errors.append(f"{types.count('summary')} summary records; the last record is {types[-1:]}")
if types.count("resume") != want_resumes:
    errors.append(f"{types.count('resume')} resume records, expected {want_resumes}")
ports_above = 0
last_resume = None
for i, r in enumerate(recs):
    if r.get("type") == "port":
        ports_above += 1
    elif r.get("type") == "resume":
        last_resume = r
        if r.get("kept_bytes") != offsets[i]:
            errors.append(f"resume record at byte {offsets[i]} says kept_bytes {r.get('kept_bytes')}")
        if r.get("ports_written_before") != ports_above:
            errors.append(f"resume record says ports_written_before {r.get('ports_written_before')}, "
                          f"{ports_above} port records are above it")
        if r.get("resumes") != first_run:
            errors.append(f"resume record says resumes {r.get('resumes')}, the scan started as run {first_run}")
summary = recs[-1] if recs else {}
since = ports_above - (last_resume["ports_written_before"] if last_resume else 0)
if summary.get("ports_written") is not None and want_resumes and summary["ports_written"] != since:
    errors.append(f"summary says ports_written {summary['ports_written']}, {since} port records follow the last resume record")
got = ports_of(path)
dups = {k: v for k, v in got.items() if len(v) > 1}
if dups:
    errors.append(f"{len(dups)} (ip, port) reported more than once, e.g. {sorted(dups.items())[:3]}")
ref_set = {(k, v[0]) for k, v in ref.items()}
got_set = {(k, v[0]) for k, v in got.items()}
missing, extra = sorted(ref_set - got_set), sorted(got_set - ref_set)
if missing:
    errors.append(f"{len(missing)} results of the reference missing, e.g. {missing[:3]}")
if extra:
    errors.append(f"{len(extra)} results not in the reference, e.g. {extra[:3]}")
print(f"  {path}: {len(got)} ports, {types.count('resume')} resume record(s), "
      f"{len(recs)} records; reference {len(ref)} ports")
for e in errors:
    print("  " + e)
sys.exit(1 if errors else 0)
EOF
    lab_failed "$name: the runs' -oJ together are not the uninterrupted scan (LAB_SEED=$LAB_SEED)"
  fi
}

# The audit log has a start record of a run resuming FIRST_RUN, COUNT times.
check_audit() {
  local name=$1 first_run=$2 count=$3 got
  got=$(grep -c "\"event\":\"start\".*\"resumes\":\"$first_run\"" "$AUDIT" || true)
  if [[ $got -ne $count ]]; then
    lab_failed "$name: $got audit start records resume run $first_run, expected $count"
  fi
}

# first_run_of FILE: the audit run id of the (not resumed) run that started writing -oJ FILE.
first_run_of() {
  python3 - "$AUDIT" "$1" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("event") == "start" and "resumes" not in r and ("-oJ " + sys.argv[2] + " ") in r.get("command", ""):
        print(r["run"])
EOF
}

resume_to_end() {
  local name=$1 file=$2
  if ! LAB_EXPECT_RC=0 lab_scan "$LAB_NS_SCAN" "$name" --resume "$file"; then
    lab_failed "$name: --resume did not complete (LAB_SEED=$LAB_SEED)"
  fi
  if [[ -e $file ]]; then
    lab_failed "$name: the resume file $file is still there after the scan completed"
  fi
}

# --- (a) reference ----------------------------------------------------------------------------
reset_counters
if ! lab_scan "$LAB_NS_SCAN" reference "${COMMON[@]}" -oJ "$LAB_WORK/reference.jsonl" \
  --checkpoint "$CKDIR/reference.resume" --checkpoint-interval 1s "$NET"; then
  lab_failed "reference: scan failed"
fi
lab_log "reference: $(counter syns) SYNs, $(counter dropped) to the dropped ports, in $LAB_SCAN_SECONDS s"
if ! lab_check_jsonl "$LAB_WORK/reference.jsonl" "${OPEN[*]}" "${DROPPED[*]}" "$PORTS" "$NET" \
  --shown all --summary required --interrupted false; then
  lab_failed "reference: results differ from the lab (LAB_SEED=$LAB_SEED)"
fi
if (($(counter dropped) <= DROPPED_PASS0)); then
  lab_failed "reference: no retry of the dropped ports (the test needs a retry pass)"
fi
if [[ -e $CKDIR/reference.resume ]]; then
  lab_failed "reference: its checkpoint file is still there after the scan completed"
fi

# --- (b) SIGINT, resume, SIGINT again, resume -------------------------------------------------
reset_counters
OUT_B=$LAB_WORK/b.jsonl
start_scan b-first "${COMMON[@]}" -oJ "$OUT_B" "$NET"
if ! wait_until 30 syns_at_least $((PROBES / 4)); then
  lab_failed "b: the scan ended or stalled before a quarter of its SYNs were sent"
fi
stop_scan b-first INT
[[ $STOP_RC -eq 130 ]] || lab_failed "b: exit status $STOP_RC after SIGINT, expected 130"
FILE_B=$(paused_file b-first)
FIRST_B=$(first_run_of "$OUT_B")
if [[ $FILE_B != "$DEFAULT_DIR/$FIRST_B.resume" || ! $FIRST_B =~ ^[0-9a-f]{16}$ || ! -f $FILE_B ]]; then
  lab_show_tail "$LAB_WORK/b-first.stderr" "b-first stderr"
  lab_fail "b: no 'paused; continue with: glasshouse scan --resume $DEFAULT_DIR/<run>.resume' on stderr with an existing file (got '$FILE_B')"
fi
lab_log "b: paused into $FILE_B"
read -r owner mode < <(stat -c '%U %a' "$DEFAULT_DIR")
[[ $owner == nobody && $mode == 700 ]] || lab_failed "b: $DEFAULT_DIR is $owner $mode, expected nobody 700"
cp "$FILE_B" "$LAB_WORK/b-saved.resume"  # for (d)

SYNS_BEFORE=$(counter syns)
start_scan b-second --resume "$FILE_B"
if ! wait_until 30 syns_at_least $((SYNS_BEFORE + PROBES / 6)); then
  lab_failed "b: the resumed scan ended or stalled before sending a sixth of the probes"
fi
stop_scan b-second INT
[[ $STOP_RC -eq 130 ]] || lab_failed "b: resumed scan: exit status $STOP_RC after SIGINT, expected 130"
[[ $(paused_file b-second) == "$FILE_B" ]] || lab_failed "b: the resumed scan did not pause into $FILE_B: '$(paused_file b-second)'"
grep -q "^glasshouse: note: resuming run $FIRST_B " "$LAB_WORK/b-second.stderr" ||
  lab_failed "b: the resumed scan does not say which run it resumes"
resume_to_end b-third "$FILE_B"
check_union b "$OUT_B" 2 "$FIRST_B"
check_audit b "$FIRST_B" 2
lab_log "b: $(counter syns) SYNs over three runs (reference: $PROBES probes + retries)"

# --- (c) SIGKILL after a checkpoint, resume ---------------------------------------------------
reset_counters
OUT_C=$LAB_WORK/c.jsonl
FILE_C=$CKDIR/c.resume
start_scan c-first "${COMMON[@]}" -oJ "$OUT_C" -oN "$LAB_WORK/c.txt" --checkpoint "$FILE_C" \
  --checkpoint-interval 1s "$NET"
checkpoint_and_syns() { [[ -f $FILE_C ]] && syns_at_least $((PROBES * 45 / 100)); }
if ! wait_until 30 checkpoint_and_syns; then
  lab_failed "c: no checkpoint file, or the scan ended, before 45% of the SYNs were sent"
fi
stop_scan c-first KILL
[[ $STOP_RC -eq 137 ]] || lab_failed "c: exit status $STOP_RC after SIGKILL, expected 137"
SIZE_C=$(stat -c %s "$OUT_C")
if [[ ! -f $FILE_C ]]; then
  lab_fail "c: no resume file $FILE_C after SIGKILL"
fi
resume_to_end c-second "$FILE_C"
FIRST_C=$(first_run_of "$OUT_C")
KEPT_C=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("type") == "resume": print(r["kept_bytes"]); break' "$OUT_C")
lab_log "c: the -oJ had $SIZE_C bytes at SIGKILL; the resume kept ${KEPT_C:-?} (records after the last checkpoint redone)"
check_union c "$OUT_C" 1 "${FIRST_C:-none}"
# -oN is written whole at the end from the result table, which the resumed run restored from
# the checkpoint: one report, every open port of both runs in it.
if [[ $(grep -c '^# Glasshouse .* scan initiated' "$LAB_WORK/c.txt") -ne 1 ]] ||
  ! grep -q "as: glasshouse scan --resume $FILE_C" "$LAB_WORK/c.txt"; then
  lab_failed "c: the -oN file does not hold one report, written by the resumed run"
fi
got=$(grep -cE '^[0-9]+/tcp +open ' "$LAB_WORK/c.txt" || true)
((got == ADDRS * ${#OPEN[@]})) ||
  lab_failed "c: the -oN report lists $got open ports, expected $((ADDRS * ${#OPEN[@]}))"
check_audit c "${FIRST_C:-none}" 1

# --- (e) SIGINT in the retry pass, resume -----------------------------------------------------
reset_counters
OUT_E=$LAB_WORK/e.jsonl
FILE_E=$CKDIR/e.resume
start_scan e-first "${COMMON[@]}" -oJ "$OUT_E" --checkpoint "$FILE_E" "$NET"
if ! wait_until 60 dropped_at_least $((DROPPED_PASS0 + ADDRS / 2)); then
  lab_failed "e: the scan ended or stalled before its retry pass was under way"
fi
stop_scan e-first INT
[[ $STOP_RC -eq 130 ]] || lab_failed "e: exit status $STOP_RC after SIGINT, expected 130"
[[ $(paused_file e-first) == "$FILE_E" ]] || lab_failed "e: did not pause into $FILE_E"
resume_to_end e-second "$FILE_E"
if ! grep -Eq '^glasshouse: note: resuming run [0-9a-f]{16} .*pass [1-9]' "$LAB_WORK/e-second.stderr"; then
  lab_failed "e: the checkpoint was not taken in a retry pass: $(grep note: "$LAB_WORK/e-second.stderr" || true)"
fi
FIRST_E=$(first_run_of "$OUT_E")
check_union e "$OUT_E" 1 "${FIRST_E:-none}"

# --- (g) -Pn -sS -sU: SIGINT in the UDP stage, resume -----------------------------------------
# Two port stages in one -Pn run: the TCP ports above, then UDP on the same addresses (the first
# 128): one port answered by a responder on every address, one closed (port unreachable; the
# target's per-peer ICMP limit is lifted so every one comes back), one dropped (open|filtered).
# SIGINT once a third of the UDP stage's first pass is out: the checkpoint says the TCP stage
# finished and how far the UDP one got, so the resumed run sends no SYN at all, and the -oJ holds
# every (ip, proto, port) once with the expected state; -oN lists both protocols' open ports.
NET_G=198.19.0.0/25
ADDRS_G=128
read -ra UDP_G <<<"$(random_ports 3 "$LAB_SEED-udp" "$PORTS")"
U_OPEN=${UDP_G[0]} U_CLOSED=${UDP_G[1]} U_DROPPED=${UDP_G[2]}
lab_log "g: udp open $U_OPEN, closed $U_CLOSED, dropped $U_DROPPED on $NET_G"
ip netns exec "$LAB_NS_TARGET" sysctl -qw net.ipv4.icmp_ratelimit=0 || lab_fail "g: icmp_ratelimit"
ip netns exec "$LAB_NS_TARGET" nft -f - <<EOF || lab_fail "g: nft UDP rules in the target namespace"
table netdev gh_resume_udp {
  counter udps {}
  chain ingress {
    type filter hook ingress device "$LAB_IF_TARGET" priority -500; policy accept;
    meta l4proto udp counter name "udps"
  }
}
table inet gh_resume_udp_drop {
  chain input {
    type filter hook input priority filter; policy accept;
    udp dport $U_DROPPED drop
  }
}
EOF
udps_at_least() {
  (($(ip netns exec "$LAB_NS_TARGET" nft list counter netdev gh_resume_udp udps |
    awk '/packets/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }') >= $1))
}
# The responder answers from the address each datagram was sent to (IP_PKTINFO), as a daemon
# bound to that address would.
ip netns exec "$LAB_NS_TARGET" python3 - "$U_OPEN" >"$LAB_WORK/g-responder.out" 2>&1 <<'EOF' &
import socket, struct, sys
IP_PKTINFO = 8
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
while True:
    data, anc, _, peer = s.recvmsg(2048, 256)
    for level, kind, info in anc:
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
            _, _, dst = struct.unpack("=I4s4s", info[:12])
            s.sendmsg([b"glasshouse lab\n"], [(socket.IPPROTO_IP, IP_PKTINFO, struct.pack("=I4s4s", 0, dst, bytes(4)))], 0, peer)
EOF
LAB_PIDS+=("$!")
sleep 0.3
OUT_G=$LAB_WORK/g.jsonl
FILE_G=$CKDIR/g.resume
G_ARGS=(-sS -sU -p "T:$PORTS,U:$U_OPEN,$U_CLOSED,$U_DROPPED" --show all -n --max-rate 800
  --max-retries 2 --seed "$LAB_SEED" --no-status --audit-log "$AUDIT" -oJ "$OUT_G"
  -oN "$LAB_WORK/g.txt" --checkpoint "$FILE_G")
reset_counters
ip netns exec "$LAB_NS_TARGET" nft reset counters table netdev gh_resume_udp >/dev/null
start_scan g-first "${G_ARGS[@]}" "$NET_G"
wait_until 30 udps_at_least $((ADDRS_G * 3 / 3)) ||
  lab_failed "g: the scan ended or stalled before its UDP stage was under way"
stop_scan g-first INT
[[ $STOP_RC -eq 130 ]] || lab_failed "g: exit status $STOP_RC after SIGINT, expected 130"
[[ $(paused_file g-first) == "$FILE_G" ]] || lab_failed "g: did not pause into $FILE_G"
reset_counters
resume_to_end g-second "$FILE_G"
grep -Eq '^glasshouse: note: resuming run [0-9a-f]{16} .*port stage 2 of 2 \(udp\)' "$LAB_WORK/g-second.stderr" ||
  lab_failed "g: the checkpoint was not taken in the UDP stage: $(grep note: "$LAB_WORK/g-second.stderr" || true)"
(($(counter syns) == 0)) || lab_failed "g: the resumed run sent $(counter syns) SYNs: the TCP stage had finished"
python3 - "$OUT_G" "$ADDRS_G" "${OPEN[*]}" "${CLOSED[*]}" "${DROPPED[*]}" "$U_OPEN" "$U_CLOSED" "$U_DROPPED" <<'EOF' ||
import ipaddress, json, sys
path, n = sys.argv[1], int(sys.argv[2])
want_states = {}
for ports, proto, state in [(sys.argv[3], "tcp", "open"), (sys.argv[4], "tcp", "closed"),
                            (sys.argv[5], "tcp", "filtered"), (sys.argv[6], "udp", "open"),
                            (sys.argv[7], "udp", "closed"), (sys.argv[8], "udp", "open|filtered")]:
    for p in ports.split():
        want_states[(proto, int(p))] = state
base = ipaddress.ip_address("198.19.0.0")
want = {(str(base + i), proto, port): st for i in range(n) for (proto, port), st in want_states.items()}
recs = [json.loads(l) for l in open(path)]
types = [r["type"] for r in recs]
errors = []
if types[0] != "scan" or types.count("scan") != 1 or types.count("resume") != 1 or types[-1] != "summary" or types.count("summary") != 1:
    errors.append(f"records: {types.count('scan')} scan, {types.count('resume')} resume, {types.count('summary')} summary, last {types[-1]}")
if recs[0].get("scan_types") != ["syn", "udp"]:
    errors.append(f"header scan_types {recs[0].get('scan_types')}")
got = {}
for r in recs:
    if r["type"] == "port":
        k = (r["ip"], r["proto"], r["port"])
        if k in got:
            errors.append(f"{k} twice")
        got[k] = r["state"]
missing = sorted(set(want) - set(got))
extra = sorted(set(got) - set(want))
wrong = sorted(k for k in set(want) & set(got) if want[k] != got[k])
if missing: errors.append(f"{len(missing)} missing, e.g. {missing[:3]}")
if extra: errors.append(f"{len(extra)} unexpected, e.g. {extra[:3]}")
if wrong: errors.append(f"{len(wrong)} wrong states, e.g. {[(k, got[k], want[k]) for k in wrong[:3]]}")
print(f"  {path}: {len(got)} port records, expected {len(want)}")
for e in errors[:8]:
    print("  " + e)
sys.exit(1 if errors else 0)
EOF
  lab_failed "g: the interrupted and resumed -Pn -sS -sU scan is not exactly the lab's ports (LAB_SEED=$LAB_SEED)"
got_tcp=$(grep -cE '^[0-9]+/tcp +open ' "$LAB_WORK/g.txt" || true)
got_udp=$(grep -cE "^$U_OPEN/udp +open " "$LAB_WORK/g.txt" || true)
((got_tcp == ADDRS_G * ${#OPEN[@]} && got_udp == ADDRS_G)) ||
  lab_failed "g: -oN lists $got_tcp open TCP and $got_udp open UDP ports, expected $((ADDRS_G * ${#OPEN[@]})) and $ADDRS_G"

# --- (h) -sU from a pool of source addresses (-S): SIGINT, resume -------------------------------
# The answered and the closed UDP port of (g) on the same 128 addresses (the dropped one's silent
# retries would only add time), -sU alone, from eight more scanner addresses
# (scan/source_pool.h), paused once a third of the first pass is out. The resumed run
# (its options read back from the resume file) sends from the pool only: the target's nft set of
# UDP sources, emptied at the pause, holds pool addresses only (never the primary), and its audit
# start record names the pool; the -oJ holds each (ip, port) once in the expected state.
for i in $(seq 40 47); do ip -n "$LAB_NS_SCAN" addr add "198.18.0.$i/24" dev "$LAB_IF_SCAN"; done
POOL_H=198.18.0.40-198.18.0.47
ip netns exec "$LAB_NS_TARGET" nft -f - <<EOF || lab_fail "h: nft source set in the target namespace"
table inet gh_resume_pool {
  set src { type ipv4_addr; flags dynamic; }
  chain pre {
    type filter hook prerouting priority -300; policy accept;
    udp dport { $U_OPEN, $U_CLOSED } add @src { ip saddr }
  }
}
EOF
pool_sources() {
  ip netns exec "$LAB_NS_TARGET" nft list set inet gh_resume_pool src | grep -oE '198\.18\.[0-9]+\.[0-9]+' | sort -u || true
}
OUT_H=$LAB_WORK/h.jsonl
FILE_H=$CKDIR/h.resume
ip netns exec "$LAB_NS_TARGET" nft reset counters table netdev gh_resume_udp >/dev/null
start_scan h-first -sU -S "$POOL_H" -p "$U_OPEN,$U_CLOSED" --show all -n --max-rate 400 \
  --max-retries 2 --seed "$LAB_SEED" --no-status --audit-log "$AUDIT" -oJ "$OUT_H" \
  --checkpoint "$FILE_H" "$NET_G"
wait_until 30 udps_at_least $((ADDRS_G * 2 / 3)) || lab_failed "h: the scan ended or stalled before a third of its datagrams"
stop_scan h-first INT
[[ $STOP_RC -eq 130 ]] || lab_failed "h: exit status $STOP_RC after SIGINT, expected 130"
[[ $(paused_file h-first) == "$FILE_H" ]] || lab_failed "h: did not pause into $FILE_H"
first_seen=$(pool_sources | paste -sd,)
ip netns exec "$LAB_NS_TARGET" nft flush set inet gh_resume_pool src
resume_to_end h-second "$FILE_H"
seen=$(pool_sources)
lab_log "h: sources before the pause $first_seen; after $(paste -sd, <<<"$seen")"
[[ -n $seen && $(grep -cvE '^198\.18\.0\.4[0-7]$' <<<"$seen") -eq 0 && $(wc -l <<<"$seen") -ge 6 ]] ||
  lab_failed "h: the resumed run sent from $(paste -sd, <<<"$seen"), expected pool addresses only"
grep '"event":"start"' "$AUDIT" | tail -n 1 | grep '"resumes":' |
  grep -q '"source_ips":"198.18.0.40,198.18.0.41,198.18.0.42,198.18.0.43,198.18.0.44,198.18.0.45,198.18.0.46,198.18.0.47"' ||
  lab_failed "h: the resumed run's audit start record does not name the pool"
python3 - "$OUT_H" "$ADDRS_G" "$U_OPEN" "$U_CLOSED" <<'EOF' ||
import ipaddress, json, sys
path, n, op, cl = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
base = ipaddress.ip_address("198.19.0.0")
want = {(str(base + i), p): s for i in range(n) for p, s in ((op, "open"), (cl, "closed"))}
recs = [json.loads(l) for l in open(path)]
types = [r["type"] for r in recs]
errors = []
if types[0] != "scan" or types.count("resume") != 1 or types[-1] != "summary" or types.count("summary") != 1:
    errors.append(f"records: {types.count('scan')} scan, {types.count('resume')} resume, {types.count('summary')} summary")
got = {}
for r in recs:
    if r["type"] == "port":
        k = (r["ip"], r["port"])
        if k in got or r["proto"] != "udp":
            errors.append(f"{k}/{r['proto']} twice or not udp")
        got[k] = r["state"]
if got != want:
    diff = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
    errors.append(f"{len(diff)} differ, e.g. {[(k, got.get(k), want.get(k)) for k in diff[:3]]}")
print(f"  {path}: {len(got)} port records, expected {len(want)}")
for e in errors[:8]:
    print("  " + e)
sys.exit(1 if errors else 0)
EOF
  lab_failed "h: the interrupted and resumed -sU -S scan is not exactly the lab's ports (LAB_SEED=$LAB_SEED)"
ip netns exec "$LAB_NS_TARGET" nft delete table inet gh_resume_pool
for i in $(seq 40 47); do ip -n "$LAB_NS_SCAN" addr del "198.18.0.$i/24" dev "$LAB_IF_SCAN"; done
ip netns exec "$LAB_NS_TARGET" nft delete table inet gh_resume_udp_drop

# --- (d) errors -------------------------------------------------------------------------------
# expect_usage_error NAME PATTERN ARGS...: exit 2, one stderr line matching PATTERN, no SYN sent.
expect_usage_error() {
  local name=$1 pattern=$2 err lines
  shift 2
  reset_counters
  if ! LAB_EXPECT_RC=2 lab_scan "$LAB_NS_SCAN" "$name" "$@"; then
    lab_failed "$name: expected exit 2"
  fi
  err=$LAB_WORK/$name.stderr
  lines=$(wc -l <"$err")
  if [[ $lines -ne 1 ]] || ! grep -Eq -- "$pattern" "$err"; then
    lab_show_tail "$err" "$name stderr"
    lab_failed "$name: expected one stderr line matching /$pattern/, got $lines line(s)"
  fi
  if (($(counter syns) != 0)); then
    lab_failed "$name: $(counter syns) SYNs sent by a refused run"
  fi
}
SAVED=$LAB_WORK/b-saved.resume
python3 - "$SAVED" "$LAB_WORK/damaged.resume" "$LAB_WORK/truncated.resume" <<'EOF'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
damaged = bytearray(data)
damaged[len(data) // 2] ^= 0x10
open(sys.argv[2], "wb").write(damaged)
open(sys.argv[3], "wb").write(data[: len(data) - 100])
EOF
expect_usage_error d-damaged "damaged" --resume "$LAB_WORK/damaged.resume"
expect_usage_error d-truncated "truncated" --resume "$LAB_WORK/truncated.resume"
expect_usage_error d-foreign "not a glasshouse resume file" --resume "$LAB_WORK/reference.jsonl"
expect_usage_error d-missing "cannot read resume file" --resume "$LAB_WORK/no-such.resume"
expect_usage_error d-extra-option "takes no other option" --resume "$SAVED" -p 80
expect_usage_error d-extra-before "takes no other option" -sS --resume "$SAVED"
mkdir -m 700 "$LAB_WORK/root-only"
expect_usage_error d-unwritable "root-only.*nobody" "${COMMON[@]}" --checkpoint "$LAB_WORK/root-only/x.resume" "$NET"
expect_usage_error d-connect "-sT scan is not checkpointed" -sT -p "$PORTS" --checkpoint "$CKDIR/t.resume" "$NET"
# A fresh scan must not overwrite a paused scan's file.
cp "$SAVED" "$CKDIR/paused.resume"
expect_usage_error d-exists "exists already" "${COMMON[@]}" --checkpoint "$CKDIR/paused.resume" "$NET"

# An --excludefile edited while the scan is paused: the targets changed, the resume is refused
# and touches nothing; with the file restored, it completes.
EXCLUDE=$LAB_WORK/exclude.txt
echo 198.19.3.0/24 >"$EXCLUDE"
reset_counters
OUT_F=$LAB_WORK/f.jsonl
FILE_F=$CKDIR/f.resume
start_scan f-first "${COMMON[@]}" -oJ "$OUT_F" --checkpoint "$FILE_F" --excludefile "$EXCLUDE" "$NET"
wait_until 30 syns_at_least $((PROBES / 8)) || lab_failed "f: the scan ended or stalled early"
stop_scan f-first INT
[[ -f $FILE_F ]] || lab_fail "f: no resume file after SIGINT"
SUM_BEFORE=$(sha256sum "$FILE_F" "$OUT_F")
echo 198.19.2.0/24 >"$EXCLUDE"
expect_usage_error f-changed "targets" --resume "$FILE_F"
[[ $(sha256sum "$FILE_F" "$OUT_F") == "$SUM_BEFORE" ]] || lab_failed "f: a refused resume changed the resume file or the -oJ"
echo 198.19.3.0/24 >"$EXCLUDE"
resume_to_end f-second "$FILE_F"
python3 - "$OUT_F" <<'EOF' || lab_failed "f: results of the resumed scan with an --excludefile"
import json, sys
seen, bad = set(), []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("type") != "port":
        continue
    key = (r["ip"], r["port"])
    if key in seen:
        bad.append(f"{key} twice")
    seen.add(key)
    if r["ip"].startswith("198.19.3."):
        bad.append(f"{key}: an excluded address")
if len(seen) != 768 * 6:
    bad.append(f"{len(seen)} results, expected {768 * 6}")
print("\n".join(bad[:5]) or f"  {len(seen)} results, none excluded, none twice")
sys.exit(1 if bad else 0)
EOF

lab_finish
