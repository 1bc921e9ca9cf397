#!/usr/bin/env bash
# Signed scopes, end to end (docs/AUTHORIZATION.md): `glasshouse scope keygen/sign/verify`, and a
# -sS scan that checks the owner's signature. A scope signed by a trusted owner key scans (and
# the audit log names the signer's fingerprint); every bad input is refused with one line on
# stderr, exit 2, and nothing sent (an nft counter of SYNs at the target's ingress must not move):
# a malformed key, an untrusted signer, a signature over another file, a scope altered after
# signing, an expired window, an unsigned scope under --require-signed and under the system
# policy file (GLASSHOUSE_POLICY), a malformed policy file, --announce without a signed scope.
#
#   bash tests/lab/test_auth_scope.sh /path/to/glasshouse
set -euo pipefail
. "$(dirname "$0")/lib.sh"

lab_require_root
lab_require_cmd nft
lab_init "$@"
lab_create

ip netns exec "$LAB_NS_TARGET" nft -f - <<EOF || lab_fail "nft counter could not be loaded"
table inet gh_auth {
  counter syn_in {}
  chain pre {
    type filter hook prerouting priority raw; policy accept;
    iifname "$LAB_IF_TARGET" tcp flags & (syn | ack) == syn counter name syn_in
  }
}
EOF
syn_count() {
  ip netns exec "$LAB_NS_TARGET" nft -j list counter inet gh_auth syn_in |
    python3 -c 'import json,sys; print([o for o in json.load(sys.stdin)["nftables"] if "counter" in o][0]["counter"]["packets"])'
}

AUDIT="$LAB_WORK/audit.jsonl"
"$GH" scope keygen -o owner.key >keygen.out || lab_fail "scope keygen failed"
"$GH" scope keygen -o stranger.key >/dev/null || lab_fail "scope keygen failed"
[[ $(stat -c %a owner.key) == 600 ]] || lab_failed "owner.key is mode $(stat -c %a owner.key), not 600"
FP=$(awk '/^fingerprint/ {print $2}' keygen.out)
[[ $FP == sha256:* ]] || lab_fail "keygen printed no fingerprint: $(cat keygen.out)"
# keygen never replaces a key silently.
if "$GH" scope keygen -o owner.key >/dev/null 2>&1; then lab_failed "keygen replaced owner.key"; fi

YESTERDAY=$(date -u -d '-1 day' +%Y-%m-%d)
TOMORROW=$(date -u -d '+1 day' +%Y-%m-%d)
scope_text() {  # scope_text NOT_AFTER
  cat <<EOF
[engagement]
id = "LAB-AUTH-1"
authorized_by = "Lab Owner, CISO"
contact = "secops@lab.example"
not_before = $YESTERDAY
not_after = $1
[targets]
include = ["$LAB_V4_TARGET"]
ports = "1-1024"
EOF
}
scope_text "$TOMORROW" >good.toml
cp good.toml unsigned.toml
"$GH" scope sign good.toml --key owner.key >/dev/null || lab_fail "scope sign failed"
"$GH" scope verify good.toml --owner-key owner.pub >verify.out || lab_failed "scope verify of a good scope failed"
grep -q "good signature by $FP" verify.out || lab_failed "scope verify: $(cat verify.out)"

# The good scan: signed by a trusted key, required.
before=$(syn_count)
lab_scan "$LAB_NS_SCAN" good -sS -n -p 22,80 "$LAB_V4_TARGET" --scope good.toml \
  --owner-key owner.pub --require-signed --audit-log "$AUDIT" || lab_failed "signed scope scan"
after=$(syn_count)
((after - before >= 2)) || lab_failed "the signed scan sent $((after - before)) SYNs, expected 2 or more"
python3 - "$AUDIT" "$FP" <<'EOF' || lab_failed "audit log: no start record with the signer"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
start = [r for r in recs if r["event"] == "start"][-1]
assert start["scope_signature"] == "verified", start
assert start["scope_signer"] == sys.argv[2], start
assert start["scope_signer_key"] == "owner.pub", start
EOF

