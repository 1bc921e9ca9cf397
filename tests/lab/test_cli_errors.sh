#!/usr/bin/env bash
# Command-line errors, -sL and --dry-run: no probe may leave.
#
# Every bad input must be refused before anything is sent: exit 2, exactly one line on stderr
# that names the bad input, no "terminate called" / sanitizer report / stack trace.
# `-sL 198.18.0.0/30` must list exactly the 4 addresses and exit 0; `--dry-run` must exit 0.
#
# Belt and braces: the script re-runs itself under `unshare -n`, in a namespace whose only
# devices are lo and a veth pair (gh0 with the lab addresses, gh1 with none, which drops what
# arrives), so even a binary that wrongly accepted an input could reach nothing. A packet capture
# on gh0 and lo then proves that no TCP or UDP packet was sent at all.
#
#   bash tests/lab/test_cli_errors.sh /path/to/glasshouse
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [[ ${GH_LAB_IN_UNSHARE:-} != inside ]]; then
  lab_require_root
  lab_require_cmd unshare
  unshare -n true 2>/dev/null || lab_skip "unshare -n does not work here"
  GH_LAB_IN_UNSHARE=inside exec unshare -n -- bash "$0" "$@"
fi

lab_init "$@"
ip link set lo up
sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 >/dev/null 2>&1 || true
# A veth pair with both ends here: gh0 holds the lab addresses and does no ARP/ND, so whatever is
# routed to the lab is transmitted at once (and seen by the capture); gh1 has no address and
# drops it (wrong destination MAC, no forwarding).
ip link add "$LAB_IF_SCAN" type veth peer name "$LAB_IF_TARGET"
ip link set "$LAB_IF_SCAN" arp off
ip addr add "$LAB_V4_SCAN/24" dev "$LAB_IF_SCAN"
ip addr add "$LAB_V6_SCAN/64" dev "$LAB_IF_SCAN" nodad
ip link set "$LAB_IF_TARGET" up
ip link set "$LAB_IF_SCAN" up
lab_assert_isolated -
lab_sniff_in - "$LAB_IF_SCAN" "$LAB_WORK/sent-gh0.log"
lab_sniff_in - lo "$LAB_WORK/sent-lo.log"

CLI_TIMEOUT=30
T=$LAB_V4_TARGET  # a well-formed lab target for the cases where something else is wrong
MISSING_LIST="$LAB_WORK/no-such-dir/targets.txt"

# Lines logged so far by both packet captures.
captured() { cat "$LAB_WORK/sent-$LAB_IF_SCAN.log" "$LAB_WORK/sent-lo.log" | grep -vc '^ready$' || true; }

# run_gh NAME ARGS...: glasshouse ARGS with stdout/stderr in $LAB_WORK/NAME.{stdout,stderr};
# sets RC. Checks for crash markers and for packets sent while it ran.
run_gh() {
  local name=$1 before after
  shift
  RC=0
  before=$(captured)
  timeout -k 5 "$CLI_TIMEOUT" "$GH" "$@" >"$LAB_WORK/$name.stdout" 2>"$LAB_WORK/$name.stderr" </dev/null || RC=$?
  sleep 0.2  # let the captures catch up
  after=$(captured)
  if ((after > before)); then
    lab_failed "$name: $((after - before)) TCP/UDP packet(s) sent by: glasshouse $* (it must send nothing)"
  fi
  if lab_has_crash_marker "$LAB_WORK/$name.stderr" || lab_has_crash_marker "$LAB_WORK/$name.stdout"; then
    lab_show_tail "$LAB_WORK/$name.stderr" "$name stderr"
    lab_failed "$name: crash marker in the output of: glasshouse $*"
    return 1
  fi
  if [[ $RC -eq 124 || $RC -eq 137 ]]; then
    lab_failed "$name: timed out after $CLI_TIMEOUT s: glasshouse $*"
    return 1
  fi
  return 0
}

# bad NAME NEEDLE_REGEX ARGS...: must exit 2 with exactly one stderr line matching NEEDLE_REGEX
# (extended regex, matched literally where the input is quoted with \).
bad() {
  local name=$1 needle=$2
  shift 2
  run_gh "$name" "$@" || return 0
  local err="$LAB_WORK/$name.stderr" lines
  lines=$(grep -c '' "$err" || true)
  if [[ $RC -ne 2 ]]; then
    lab_show_tail "$err" "$name stderr"
    lab_failed "$name: glasshouse $*: exit status $RC, expected 2"
  elif [[ $lines -ne 1 ]]; then
    lab_show_tail "$err" "$name stderr"
    lab_failed "$name: glasshouse $*: $lines lines on stderr, expected exactly 1"
  elif ! grep -Eq -- "$needle" "$err"; then
    lab_show_tail "$err" "$name stderr"
    lab_failed "$name: glasshouse $*: the stderr line does not name the bad input (wanted /$needle/)"
  else
    lab_log "ok   $name: exit 2: $(head -c 200 "$err")"
  fi
}

