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

# watch_capture_start FILE: tcpdump on the target's lab interface into FILE (a pcap the test then
# reads back with `watch -r`); watch_capture_stop ends it.
WATCH_TCPDUMP_PID=""
watch_capture_start() {
  ip netns exec "$LAB_NS_TARGET" tcpdump -i "$LAB_IF_TARGET" -U -n -s 200 -w "$1" \
    >"$1.log" 2>&1 &
  WATCH_TCPDUMP_PID=$!
  LAB_PIDS+=("$WATCH_TCPDUMP_PID")
  for _ in $(seq 50); do
    grep -q "listening on" "$1.log" 2>/dev/null && return 0
    sleep 0.1
  done
  lab_fail "tcpdump did not start: $(cat "$1.log")"
}
watch_capture_stop() {
  sleep 0.3
  kill -INT "$WATCH_TCPDUMP_PID" 2>/dev/null
  wait "$WATCH_TCPDUMP_PID" 2>/dev/null
}

# watch_replay PCAP FILTER NAME ARGS...: the packets of PCAP matching the tcpdump FILTER into a
# small pcap of their own, read by `glasshouse watch -r ... ARGS`; alerts in $LAB_WORK/NAME.jsonl.
watch_replay() {
  local pcap=$1 filter=$2 name=$3
  shift 3
  tcpdump -r "$pcap" -w "$LAB_WORK/$name.pcap" "$filter" 2>/dev/null ||
    lab_failed "$name: cannot cut $pcap"
  "$GH" watch -r "$LAB_WORK/$name.pcap" --alerts "$LAB_WORK/$name.jsonl" -q "$@" \
    >"$LAB_WORK/$name.replay.out" 2>&1 || lab_failed "$name: watch -r failed: $(tail -2 "$LAB_WORK/$name.replay.out")"
}

# watch_zmap NAME SRC ARGS...: zmap (tcp_synscan) from SRC in the scanner namespace, towards the
# target's MAC, with an empty blocklist (zmap's default one excludes the lab range) and
# --max-targets/rate bounded by ARGS.
watch_zmap() {
  local name=$1 src=$2
  shift 2
  local mac
  mac=$(ip -n "$LAB_NS_TARGET" -o link show "$LAB_IF_TARGET" | grep -o 'link/ether [0-9a-f:]*' | awk '{print $2}')
  : >"$LAB_WORK/zmap.blocklist"
  lab_assert_isolated "$LAB_NS_SCAN"
  lab_log "$name: zmap -M tcp_synscan $* from $src"
  timeout -k 5 60 ip netns exec "$LAB_NS_SCAN" zmap -M tcp_synscan -i "$LAB_IF_SCAN" -G "$mac" \
    -S "$src" -b "$LAB_WORK/zmap.blocklist" -c 1 -q -o "$LAB_WORK/$name.zmap" "$@" \
    >"$LAB_WORK/$name.zmap.log" 2>&1 || lab_failed "$name: zmap failed: $(tail -2 "$LAB_WORK/$name.zmap.log")"
}

# watch_masscan NAME SRC ARGS...: masscan from SRC in the scanner namespace towards the target's MAC.
watch_masscan() {
  local name=$1 src=$2
  shift 2
  local mac
  mac=$(ip -n "$LAB_NS_TARGET" -o link show "$LAB_IF_TARGET" | grep -o 'link/ether [0-9a-f:]*' | awk '{print $2}')
  lab_assert_isolated "$LAB_NS_SCAN"
  lab_log "$name: masscan $* from $src"
  timeout -k 5 60 ip netns exec "$LAB_NS_SCAN" masscan "$@" --wait 1 --interface "$LAB_IF_SCAN" \
    --router-mac "$mac" --source-ip "$src" >"$LAB_WORK/$name.masscan" 2>&1 ||
    lab_failed "$name: masscan failed: $(tail -2 "$LAB_WORK/$name.masscan")"
}
