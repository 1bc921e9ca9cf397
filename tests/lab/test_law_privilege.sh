#!/usr/bin/env bash
# Least privilege, exclusions and the audit log around real scans.
#
#  1. -sT and -sL as an ordinary user (nobody): no root needed; the audit log goes to the default
#     place under $HOME/.local/state; -sL says how many addresses the default exclusions and the
#     system exclude file (GLASSHOUSE_EXCLUDE_CONF) skipped.
#  2. -sS as nobody without capabilities: refused (exit 1), and the refusal is in the audit log.
#  3. -sS as nobody with a copy of the binary given cap_net_raw,cap_net_admin: the scan works, and
#     the audit record says every capability was dropped (a SKIP-PART without setcap, or on a
#     nosuid filesystem: CI fails on it).
#  4. A root SYN scan of 198.19.0.0/30 with a system exclude file naming 198.19.0.1: no SYN
#     reaches .1 (nft counter at the target), and .1 is in no output.
#  5. Four scans at once append to one audit log: the chain stays intact.
#
#   bash tests/lab/test_law_privilege.sh /path/to/glasshouse     (LAB_SEED=N to repeat a run)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SMALL=198.19.0.0/30

lab_require_root
lab_require_cmd nft setpriv
lab_init "$@"
# The checkout may sit in a directory only root can enter (mktemp -d makes 0700 ones): the binary
# given to a lab test is copied where nobody can run it. Proven here from such a directory.
PRIVATE_CHECKOUT=$(mktemp -d "$LAB_WORK/private-checkout-XXXXXX")
[[ $(stat -c %a "$PRIVATE_CHECKOUT") == 700 ]] || lab_fail "mktemp -d did not make a 0700 directory"
mkdir -p "$PRIVATE_CHECKOUT/build"
cp "$GH" "$PRIVATE_CHECKOUT/build/glasshouse"
lab_install_binary "$PRIVATE_CHECKOUT/build/glasshouse"
setpriv --reuid=65534 --regid=65534 --clear-groups "$GH" --version >/dev/null ||
  lab_fail "nobody cannot run the lab's copy of a binary that sat in a 0700 directory"
lab_create
lab_local_block "$SMALL"
read -ra OPEN <<<"$(random_ports 3 "$LAB_SEED")"
PORTS=$(lab_join , "${OPEN[@]}")
lab_listen "${OPEN[@]}"

# A place nobody may write to, inside the (root-only) work directory.
chmod 711 "$LAB_WORK"
NOBODY_HOME="$LAB_WORK/nobody-home"
mkdir -p "$NOBODY_HOME"
chown 65534:65534 "$NOBODY_HOME"
NOBODY_AUDIT="$NOBODY_HOME/.local/state/glasshouse/audit.jsonl"
EXCLUDE_CONF="$LAB_WORK/exclude.conf"
printf '# lab: never probe these\n198.18.0.3\n198.19.0.1  # the router\n' >"$EXCLUDE_CONF"
chmod 644 "$EXCLUDE_CONF"
export GLASSHOUSE_EXCLUDE_CONF="$EXCLUDE_CONF"

# as_nobody BINARY: a wrapper script that runs BINARY as nobody, with HOME in the work dir.
as_nobody() {
  local wrapper
  wrapper="$LAB_WORK/as-nobody-$(basename "$(dirname "$1")")"
  cat >"$wrapper" <<EOF
#!/bin/sh
exec setpriv --reuid=65534 --regid=65534 --clear-groups env -u XDG_STATE_HOME -u XDG_DATA_HOME -u GLASSHOUSE_DB HOME="$NOBODY_HOME" "$1" "\$@"
EOF
  chmod 755 "$wrapper"
  printf '%s' "$wrapper"
}
REAL_GH=$GH

# 1. -sT and -sL as nobody.
GH=$(as_nobody "$REAL_GH")
OUT="$LAB_WORK/nobody-st.jsonl"
touch "$OUT" && chown 65534:65534 "$OUT"
lab_scan "$LAB_NS_SCAN" nobody-sT -sT -p "$PORTS" -n --seed "$LAB_SEED" -oJ "$OUT" "$LAB_V4_TARGET" ||
  lab_failed "nobody-sT: a connect scan as nobody failed"
lab_check_jsonl "$OUT" "$PORTS" "" "$PORTS" "$LAB_V4_TARGET" || lab_failed "nobody-sT: wrong results"
[[ -f $NOBODY_AUDIT ]] || lab_failed "nobody-sT: no audit log at the default place $NOBODY_AUDIT"
lab_scan "$LAB_NS_SCAN" nobody-sL -sL -n 198.18.0.0/30 224.0.0.1 255.255.255.255 ||
  lab_failed "nobody-sL: a list scan as nobody failed"
LISTED=$(grep -c '^Glasshouse scan report for' "$LAB_WORK/nobody-sL.stdout" || true)
((LISTED == 3)) || lab_failed "nobody-sL: $LISTED addresses listed, expected 3 (198.18.0.0-2)"
grep -Fq "skipped 3 addresses: 2 by the default exclusions" "$LAB_WORK/nobody-sL.stdout" ||
  lab_failed "nobody-sL: -sL does not say what the default exclusions skipped: $(tail -2 "$LAB_WORK/nobody-sL.stdout")"
grep -Fq "1 by $EXCLUDE_CONF" "$LAB_WORK/nobody-sL.stdout" ||
  lab_failed "nobody-sL: -sL does not say what the system exclude file skipped"

