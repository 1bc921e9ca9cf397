#!/usr/bin/env bash
# Scope of authorization, end to end: a scope whose include and exclude carve a /16, scanned with
# and without --clip-to-scope, every SYN captured at the target and checked to lie inside the
# scope; the refused cases (outside the scope, outside the window, a malformed scope file, an
# unwritable audit log) send nothing; every run is in the audit log, whose chain verifies, and
# an edit to it is caught.
#
# The target namespace answers for all of 198.19.0.0/16 (a local route), and the scanner routes
# the /16 to it. The scope includes the /16 and excludes 198.19.128.0/17, 198.19.64.0/18 and
# 198.19.5.0/24, leaving 16,128 addresses; ports 80 and 443, closed (RST), so no retries.
# Two witnesses at the target: nft counters in the ingress path (lossless: SYNs to addresses
# outside the scope, and all SYNs), and a tcpdump capture listing every (address, port) probed.
#
#   bash tests/lab/test_scope_carve.sh /path/to/glasshouse     (LAB_SEED=N to repeat a run)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SWEEP=198.19.0.0/16
EXCLUDE=(198.19.128.0/17 198.19.64.0/18 198.19.5.0/24)
PORTS=80,443

lab_require_root
lab_require_cmd nft tcpdump
lab_init "$@"
lab_create
lab_local_block "$SWEEP"

# The authorized blocks (include minus exclude), for nft and the checks.
read -ra AUTHORIZED <<<"$(python3 - "$SWEEP" "${EXCLUDE[@]}" <<'EOF'
import ipaddress, sys
blocks = [ipaddress.ip_network(sys.argv[1])]
for ex in map(ipaddress.ip_network, sys.argv[2:]):
    out = []
    for b in blocks:
        out.extend(b.address_exclude(ex) if ex.subnet_of(b) else ([] if b.subnet_of(ex) else [b]))
    blocks = out
print(" ".join(str(b) for b in sorted(blocks)))
EOF
)"
lab_log "authorized blocks: ${AUTHORIZED[*]}"

# Lossless witnesses: count SYNs at the target's ingress, inside and outside the scope.
ip netns exec "$LAB_NS_TARGET" nft -f - <<EOF || lab_fail "nft counters could not be loaded"
table inet gh_scope {
  set authorized {
    type ipv4_addr
    flags interval
    elements = { $(lab_join ', ' "${AUTHORIZED[@]}") }
  }
  counter syn_in_scope {}
  counter syn_out_of_scope {}
  chain pre {
    type filter hook prerouting priority raw; policy accept;
    iifname "$LAB_IF_TARGET" tcp flags & (syn | ack) == syn ip daddr @authorized counter name syn_in_scope
    iifname "$LAB_IF_TARGET" tcp flags & (syn | ack) == syn ip daddr != @authorized counter name syn_out_of_scope
    iifname "$LAB_IF_TARGET" tcp flags & (syn | ack) == syn ip6 daddr != :: counter name syn_out_of_scope
  }
}
EOF
# syn_count NAME: packets counted by counter NAME so far.
syn_count() {
  ip netns exec "$LAB_NS_TARGET" nft -j list counter inet gh_scope "$1" |
    python3 -c 'import json,sys; print([o for o in json.load(sys.stdin)["nftables"] if "counter" in o][0]["counter"]["packets"])'
}

# Every SYN arriving at the target, for the per-address check (started once, stopped at the end).
CAP="$LAB_WORK/target-syn.pcap"
lab_ns_prefix "$LAB_NS_TARGET"
"${LAB_PREFIX[@]}" tcpdump -i "$LAB_IF_TARGET" -Q in -nn -B 65536 --immediate-mode -U -w "$CAP" \
  'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn' 2>"$LAB_WORK/tcpdump.err" &
TCPDUMP_PID=$!
LAB_PIDS+=("$TCPDUMP_PID")
for _ in $(seq 100); do
  grep -q 'listening on' "$LAB_WORK/tcpdump.err" 2>/dev/null && break
  kill -0 "$TCPDUMP_PID" 2>/dev/null || lab_fail "tcpdump died: $(cat "$LAB_WORK/tcpdump.err")"
  sleep 0.1
done

AUDIT="$LAB_WORK/audit.jsonl"
SCOPE="$LAB_WORK/acme.toml"
cat >"$SCOPE" <<EOF
[engagement]
id = "LAB-SCOPE-$LAB_SEED"
authorized_by = "Lab owner, glasshouse CI"
contact = "ci@lab.example"
not_before = 2020-01-01T00:00:00Z
not_after  = 2199-12-31T23:59:59Z
[targets]
include = ["$SWEEP"]
exclude = [$(printf '"%s", ' "${EXCLUDE[@]}" | sed 's/, $//')]
ports = "$PORTS"
[limits]
max_rate = 20000
max_host_rate = 100
EOF

