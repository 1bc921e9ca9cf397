#!/usr/bin/env bash
# Host discovery through a router, compared with nmap's (issue 9).
#
# The target namespace routes 198.19.0.0/27 for the scanner: it answers for 198.19.0.0/28 itself
# (a local route: 16 live hosts) and drops the rest (no route, no forwarding: 16 dead ones). nft
# rules in the target let only some probe types through:
#   icmp-echo   ICMP echo requests only
#   tcp-443     TCP to port 443 only
#   nothing     no probe at all
# For each ruleset, each ping type (and nmap's default set) must find exactly the hosts nmap finds
# with the same flags (nmap run in the same namespace, -oG), and the set the rules allow.
# Then: the unprivileged default (connect() to 80 and 443, run as nobody), compared with nmap run
# as nobody; -PR toward the routed targets (a note, then the default routed probes); bad input
# (-PS with a bad port list, an unknown -P flag): one line, exit 2.
#
#   bash tests/lab/test_discovery_routed.sh /path/to/glasshouse
set -euo pipefail
. "$(dirname "$0")/lib.sh"

lab_require_root
lab_require_cmd nmap nft setpriv
lab_init "$@"
lab_create
CHECK="$LAB_DIR/discovery_check.py"
NET=198.19.0.0/27
LIVE=$(python3 -c 'print(",".join(f"198.19.0.{i}" for i in range(16)))')
ip -n "$LAB_NS_TARGET" route add local 198.19.0.0/28 dev lo || lab_fail "local route in the target"
# -PU finds a host by its ICMP port unreachable, which Linux rate-limits per destination (here
# every reply goes to the one scanner): with the default limit nmap and Glasshouse both see a
# random subset. This test is about which ping types get through, not about the limiter.
ip netns exec "$LAB_NS_TARGET" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_msgs_per_sec=100000 ||
  lab_fail "icmp rate limit in the target"
ip -n "$LAB_NS_SCAN" route add "$NET" via "$LAB_V4_TARGET" || lab_fail "route to $NET in the scanner"
lab_assert_isolated "$LAB_NS_SCAN"

rules() {
  local allow=$1
  ip netns exec "$LAB_NS_TARGET" nft -f - <<EOF || lab_fail "nft rules ($allow)"
table inet ghdisc
delete table inet ghdisc
table inet ghdisc {
  chain input {
    type filter hook input priority 0; policy accept;
    ip daddr != 198.19.0.0/27 accept
    $allow
    drop
  }
}
EOF
}

# compare NAME EXPECTED FLAGS...: glasshouse and nmap with FLAGS; both must find EXPECTED.
compare() {
  local name=$1 expected=$2
  shift 2
  local out="$LAB_WORK/$name.jsonl" gnmap="$LAB_WORK/$name.gnmap"
  if ! lab_scan "$LAB_NS_SCAN" "$name" -sn -n -oJ "$out" "$@" "$NET"; then
    lab_failed "$name: glasshouse failed"
    return
  fi
  ip netns exec "$LAB_NS_SCAN" nmap -sn -n -T5 --max-retries 1 "$@" -oG "$gnmap" "$NET" >/dev/null 2>&1 ||
    lab_failed "$name: nmap failed"
  local ours theirs
  ours=$(python3 "$CHECK" glasshouse-up "$out")
  theirs=$(python3 "$CHECK" nmap-up "$gnmap")
  [[ $ours == "$theirs" ]] || lab_failed "$name ($*): glasshouse found [$ours], nmap [$theirs]"
  python3 "$CHECK" hosts "$out" "$expected" >/dev/null ||
    lab_failed "$name ($*): expected [$expected], glasshouse found [$ours]"
  lab_log "$name ($*): $(tr -cd , <<<"$ours," | wc -c) up, as nmap"
}

rules 'icmp type echo-request accept'
compare echo-default "$LIVE"
compare echo-PE "$LIVE" -PE
compare echo-PP "" -PP
compare echo-PS "" -PS443