# 2. -sS as nobody without capabilities: refused, and recorded.
LAB_EXPECT_RC=1 lab_scan "$LAB_NS_SCAN" nobody-sS -sS -p "$PORTS" -n "$LAB_V4_TARGET" ||
  lab_failed "nobody-sS: expected exit 1"
grep -Fq "needs raw sockets" "$LAB_WORK/nobody-sS.stderr" || lab_failed "nobody-sS: no explanation"
python3 - "$NOBODY_AUDIT" <<'EOF' || lab_failed "the audit log of nobody's runs is not as expected"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
events = [r["event"] for r in recs]
if events != ["start", "end", "start", "end", "refused"]:
    sys.exit(f"events: {events}")
if any(r["user"] != "nobody" for r in recs):
    sys.exit("operator is not nobody")
if recs[1]["privileges"] != "running as nobody (uid 65534), no capabilities, no_new_privs":
    sys.exit(f"privileges: {recs[1]['privileges']}")
if recs[2]["excluded"] != 3 or recs[4]["status"] != 1:
    sys.exit(f"records: {recs[2]}, {recs[4]}")
EOF
"$REAL_GH" audit verify "$NOBODY_AUDIT" >/dev/null || lab_failed "nobody's audit log does not verify"

# 3. -sS as nobody through file capabilities.
if ! command -v setcap >/dev/null 2>&1; then
  lab_skip_part "part 3: setcap is not installed (libcap2-bin)"
elif findmnt -no OPTIONS -T "$LAB_WORK" | grep -qw nosuid; then
  lab_skip_part "part 3: the work directory is on a nosuid filesystem (file capabilities are ignored there)"
else
  mkdir -p "$LAB_WORK/capbin"
  cp "$REAL_GH" "$LAB_WORK/capbin/glasshouse"
  chmod 755 "$LAB_WORK/capbin" "$LAB_WORK/capbin/glasshouse"
  setcap cap_net_raw,cap_net_admin+eip "$LAB_WORK/capbin/glasshouse" || lab_fail "setcap failed"
  GH=$(as_nobody "$LAB_WORK/capbin/glasshouse")
  OUT="$LAB_WORK/nobody-caps.jsonl"
  touch "$OUT" && chown 65534:65534 "$OUT"
  if lab_scan "$LAB_NS_SCAN" nobody-caps -sS -p "$PORTS" -n --seed "$LAB_SEED" -oJ "$OUT" "$LAB_V4_TARGET"; then
    lab_check_jsonl "$OUT" "$PORTS" "" "$PORTS" "$LAB_V4_TARGET" || lab_failed "nobody-caps: wrong results"
    tail -n 1 "$NOBODY_AUDIT" | grep -Fq '"privileges":"running as nobody (uid 65534), no capabilities, no_new_privs"' ||
      lab_failed "nobody-caps: the audit record does not show the capabilities dropped: $(tail -n 1 "$NOBODY_AUDIT")"
  else
    lab_failed "nobody-caps: -sS as nobody with file capabilities failed"
  fi
fi
GH=$REAL_GH

# 4. The system exclude file holds for a root SYN scan: nothing reaches 198.19.0.1.
ip netns exec "$LAB_NS_TARGET" nft -f - <<EOF || lab_fail "nft counter could not be loaded"
table inet gh_excl {
  counter syn_excluded {}
  chain pre {
    type filter hook prerouting priority raw; policy accept;
    tcp flags & (syn | ack) == syn ip daddr 198.19.0.1 counter name syn_excluded
  }
}
EOF
AUDIT="$LAB_WORK/audit.jsonl"
OUT="$LAB_WORK/excluded.jsonl"
lab_scan "$LAB_NS_SCAN" excluded -sS -p "$PORTS" -n --seed "$LAB_SEED" --show all -oJ "$OUT" \
  --audit-log "$AUDIT" "$SMALL" || lab_failed "excluded: scan failed"
grep -Fq "skipped 1 address: 1 by $EXCLUDE_CONF" "$LAB_WORK/excluded.stderr" ||
  lab_failed "excluded: no note about the skipped address: $(cat "$LAB_WORK/excluded.stderr")"
lab_check_jsonl "$OUT" "$PORTS" "" "$PORTS" "198.19.0.0,198.19.0.2,198.19.0.3" ||
  lab_failed "excluded: results are not exactly the three addresses left"
HITS=$(ip netns exec "$LAB_NS_TARGET" nft -j list counter inet gh_excl syn_excluded |
  python3 -c 'import json,sys; print([o for o in json.load(sys.stdin)["nftables"] if "counter" in o][0]["counter"]["packets"])')
((HITS == 0)) || lab_failed "excluded: $HITS SYN(s) reached 198.19.0.1, which the exclude file names"

# 5. Concurrent scans, one audit log.
PIDS=()
for i in 1 2 3 4; do
  lab_scan "$LAB_NS_SCAN" "concurrent-$i" -sT -p "$PORTS" -n --audit-log "$AUDIT" "$LAB_V4_TARGET" &
  PIDS+=($!)
done
for pid in "${PIDS[@]}"; do
  wait "$pid" || lab_failed "concurrent: a scan failed"
done
if "$GH" audit verify "$AUDIT" >"$LAB_WORK/verify.out"; then
  grep -q ": 10 records, chain intact" "$LAB_WORK/verify.out" ||
    lab_failed "concurrent: expected 10 records: $(cat "$LAB_WORK/verify.out")"
else
  lab_failed "concurrent: the audit log does not verify: $(cat "$LAB_WORK/verify.out")"
fi
lab_finish