SCAN_ARGS=(-sS -p "$PORTS" -n -T4 --max-retries 1 --initial-rtt-timeout 500ms --seed "$LAB_SEED"
  --audit-log "$AUDIT" --scope "$SCOPE")

# expect_refused NAME RC NEEDLE ARGS...: the scan exits RC with NEEDLE on stderr, and the target
# saw no SYN at all meanwhile.
expect_refused() {
  local name=$1 rc=$2 needle=$3 before after
  shift 3
  before=$(( $(syn_count syn_in_scope) + $(syn_count syn_out_of_scope) ))
  LAB_EXPECT_RC=$rc lab_scan "$LAB_NS_SCAN" "$name" "$@" || { lab_failed "$name: wrong exit status"; return 0; }
  grep -Fq -- "$needle" "$LAB_WORK/$name.stderr" ||
    lab_failed "$name: stderr does not say \"$needle\": $(cat "$LAB_WORK/$name.stderr")"
  sleep 0.3
  after=$(( $(syn_count syn_in_scope) + $(syn_count syn_out_of_scope) ))
  ((after == before)) || lab_failed "$name: $((after - before)) SYN(s) reached the target; a refused scan must send nothing"
}

# 1. The whole /16 without --clip-to-scope: refused, naming how many are out and the first few.
expect_refused refused-scope 2 "49,408 of 65,536 targets are outside the scope" "${SCAN_ARGS[@]}" "$SWEEP"
grep -Fq "198.19.5.0/24" "$LAB_WORK/refused-scope.stderr" ||
  lab_failed "refused-scope: the first out-of-scope range is not named"
# A port outside the scope, named explicitly.
expect_refused refused-port 2 "port 22 is outside the scope's ports" -sS -p 22,80 -n \
  --audit-log "$AUDIT" --scope "$SCOPE" 198.19.0.1

# 2. The same with --clip-to-scope: only the intersection is scanned.
OUT="$LAB_WORK/clip.jsonl"
if lab_scan "$LAB_NS_SCAN" clip "${SCAN_ARGS[@]}" --clip-to-scope --show all -oJ "$OUT" \
    -oN "$LAB_WORK/clip.txt" "$SWEEP"; then
  grep -Fq -- "--clip-to-scope: left out 49,408 targets" "$LAB_WORK/clip.stderr" ||
    lab_failed "clip: no note saying what was left out"
  lab_check_jsonl "$OUT" "" "" "$PORTS" "$(lab_join , "${AUTHORIZED[@]}")" ||
    lab_failed "clip: the results are not exactly the authorized addresses x ports, all closed"
  python3 - "$OUT" "LAB-SCOPE-$LAB_SEED" <<'EOF' || lab_failed "clip: JSON Lines records without the engagement id"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
bad = [r for r in recs if r.get("engagement") != sys.argv[2]]
if bad or not recs:
    print(f"{len(bad)} of {len(recs)} records lack engagement {sys.argv[2]}: {bad[:2]}", file=sys.stderr)
    sys.exit(1)
EOF
else
  lab_failed "clip: scan failed (LAB_SEED=$LAB_SEED)"
fi

# 3. Refused before a packet: outside the window, a malformed scope, an unwritable audit log.
sed -e 's/^not_before = .*/not_before = 2020-01-01T00:00:00Z/' -e 's/^not_after  = .*/not_after = 2021-01-01T00:00:00Z/' \
  "$SCOPE" >"$LAB_WORK/expired.toml"
expect_refused refused-window 2 "2020-01-01T00:00:00Z to 2021-01-01T00:00:00Z" -sS -p "$PORTS" -n \
  --audit-log "$AUDIT" --scope "$LAB_WORK/expired.toml" 198.19.0.1
sed 's/^ports = .*/ports = "80,http-but-not-a-port"/' "$SCOPE" >"$LAB_WORK/malformed.toml"
expect_refused refused-malformed 2 "malformed.toml:$(grep -n '^ports' "$LAB_WORK/malformed.toml" | cut -d: -f1)" \
  -sS -p "$PORTS" -n --audit-log "$AUDIT" --scope "$LAB_WORK/malformed.toml" 198.19.0.1
expect_refused refused-audit 1 "audit log" -sS -p "$PORTS" -n --audit-log /proc/version/audit.jsonl \
  --scope "$SCOPE" 198.19.0.1
expect_refused refused-devnull 1 "not a regular file" -sS -p "$PORTS" -n --audit-log /dev/null \
  --scope "$SCOPE" 198.19.0.1

# 4. Every SYN the target received was inside the scope, and each authorized (address, port) got
#    exactly the probes the scan reports.
sleep 0.5
kill -INT "$TCPDUMP_PID" 2>/dev/null || true
wait "$TCPDUMP_PID" 2>/dev/null || true
IN=$(syn_count syn_in_scope)
OUTSIDE=$(syn_count syn_out_of_scope)
lab_log "SYNs at the target: $IN inside the scope, $OUTSIDE outside"
((OUTSIDE == 0)) || lab_failed "$OUTSIDE SYN(s) reached addresses outside the scope"
((IN >= 16128 * 2)) || lab_failed "only $IN SYNs inside the scope; expected at least $((16128 * 2))"
grep -Eq '^0 packets dropped by kernel' "$LAB_WORK/tcpdump.err" ||
  lab_failed "tcpdump dropped packets: $(tail -3 "$LAB_WORK/tcpdump.err")"