# Bad inputs. Each: exit 2, one line on stderr, no SYN at the target.
printf -- '-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n' >garbage.pub
scope_text "$TOMORROW" | sed 's/1-1024/1-65535/' >other.toml
sed -n '/BEGIN GLASSHOUSE/,$p' good.toml >>other.toml  # good.toml's signature on another file
sed 's/1-1024/1-2048/' good.toml >altered.toml
scope_text "$YESTERDAY" >expired.toml
"$GH" scope sign expired.toml --key owner.key >/dev/null || lab_fail "scope sign (expired) failed"
printf 'require_signed = true\n' >policy.toml
printf 'require_signed = yes\n' >badpolicy.toml

bad() {  # bad NAME EXPECTED_WORDS ARGS...
  local name=$1 words=$2
  shift 2
  local b a lines
  b=$(syn_count)
  LAB_EXPECT_RC=2 lab_scan "$LAB_NS_SCAN" "$name" -sS -n -p 22,80 "$LAB_V4_TARGET" \
    --audit-log "$AUDIT" "$@" || lab_failed "$name: not refused with exit 2"
  a=$(syn_count)
  ((a == b)) || lab_failed "$name: $((a - b)) SYNs reached the target"
  lines=$(wc -l <"$LAB_WORK/$name.stderr")
  ((lines == 1)) || lab_failed "$name: $lines lines on stderr, expected 1: $(cat "$LAB_WORK/$name.stderr")"
  grep -q -- "$words" "$LAB_WORK/$name.stderr" || lab_failed "$name: stderr lacks '$words': $(cat "$LAB_WORK/$name.stderr")"
}
bad malformed_key "malformed key file" --scope good.toml --owner-key garbage.pub
bad untrusted_signer "none of the trusted owner keys" --scope good.toml --owner-key stranger.pub
bad other_file "does not verify" --scope other.toml --owner-key owner.pub
bad altered "altered after signing" --scope altered.toml --owner-key owner.pub
bad expired "has closed" --scope expired.toml --owner-key owner.pub --require-signed
bad unsigned_required "is not signed" --scope unsigned.toml --owner-key owner.pub --require-signed
GLASSHOUSE_POLICY=$LAB_WORK/policy.toml bad unsigned_policy "system policy" --scope unsigned.toml
GLASSHOUSE_POLICY=$LAB_WORK/badpolicy.toml bad malformed_policy "malformed policy file" --scope good.toml
bad announce_unsigned "needs a scope signed" --scope unsigned.toml --announce
bad require_no_scope "give --scope" --require-signed

# The refusals are in the audit log, with the signer where there was one; the chain holds.
python3 - "$AUDIT" "$FP" <<'EOF' || lab_failed "audit log: refusals"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
refused = [r for r in recs if r["event"] == "refused"]
assert len(refused) >= 6, len(refused)
untrusted = [r for r in refused if "stranger.pub" in r["command"]][0]
assert untrusted["scope_signature"] == "unknown-key" and untrusted["scope_signer"] == sys.argv[2], untrusted
altered = [r for r in refused if "altered.toml" in r["command"]][0]
assert altered["scope_signature"] == "invalid", altered
EOF
"$GH" audit verify "$AUDIT" >/dev/null || lab_failed "audit chain does not verify"

# scope verify: exit 2 and one line for each bad case.
for f in unsigned other altered; do
  rc=0
  "$GH" scope verify "$f.toml" --owner-key owner.pub >/dev/null 2>"verify-$f.err" || rc=$?
  ((rc == 2)) || lab_failed "scope verify $f.toml: exit $rc, expected 2"
  [[ $(wc -l <"verify-$f.err") -eq 1 ]] || lab_failed "scope verify $f.toml: not one line"
done
lab_finish
