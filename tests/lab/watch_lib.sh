# shellcheck shell=bash
# Helpers for the `glasshouse watch` lab tests (tests/lab/test_watch_*.sh), on top of lib.sh.
#
#   . "$(dirname "$0")/watch_lib.sh"   # sources lib.sh
#   watch_lab_up                       # lab_create, plus: extra scanner addresses 198.18.0.10-.49,
#                                      # 198.18.1.0/24 routed to the target (AnyIP), no ICMP rate limit
#   watch_start NAME ARGS...           # `glasshouse watch -i gh1 ARGS` in the target namespace,
#                                      # alerts in $LAB_WORK/NAME.jsonl; returns once it listens
#   watch_stop                         # SIGTERM, wait; fails the test on a non-zero exit or a crash
#   watch_check ARGS...                # tests/lab/watch_check.py $WATCH_ALERTS ARGS
#
# Network safety: everything stays in the two namespaces lib.sh creates (no default route, checked
# by lab_assert_isolated before every scanner run). The AnyIP range 198.18.1.0/24 is routed from
# the scanner namespace to the target over the lab veth only.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WATCH_PID=""
WATCH_ALERTS=""
WATCH_LOG=""

watch_lab_up() {
  lab_create
  ip -n "$LAB_NS_TARGET" route add local 198.18.1.0/24 dev lo
  ip -n "$LAB_NS_SCAN" route add 198.18.1.0/24 via "$LAB_V4_TARGET" dev "$LAB_IF_SCAN"
  local i
  for i in $(seq 10 49); do
    ip -n "$LAB_NS_SCAN" addr add "198.18.0.$i/24" dev "$LAB_IF_SCAN"
  done
  # Closed UDP ports answer every probe (the kernel rate-limits ICMP errors by default).
  ip netns exec "$LAB_NS_TARGET" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0
  lab_assert_isolated "$LAB_NS_SCAN"
  lab_assert_isolated "$LAB_NS_TARGET"
}

watch_start() {
  local name=$1
  shift
  WATCH_ALERTS="$LAB_WORK/$name.jsonl"
  WATCH_LOG="$LAB_WORK/$name.stderr"
  : >"$WATCH_ALERTS"
  ip netns exec "$LAB_NS_TARGET" "$GH" watch -i "$LAB_IF_TARGET" --alerts "$WATCH_ALERTS" "$@" \
    >"$LAB_WORK/$name.stdout" 2>"$WATCH_LOG" </dev/null &
  WATCH_PID=$!
  LAB_PIDS+=("$WATCH_PID")
  for _ in $(seq 100); do
    grep -q "listening on" "$WATCH_LOG" 2>/dev/null && {
      lab_log "watch running (pid $WATCH_PID): $(head -1 "$WATCH_LOG")"
      return 0
    }
    kill -0 "$WATCH_PID" 2>/dev/null || { lab_show_tail "$WATCH_LOG" "watch stderr"; lab_fail "watch exited at start"; }
    sleep 0.1
  done
  lab_fail "watch did not start in 10 s"
}

watch_stop() {
  local rc=0
  kill -TERM "$WATCH_PID" 2>/dev/null
  wait "$WATCH_PID" || rc=$?
  if lab_has_crash_marker "$WATCH_LOG" || [[ $rc -ne 0 ]]; then
    lab_show_tail "$WATCH_LOG" "watch stderr"
    lab_failed "watch exited with status $rc"
  fi
  lab_log "watch stopped (exit $rc): $(tail -1 "$WATCH_LOG")"
}

watch_check() {
  python3 "$LAB_DIR/watch_check.py" "$WATCH_ALERTS" "$@"
}

# watch_nmap NAME ARGS...: nmap in the scanner namespace, after the isolation check, under a
# timeout of $WATCH_NMAP_TIMEOUT (120) s; output in $LAB_WORK/NAME.nmap.
watch_nmap() {
  local name=$1
  shift
  lab_assert_isolated "$LAB_NS_SCAN"
  lab_log "$name: nmap $*"
  timeout -k 5 "${WATCH_NMAP_TIMEOUT:-120}" ip netns exec "$LAB_NS_SCAN" nmap -n -Pn "$@" >"$LAB_WORK/$name.nmap" 2>&1 ||
    lab_failed "$name: nmap failed: $(tail -2 "$LAB_WORK/$name.nmap")"
}