rules 'tcp dport 443 accept'
compare tcp-default "$LIVE"
compare tcp-PS443 "$LIVE" -PS443
compare tcp-PS22 "" -PS22
compare tcp-PA80 "" -PA80

rules ''
compare nothing-default ""

rules 'tcp dport 80 accept'
compare ack-PA80 "$LIVE" -PA80
rules 'udp dport 40125 accept'
compare udp-PU "$LIVE" -PU
rules 'icmp type { timestamp-request, address-mask-request } accept'
compare ts-PP "$LIVE" -PP
compare ts-PM "" -PM  # Linux never answers address mask requests (nmap agrees)

# The unprivileged default: connect() to 80 and 443 (443 passes: refused = up), as nobody.
rules 'tcp dport 443 accept'
AUDIT_DIR=$LAB_WORK/nobody
mkdir -p "$AUDIT_DIR" && chmod 777 "$AUDIT_DIR"
name=nobody-default
out="$AUDIT_DIR/$name.jsonl"
lab_assert_isolated "$LAB_NS_SCAN"
if ip netns exec "$LAB_NS_SCAN" setpriv --reuid=nobody --regid=nogroup --clear-groups \
    --inh-caps=-all --bounding-set=-all "$GH" scan -sn -n --reason -oJ "$out" \
    --audit-log "$AUDIT_DIR/audit.log" "$NET" >"$LAB_WORK/$name.stdout" 2>"$LAB_WORK/$name.stderr"; then
  python3 "$CHECK" hosts "$out" "$LIVE" --reason conn-refused --reason syn-ack ||
    lab_failed "$name: not exactly the live set"
  ip netns exec "$LAB_NS_SCAN" setpriv --reuid=nobody --regid=nogroup --clear-groups \
    --inh-caps=-all --bounding-set=-all nmap -sn -n -T5 -oG - "$NET" >"$LAB_WORK/$name.gnmap" 2>/dev/null ||
    lab_failed "$name: nmap as nobody failed"
  theirs=$(python3 "$CHECK" nmap-up "$LAB_WORK/$name.gnmap")
  ours=$(python3 "$CHECK" glasshouse-up "$out")
  [[ $ours == "$theirs" ]] || lab_failed "$name: glasshouse found [$ours], nmap as nobody [$theirs]"
else
  lab_show_tail "$LAB_WORK/$name.stderr" "$name stderr"
  lab_failed "$name: glasshouse as nobody failed"
fi

# -PR toward routed targets: a note, then the default routed probes.
rules 'icmp type echo-request accept'
if lab_scan "$LAB_NS_SCAN" pr-routed -sn -n -PR -oJ "$LAB_WORK/pr-routed.jsonl" "$NET"; then
  grep -q 'note: -PR (ARP ping) works on the local network only' "$LAB_WORK/pr-routed.stderr" ||
    lab_failed "pr-routed: no note about -PR"
  python3 "$CHECK" hosts "$LAB_WORK/pr-routed.jsonl" "$LIVE" --reason echo-reply >/dev/null ||
    lab_failed "pr-routed: the default routed probes did not find the live set"
else
  lab_failed "pr-routed: scan failed"
fi

# Bad input: one line on stderr, exit 2, nothing scanned.
for bad in "-PS80,x" "-PS0" "-PA70000" "-PU5-3" "-PX" "-PY"; do
  if LAB_EXPECT_RC=2 lab_scan "$LAB_NS_SCAN" "bad$bad" -sn "$bad" "$NET"; then
    [[ $(grep -c '' "$LAB_WORK/bad$bad.stderr") -eq 1 ]] ||
      lab_failed "bad$bad: expected one line on stderr, got: $(cat "$LAB_WORK/bad$bad.stderr")"
  else
    lab_failed "bad$bad: expected exit 2"
  fi
done
lab_finish