bad target-octet '198\.18\.0\.300' scan -sT -p 80 198.18.0.300
bad target-prefix '198\.18\.0\.0/33|/33' scan -sT -p 80 198.18.0.0/33
bad target-v6-prefix '2001:db8::/129|/129' scan -sT -p 80 2001:db8::/129
bad target-v6-bad-hex '2001:db8::g' scan -sT -p 80 2001:db8::g
bad target-empty-label 'foo\.\.bar' scan -sT -p 80 foo..bar
bad port-too-big '70000' scan -sT -p 70000 "$T"
bad port-reversed '80-22' scan -sT -p 80-22 "$T"
bad port-comma-only "[Pp]ort.*','|[Pp]ort.*\"?,\"?|-p.*," scan -sT -p , "$T"
bad port-udp 'UDP ports \(U:\) need a UDP scan' scan -sT -p U:53 "$T"
bad unknown-option '--no-such-option' scan --no-such-option -sT -p 80 "$T"
bad missing-iL "no-such-dir/targets\.txt" scan -sT -p 80 -iL "$MISSING_LIST"
bad bad-max-rate 'abc' scan -sT -p 80 --max-rate abc "$T"

# -sL: exactly the 4 addresses of the /30, each once, exit 0.
if run_gh list-30 scan -sL -n 198.18.0.0/30; then
  if [[ $RC -ne 0 ]]; then
    lab_show_tail "$LAB_WORK/list-30.stderr" "list-30 stderr"
    lab_failed "list-30: glasshouse scan -sL -n 198.18.0.0/30: exit status $RC, expected 0"
  elif ! python3 - "$LAB_WORK/list-30.stdout" <<'EOF'; then
import re, sys
text = open(sys.argv[1]).read()
# Addresses not followed by a prefix length (a header may echo the "198.18.0.0/30" argument).
found = re.findall(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.]|/\d)", text)
want = ["198.18.0.0", "198.18.0.1", "198.18.0.2", "198.18.0.3"]
if sorted(found, key=lambda a: tuple(map(int, a.split(".")))) != want:
    print(f"  expected each of {want} exactly once on stdout, got {found}")
    print("  --- stdout ---")
    print("\n".join("  | " + l for l in text.splitlines()[:40]))
    sys.exit(1)
EOF
    lab_failed "list-30: -sL output is not exactly the 4 addresses of 198.18.0.0/30"
  else
    lab_log "ok   list-30: -sL listed exactly 198.18.0.0-3"
  fi
fi

# --dry-run: plans a scan, sends nothing, exit 0.
for type in -sS -sT; do
  name="dry-run${type}"
  if run_gh "$name" scan "$type" --dry-run -n -p 22,80,443 198.18.0.0/30 2001:db8::2; then
    if [[ $RC -ne 0 ]]; then
      lab_show_tail "$LAB_WORK/$name.stderr" "$name stderr"
      lab_failed "$name: glasshouse scan $type --dry-run: exit status $RC, expected 0"
    else
      lab_log "ok   $name: exit 0"
    fi
  fi
done

# A listing whose reader goes away (`| head`) ends at once, with one line on stderr: the whole
# IPv4 space would be 3.7 billion lines, and SIGPIPE is ignored, so only a failed write stops it.
for what in "-sL" "-sS --dry-run -p 80" "-sT --dry-run -p 80"; do
  read -ra args <<<"$what"
  name="reader-gone${args[0]}${args[1]:-}"
  set +o pipefail
  timeout -k 5 20 "$GH" scan "${args[@]}" -n 0.0.0.0/0 2>"$LAB_WORK/$name.stderr" </dev/null |
    head -n 1 >"$LAB_WORK/$name.stdout"
  rc=${PIPESTATUS[0]}
  set -o pipefail
  if ((rc == 124 || rc == 137)); then
    lab_failed "$name: glasshouse scan $what 0.0.0.0/0 | head -n 1 still ran 20 s later"
  elif ((rc != 1)) || [[ $(grep -c '' "$LAB_WORK/$name.stderr") -gt 2 ]] ||
    ! grep -q 'standard output' "$LAB_WORK/$name.stderr" || [[ ! -s $LAB_WORK/$name.stdout ]]; then
    lab_show_tail "$LAB_WORK/$name.stderr" "$name stderr"
    lab_failed "$name: expected exit 1 and a line about standard output once head exits (exit $rc)"
  else
    lab_log "ok   $name: ended when its reader did (exit 1: $(tail -n 1 "$LAB_WORK/$name.stderr"))"
  fi
done

# Nothing may have been sent by any of the above, not even late.
sleep 0.5
for dev in "$LAB_IF_SCAN" lo; do
  sent=$(grep -v '^ready$' "$LAB_WORK/sent-$dev.log" || true)
  if [[ -n $sent ]]; then
    lab_failed "packets were sent on $dev (should be none): $(head -n 5 <<<"$sent" | tr '\n' ';')"
  else
    lab_log "ok   no TCP/UDP packet sent on $dev"
  fi
done
lab_finish