python3 - "$CAP" "$IN" "$PORTS" "${AUTHORIZED[@]}" <<'EOF' || lab_failed "the capture at the target does not match the scope"
import ipaddress, struct, sys
path, expected_count, ports = sys.argv[1], int(sys.argv[2]), {int(p) for p in sys.argv[3].split(",")}
blocks = [ipaddress.ip_network(b) for b in sys.argv[4:]]
data = open(path, "rb").read()
magic = struct.unpack_from("<I", data)[0]
endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
linktype = struct.unpack_from(endian + "I", data, 20)[0]
assert linktype == 1, f"link type {linktype}"
off, seen, outside, total = 24, set(), [], 0
while off + 16 <= len(data):
    _, _, incl, _ = struct.unpack_from(endian + "IIII", data, off)
    frame = data[off + 16: off + 16 + incl]
    off += 16 + incl
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        continue
    ihl = (frame[14] & 15) * 4
    dst = ipaddress.ip_address(frame[30:34])
    dport = struct.unpack_from("!H", frame, 14 + ihl + 2)[0]
    total += 1
    if not any(dst in b for b in blocks) or dport not in ports:
        outside.append((str(dst), dport))
    seen.add((int(dst), dport))
want = sum(b.num_addresses for b in blocks) * len(ports)
print(f"captured {total} SYNs, {len(seen)} distinct (address, port), {want} authorized")
if outside:
    sys.exit(f"{len(outside)} SYNs outside the scope, e.g. {outside[:5]}")
if total != expected_count:
    sys.exit(f"the capture holds {total} SYNs, the kernel counted {expected_count}")
if len(seen) != want:
    sys.exit(f"{want - len(seen)} authorized (address, port) pairs were never probed")
EOF

# 5. The audit log: every run is there, the chain verifies, and an edit is caught.
if "$GH" audit verify "$AUDIT" >"$LAB_WORK/verify.out"; then
  lab_log "$(cat "$LAB_WORK/verify.out")"
else
  lab_failed "audit verify failed: $(cat "$LAB_WORK/verify.out")"
fi
python3 - "$AUDIT" "LAB-SCOPE-$LAB_SEED" <<'EOF' || lab_failed "the audit log does not record the runs as expected"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
events = [r["event"] for r in recs]
# refused-scope, refused-port, clip (start, end), refused-window, refused-malformed;
# the unwritable audit logs cannot be in it.
want = ["refused", "refused", "start", "end", "refused", "refused"]
if events != want:
    sys.exit(f"events {events}, expected {want}")
end = recs[3]
for key, val in (("engagement", sys.argv[2]), ("exit", "done"), ("status", 0), ("open_ports", 0)):
    if end.get(key) != val:
        sys.exit(f"end record: {key} = {end.get(key)!r}, expected {val!r}")
if end["targets"] != 16128 or end["ports"] != 2 or end["probes_sent"] < 32256:
    sys.exit(f"end record counts: {end}")
if not end["privileges"].startswith("dropped to nobody"):
    sys.exit(f"privileges: {end['privileges']}")
files = {o["file"].rsplit("/", 1)[-1]: o["sha256"] for o in end["outputs"]}
import hashlib, os
d = os.path.dirname(sys.argv[1])
for name in ("clip.jsonl", "clip.txt"):
    real = hashlib.sha256(open(os.path.join(d, name), "rb").read()).hexdigest()
    if files.get(name) != real:
        sys.exit(f"{name}: audit says {files.get(name)}, file is {real}")
for r in recs:
    if r["event"] == "refused" and r.get("status") != 2:
        sys.exit(f"refused record with status {r.get('status')}")
if "malformed scope file" not in recs[5]["exit"] or "window" not in recs[4]["exit"]:
    sys.exit("refusal reasons not recorded")
EOF
"$GH" audit show "$AUDIT" >"$LAB_WORK/show.out" || lab_failed "audit show failed"
grep -q "LAB-SCOPE-$LAB_SEED" "$LAB_WORK/show.out" || lab_failed "audit show does not list the engagement"
sed -i '4s/"probes_sent":[0-9]*/"probes_sent":1/' "$AUDIT"
if "$GH" audit verify "$AUDIT" >"$LAB_WORK/verify-tampered.out"; then
  lab_failed "audit verify accepted an edited log"
else
  grep -q "line 4" "$LAB_WORK/verify-tampered.out" ||
    lab_failed "audit verify did not name line 4: $(cat "$LAB_WORK/verify-tampered.out")"
fi
lab_finish
