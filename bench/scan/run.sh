#!/usr/bin/env bash
# Glasshouse beside nmap, masscan and zmap, side by side, in a namespace lab it builds itself.
#
#   bench/scan/run.sh [--quick] [--cases 1,2,3,4] [GLASSHOUSE]      (root; see README.md)
#
# Cases (README.md says what each measures and the targets of issue 4):
#   1  one host (198.18.0.2), all 65535 TCP ports, 100 open: glasshouse -sS, nmap -sS -T5/-T4,
#      masscan (zmap scans one port per run: left out)
#   2  198.19.0.0/16 on one port, 1% of hosts live (the rest dropped by nft): glasshouse, zmap,
#      masscan, nmap (capped by a timeout)
#   3  the same /16 on three ports, 5% of packets dropped each way: glasshouse, masscan
#      --retries 0/1, zmap -P 1/3 (one zmap run per port)
#   4  connect scan of all ports of 127.0.0.1 in a namespace of its own with 100 listeners:
#      glasshouse -sT, nmap -sT -T4/-T5
# Each run is repeated REPEAT (3) times, interleaved; RESULTS.md beside this script gets the
# medians (overwritten). --quick: a /20 instead of the /16 and REPEAT=1, results in
# RESULTS-quick.md, under 2 minutes.
#
# Environment: REPEAT, SWEEP (the /16), MASSCAN_RATE (100000), CAP (180 s per run), MASSCAN_CAP
# (90 s: masscan 1.3.2 sometimes hangs after its scan, see README.md),
# NMAP_SWEEP_CAP (nmap's cap in case 2: 150 s, 20 s with --quick), LAB_SEED (ports, live hosts),
# RESULTS (the Markdown file), LAB_KEEP=1 (keep the work directory with every tool's output),
# BENCH_TMPDIR (where the work directory goes: /var/tmp/glasshouse-bench-scan), GH_BASE (case 2:
# a second glasshouse binary run side by side, e.g. the build before a change), PEERS=0 (case 2:
# glasshouse runs only).
#
# Network safety: every scanner runs inside a namespace made here whose only devices are lo and
# the lab veth, with no default route (checked before every run, from inside the namespace), and
# every target is checked to lie in 198.18.0.0/15 or 127.0.0.0/8 before the run. zmap gets an
# empty blocklist (-b) and an allowlist (-w) holding only the lab range, an empty config file (-C)
# and explicit -i/-S/-G; masscan explicit --adapter/--adapter-ip/--router-mac.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; }

QUICK=0
CASES="1 2 3 4"
GH_ARG=""
while (($#)); do
  case $1 in
    --quick) QUICK=1 ;;
    --cases)
      CASES=${2//,/ }
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    -*)
      echo "unknown option $1" >&2
      exit 2
      ;;
    *) GH_ARG=$1 ;;
  esac
  shift
done
GH_ARG=${GH_ARG:-$ROOT/build/glasshouse}

# shellcheck source=../../tests/lab/lib.sh
. "$ROOT/tests/lab/lib.sh"

[[ $(id -u) -eq 0 ]] || { echo "run.sh needs root (network namespaces, raw sockets)" >&2; exit 1; }
missing=()
for c in ip nft python3 timeout ss nmap masscan zmap /usr/bin/time; do
  command -v "$c" >/dev/null 2>&1 || missing+=("$c")
done
if ((${#missing[@]})); then
  echo "missing: ${missing[*]}; install with: apt-get install -y nmap masscan zmap time nftables iproute2 python3" >&2
  exit 1
fi

# --quick leaves out the runs that only repeat a code path of another: nmap -T4 in case 1,
# glasshouse's defaults, masscan --retries 0 and zmap -P 1 in case 3.
C1_NMAP_LEVELS="5 4" C3_MASSCAN_RETRIES="0 1" C3_ZMAP_PROBES="1 3"
if ((QUICK)); then
  C1_NMAP_LEVELS=5 C3_MASSCAN_RETRIES=1 C3_ZMAP_PROBES=3
  REPEAT=${REPEAT:-1}
  SWEEP=${SWEEP:-198.19.0.0/20}
  NMAP_SWEEP_CAP=${NMAP_SWEEP_CAP:-20}
  RESULTS=${RESULTS:-$HERE/RESULTS-quick.md}
else
  REPEAT=${REPEAT:-3}
  SWEEP=${SWEEP:-198.19.0.0/16}
  NMAP_SWEEP_CAP=${NMAP_SWEEP_CAP:-150}
  RESULTS=${RESULTS:-$HERE/RESULTS.md}
fi
CAP=${CAP:-180}
MASSCAN_CAP=${MASSCAN_CAP:-90}
MASSCAN_RATE=${MASSCAN_RATE:-100000}
LIVE_PCT=1
LOSS_PCT=5
SWEEP_PORTS=22,80,443 # case 3; case 2 scans 80 only

LAB_TAG=${LAB_TAG:-bench$$}
NS_LO="gh-lo-$LAB_TAG"
# The work directory (lab_init: $TMPDIR/gh-lab-run-XXXXXX) lives apart from /tmp, where other
# sessions' lab tests come and go.
export TMPDIR=${BENCH_TMPDIR:-/var/tmp/glasshouse-bench-scan}
mkdir -p "$TMPDIR"
lab_init "$GH_ARG"
W=$LAB_WORK
# Scan with a copy: the binary under test may be rebuilt by someone else while the runs go on.
GH_SRC=$GH
cp "$GH_SRC" "$W/glasshouse"
GH=$W/glasshouse
bench_cleanup() {
  local rc=$? left
  set +e
  if [[ -e /run/netns/$NS_LO ]]; then
    for pid in "${LAB_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    sleep 0.3
    left=$(ip netns pids "$NS_LO" 2>/dev/null)
    # shellcheck disable=SC2086
    [[ -n $left ]] && kill -KILL $left 2>/dev/null
    ip netns del "$NS_LO" 2>/dev/null || lab_log "warning: could not delete namespace $NS_LO"
  fi
  (exit "$rc")
  lab_cleanup
}
trap bench_cleanup EXIT

RES=$W/results.tsv
CMDS=$W/commands.tsv
META=$W/meta.txt
mkdir -p "$W/out"
: >"$RES"
: >"$CMDS"

# --- machine and tools --------------------------------------------------------------------------
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "mode=$([[ $QUICK == 1 ]] && echo quick || echo full)"
  echo "repeat=$REPEAT"
  echo "seed=$LAB_SEED"
  echo "sweep=$SWEEP"
  echo "nproc=$(nproc)"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "kernel=$(uname -r)"
  echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "glasshouse=$("$GH" --version 2>&1 | head -1) (binary ${GH_SRC#"$ROOT"/}, built $(date -u -r "$GH_SRC" '+%Y-%m-%d %H:%M UTC'), sha256 $(sha256sum "$GH" | cut -c1-12); work tree at $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?'))"
  echo "nmap=$(nmap --version | head -1)"
  echo "masscan=$(masscan --version 2>&1 | grep -m1 -i 'version')"
  echo "zmap=$(zmap --version 2>&1 | head -1)"
  echo "masscan_rate=$MASSCAN_RATE"
  echo "nmap_sweep_cap=$NMAP_SWEEP_CAP"
  echo "cap=$CAP"
  echo "masscan_cap=$MASSCAN_CAP"
} >"$META"

# --- guards ----------------------------------------------------------------------------------------
# Every target must lie in the lab: 198.18.0.0/15 (the namespaces) or 127.0.0.0/8 (a private lo).
assert_lab_targets() {
  python3 - "$@" <<'EOF' || lab_fail "target outside the lab: $*"
import ipaddress, sys
lab = [ipaddress.ip_network("198.18.0.0/15"), ipaddress.ip_network("127.0.0.0/8")]
for t in sys.argv[1:]:
    net = ipaddress.ip_network(t, strict=False)
    if not any(net.version == l.version and net.subnet_of(l) for l in lab):
        print(f"{t} is not inside the lab", file=sys.stderr)
        sys.exit(1)
EOF
}

# From inside NS: no default route, nothing outside the lab routable (plus lib.sh's device check).
assert_no_route_out() {
  local ns=$1 routes
  lab_assert_isolated "$ns"
  routes=$(ip netns exec "$ns" ip route show table all)$'\n'$(ip netns exec "$ns" ip -6 route show table all)
  if grep -Eq '^(default|0\.0\.0\.0/0|::/0)' <<<"$routes"; then
    lab_fail "namespace $ns has a default route; refusing to run a scanner in it"
  fi
}

# --- packet counters -----------------------------------------------------------------------------
# TCP SYNs (no ACK) the target received: a netdev ingress counter on the target's veth (before the
# nft drops of cases 2-3), or an output counter in the loopback namespace (case 4).
CNT_NS="" CNT_FAMILY="" CNT_TABLE=""
counter_reset() { ip netns exec "$CNT_NS" nft reset counter "$CNT_FAMILY" "$CNT_TABLE" probes >/dev/null; }
counter_read() {
  ip netns exec "$CNT_NS" nft list counter "$CNT_FAMILY" "$CNT_TABLE" probes |
    awk '/packets/ { print $2; exit }'
}

# --- one run -------------------------------------------------------------------------------------
# run_one CASE LABEL NS FORMAT TRUTH CAP "TARGETS" -- CMD...
# Runs CMD in NS under /usr/bin/time and timeout, then appends a line to $RES. CMD writes its
# results to files starting with $OUTP.out (set by out_prefix before building CMD).
REP=0
OUTP=""
slug() { tr -c 'A-Za-z0-9_\n-' '_' <<<"$1"; }
out_prefix() { OUTP="$W/out/$1.$(slug "$2").$REP"; }
display_cmd() {
  local s
  s=$(python3 -c 'import shlex, sys; print(shlex.join(sys.argv[1:]))' "$@")
  s=${s//"$GH"/glasshouse}
  s=${s//"$W/out/"/}
  s=${s//"$W/"/}
  s=${s//"$HERE/"/bench/scan/}
  s=${s//"$GH1_MAC"/\$GH1_MAC}
  printf '%s' "$s"
}
run_one() {
  local case=$1 label=$2 ns=$3 fmt=$4 truth=$5 cap=$6 targets=$7
  shift 7
  [[ $1 == -- ]] && shift
  # shellcheck disable=SC2086
  assert_lab_targets $targets
  assert_no_route_out "$ns"
  ((REP == 1)) && printf '%s\t%s\t%s\n' "$case" "$label" "$(display_cmd "$@")" >>"$CMDS"
  local log=$OUTP.log sig=TERM rc=0
  # masscan writes its output on SIGINT (it loses it on SIGTERM).
  [[ $(basename "$1") == masscan ]] && sig=INT
  rm -f "$OUTP".out.* "$log".*
  counter_reset
  lab_log "case $case, run $REP/$REPEAT: $label"
  local t0 stamper
  t0=$(date +%s.%N)
  ip netns exec "$ns" /usr/bin/time -o "$log.time" -f '%e %M' \
    timeout -s "$sig" -k 5 "$cap" "$@" >"$log.stdout" 2> >(python3 "$HERE/stamp.py" "$t0" >"$log.stderr") \
    </dev/null || rc=$?
  stamper=$!
  wait "$stamper" 2>/dev/null || true
  local sent wall rss status score wait_end=NA
  sent=$(counter_read)
  wall=NA rss=NA
  [[ -s $log.time ]] && read -r wall rss < <(tail -n 1 "$log.time")
  case $rc in
    0) status=ok ;;
    124 | 137) status=timeout ;; # 137: timeout(1) had to follow up with SIGKILL
    *) status="exit $rc" ;;
  esac
  score=$(python3 "$HERE/found.py" "$fmt" "$truth" "$OUTP".out.*) ||
    score="found=0 true=0 truth=$(wc -l <"$truth") false=0"
  lab_log "  $status, ${wall} s, max RSS ${rss} KiB, $sent SYNs at the target, $score"
  if [[ $(basename "$1") == masscan ]]; then
    wait_end=$(python3 "$HERE/stamp.py" --masscan-wait-end "$log.stderr")
    lab_log "  masscan's --wait ended at ${wait_end} s"
  fi
  if [[ $status != ok ]]; then
    tail -n 2 "$log.stderr" | cut -f2- | sed 's/^/  | /' || true
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$case" "$label" "$REP" "$wall" "$rc" "$status" \
    "$rss" "$sent" "$score" "$wait_end" >>"$RES"
}

stop_last_listener() {
  local pid=${LAB_PIDS[-1]}
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# --- the lab -------------------------------------------------------------------------------------
lab_create
GH1_MAC=$(ip -n "$LAB_NS_TARGET" -o link show "$LAB_IF_TARGET" | grep -o 'link/ether [0-9a-f:]*' | awk '{print $2}')
[[ -n $GH1_MAC ]] || lab_fail "no MAC address on $LAB_IF_TARGET"
# A lost SYN-ACK stays lost (case 3): the target's kernel does not retransmit it.
ip netns exec "$LAB_NS_TARGET" sysctl -qw net.ipv4.tcp_synack_retries=0
ip netns exec "$LAB_NS_TARGET" nft -f - <<EOF || lab_fail "nft counter in the target namespace"
table netdev gh_count {
  counter probes {}
  chain ingress {
    type filter hook ingress device "$LAB_IF_TARGET" priority -500; policy accept;
    tcp flags & (syn | ack) == syn counter name "probes"
  }
}
EOF
T=$LAB_V4_TARGET
SRC=$LAB_V4_SCAN
MASSCAN_NET=(--adapter "$LAB_IF_SCAN" --adapter-ip "$SRC" --router-mac "$GH1_MAC")

# --- case 1: one host, all ports -----------------------------------------------------------------
case1() {
  CNT_NS=$LAB_NS_TARGET CNT_FAMILY=netdev CNT_TABLE=gh_count
  local ports truth=$W/truth1.txt
  read -ra ports <<<"$(random_ports 100 "$LAB_SEED-case1")"
  printf "$T %s\n" "${ports[@]}" >"$truth"
  lab_listen "${ports[@]}"
  for ((REP = 1; REP <= REPEAT; REP++)); do
    out_prefix 1 gh
    run_one 1 "glasshouse -sS -T5" "$LAB_NS_SCAN" gh "$truth" "$CAP" "$T" -- \
      "$GH" scan -sS -p- -n -Pn --max-rate 0 -T5 -oJ "$OUTP.out.jsonl" --show open --no-status "$T"
    out_prefix 1 ghst
    run_one 1 "glasshouse -sS -T5 --send-threads 2" "$LAB_NS_SCAN" gh "$truth" "$CAP" "$T" -- \
      "$GH" scan -sS -p- -n -Pn --max-rate 0 -T5 --send-threads 2 -oJ "$OUTP.out.jsonl" \
      --show open --no-status "$T"
    for t in $C1_NMAP_LEVELS; do
      out_prefix 1 "nmap$t"
      run_one 1 "nmap -sS -T$t" "$LAB_NS_SCAN" nmap "$truth" "$CAP" "$T" -- \
        nmap -sS "-T$t" -p- -n -Pn -e "$LAB_IF_SCAN" -oG "$OUTP.out.gnmap" "$T"
    done
    out_prefix 1 masscan
    run_one 1 "masscan" "$LAB_NS_SCAN" masscan "$truth" "$MASSCAN_CAP" "$T" -- \
      masscan "$T" -p0-65535 --rate "$MASSCAN_RATE" --wait 1 "${MASSCAN_NET[@]}" -oL "$OUTP.out.txt"
  done
  stop_last_listener
}

# --- cases 2 and 3: a /16 behind the target ------------------------------------------------------
LIVE=$W/live.txt
sweep_setup() {
  [[ -s $LIVE ]] && return 0
  ip -n "$LAB_NS_TARGET" route add local "$SWEEP" dev lo
  ip -n "$LAB_NS_SCAN" route add "$SWEEP" via "$T"
  assert_no_route_out "$LAB_NS_SCAN"
  python3 - "$SWEEP" "$LIVE_PCT" "$LAB_SEED" >"$LIVE" <<'EOF'
import ipaddress, random, sys
net = ipaddress.ip_network(sys.argv[1])
n = max(1, net.num_addresses * int(sys.argv[2]) // 100)
rng = random.Random(f"glasshouse-bench-{sys.argv[3]}")
for i in sorted(rng.sample(range(net.num_addresses), n)):
    print(net[i])
EOF
  lab_log "$SWEEP: $(wc -l <"$LIVE") live hosts (${LIVE_PCT}%), the rest dropped"
  local ports
  read -ra ports <<<"${SWEEP_PORTS//,/ }"
  lab_listen "${ports[@]}"
  printf '%s\n' "$SWEEP" >"$W/zmap-allow.txt"
  : >"$W/zmap-block.txt"
  : >"$W/zmap.conf"
  assert_lab_targets "$(cat "$W/zmap-allow.txt")"
}

# sweep_filter LOSS_PCT: the target drops everything to non-live addresses of the /16, and LOSS_PCT
# percent of the rest each way (its input and its output).
sweep_filter() {
  local loss=$1 elements in_loss="" out_loss=""
  elements=$(paste -sd, "$LIVE")
  if ((loss > 0)); then
    in_loss="ip daddr $SWEEP numgen random mod 100 < $loss drop"
    out_loss="ip saddr $SWEEP numgen random mod 100 < $loss drop"
  fi
  ip netns exec "$LAB_NS_TARGET" nft delete table inet gh_bench 2>/dev/null || true
  ip netns exec "$LAB_NS_TARGET" nft -f - <<EOF || lab_fail "nft rules for the sweep"
table inet gh_bench {
  set live {
    type ipv4_addr
    elements = { $elements }
  }
  chain input {
    type filter hook input priority filter; policy accept;
    ip daddr $SWEEP ip daddr != @live drop
    $in_loss
  }
  chain output {
    type filter hook output priority filter; policy accept;
    $out_loss
  }
}
EOF
}

zmap_common() {
  # shellcheck disable=SC2054  # "saddr,sport" is one argument
  ZMAP_ARGS=(-C "$W/zmap.conf" -b "$W/zmap-block.txt" -w "$W/zmap-allow.txt" -i "$LAB_IF_SCAN"
    -S "$SRC" -G "$GH1_MAC" -r 0 -T 2 -c 1 -O csv -f saddr,sport --disable-syslog -q)
}

case2() {
  CNT_NS=$LAB_NS_TARGET CNT_FAMILY=netdev CNT_TABLE=gh_count
  sweep_setup
  sweep_filter 0
  local truth=$W/truth2.txt
  sed 's/$/ 80/' "$LIVE" >"$truth"
  zmap_common
  for ((REP = 1; REP <= REPEAT; REP++)); do
    out_prefix 2 gh
    run_one 2 "glasshouse -sS -T5" "$LAB_NS_SCAN" gh "$truth" "$CAP" "$SWEEP" -- \
      "$GH" scan -sS -p 80 -n -Pn --max-rate 0 -T5 -oJ "$OUTP.out.jsonl" --show open --no-status "$SWEEP"
    out_prefix 2 ghst
    run_one 2 "glasshouse -sS -T5 --send-threads 2" "$LAB_NS_SCAN" gh "$truth" "$CAP" "$SWEEP" -- \
      "$GH" scan -sS -p 80 -n -Pn --max-rate 0 -T5 --send-threads 2 -oJ "$OUTP.out.jsonl" \
      --show open --no-status "$SWEEP"
    if [[ -n ${GH_BASE:-} ]]; then
      out_prefix 2 ghbase
      run_one 2 "glasshouse -sS -T5 (GH_BASE)" "$LAB_NS_SCAN" gh "$truth" "$CAP" "$SWEEP" -- \
        "$GH_BASE" scan -sS -p 80 -n -Pn --max-rate 0 -T5 -oJ "$OUTP.out.jsonl" --show open \
        --no-status "$SWEEP"
    fi
    [[ ${PEERS:-1} == 0 ]] && continue
    out_prefix 2 zmap
    run_one 2 "zmap -T 2" "$LAB_NS_SCAN" zmap "$truth" "$CAP" "$SWEEP" -- \
      zmap -p 80 -o "$OUTP.out.csv" -m "$OUTP.meta.json" "${ZMAP_ARGS[@]}" "$SWEEP"
    out_prefix 2 masscan
    run_one 2 "masscan" "$LAB_NS_SCAN" masscan "$truth" "$MASSCAN_CAP" "$SWEEP" -- \
      masscan "$SWEEP" -p80 --rate "$MASSCAN_RATE" --wait 1 "${MASSCAN_NET[@]}" -oL "$OUTP.out.txt"
    out_prefix 2 nmap
    run_one 2 "nmap -sS -T5 --min-rate 100000" "$LAB_NS_SCAN" nmap "$truth" "$NMAP_SWEEP_CAP" "$SWEEP" -- \
      nmap -sS -T5 --min-rate 100000 -Pn -n -p 80 -e "$LAB_IF_SCAN" -oG "$OUTP.out.gnmap" "$SWEEP"
  done
}

case3() {
  CNT_NS=$LAB_NS_TARGET CNT_FAMILY=netdev CNT_TABLE=gh_count
  sweep_setup
  sweep_filter "$LOSS_PCT"
  local truth=$W/truth3.txt p
  : >"$truth"
  for p in ${SWEEP_PORTS//,/ }; do sed "s/\$/ $p/" "$LIVE" >>"$truth"; done
  zmap_common
  for ((REP = 1; REP <= REPEAT; REP++)); do
    out_prefix 3 gh4
    run_one 3 "glasshouse -sS -T4" "$LAB_NS_SCAN" gh "$truth" "$CAP" "$SWEEP" -- \
      "$GH" scan -sS -p "$SWEEP_PORTS" -n -Pn -T4 -oJ "$OUTP.out.jsonl" --show open --no-status "$SWEEP"
    out_prefix 3 gh5
    run_one 3 "glasshouse -sS -T5" "$LAB_NS_SCAN" gh "$truth" "$CAP" "$SWEEP" -- \
      "$GH" scan -sS -p "$SWEEP_PORTS" -n -Pn --max-rate 0 -T5 -oJ "$OUTP.out.jsonl" --show open --no-status "$SWEEP"
    out_prefix 3 ghst
    run_one 3 "glasshouse -sS -T4 --send-threads 2" "$LAB_NS_SCAN" gh "$truth" "$CAP" "$SWEEP" -- \
      "$GH" scan -sS -p "$SWEEP_PORTS" -n -Pn -T4 --send-threads 2 -oJ "$OUTP.out.jsonl" \
      --show open --no-status "$SWEEP"
    if ((!QUICK)); then
      out_prefix 3 gh3
      run_one 3 "glasshouse -sS (defaults: -T3)" "$LAB_NS_SCAN" gh "$truth" "$CAP" "$SWEEP" -- \
        "$GH" scan -sS -p "$SWEEP_PORTS" -n -Pn -oJ "$OUTP.out.jsonl" --show open --no-status "$SWEEP"
    fi
    for r in $C3_MASSCAN_RETRIES; do
      out_prefix 3 "masscan$r"
      run_one 3 "masscan --retries $r" "$LAB_NS_SCAN" masscan "$truth" "$MASSCAN_CAP" "$SWEEP" -- \
        masscan "$SWEEP" "-p$SWEEP_PORTS" --rate "$MASSCAN_RATE" --retries "$r" --wait 1 \
        "${MASSCAN_NET[@]}" -oL "$OUTP.out.txt"
    done
    for n in $C3_ZMAP_PROBES; do
      out_prefix 3 "zmapP$n"
      run_one 3 "zmap -P $n" "$LAB_NS_SCAN" zmap "$truth" "$CAP" "$SWEEP" -- \
        bash "$HERE/zmap_ports.sh" "$OUTP.out" "$SWEEP_PORTS" -- -P "$n" "${ZMAP_ARGS[@]}" "$SWEEP"
    done
  done
}

# --- case 4: connect scan of 127.0.0.1 in a namespace of its own ---------------------------------
case4() {
  ip netns add "$NS_LO"
  ip -n "$NS_LO" link set lo up
  assert_no_route_out "$NS_LO"
  ip netns exec "$NS_LO" nft -f - <<'EOF' || lab_fail "nft counter in $NS_LO"
table inet gh_count {
  counter probes {}
  chain output {
    type filter hook output priority -500; policy accept;
    tcp flags & (syn | ack) == syn counter name "probes"
  }
}
EOF
  CNT_NS=$NS_LO CNT_FAMILY=inet CNT_TABLE=gh_count
  local ports truth=$W/truth4.txt t
  read -ra ports <<<"$(random_ports 100 "$LAB_SEED-case4")"
  printf "127.0.0.1 %s\n" "${ports[@]}" >"$truth"
  lab_listen_in "$NS_LO" "${ports[@]}"
  for ((REP = 1; REP <= REPEAT; REP++)); do
    out_prefix 4 gh4
    run_one 4 "glasshouse -sT -T4" "$NS_LO" gh "$truth" "$CAP" 127.0.0.1 -- \
      "$GH" scan -sT -p- -n -Pn -T4 -oJ "$OUTP.out.jsonl" --show open --no-status 127.0.0.1
    out_prefix 4 gh5
    run_one 4 "glasshouse -sT -T5" "$NS_LO" gh "$truth" "$CAP" 127.0.0.1 -- \
      "$GH" scan -sT -p- -n -Pn --max-rate 0 -T5 -oJ "$OUTP.out.jsonl" --show open --no-status 127.0.0.1
    for t in 4 5; do
      out_prefix 4 "nmap$t"
      run_one 4 "nmap -sT -T$t" "$NS_LO" nmap "$truth" "$CAP" 127.0.0.1 -- \
        nmap -sT "-T$t" -p- -n -Pn -oG "$OUTP.out.gnmap" 127.0.0.1
    done
  done
  stop_last_listener
}

t_start=$(date +%s)
for c in $CASES; do
  case $c in
    1) case1 ;;
    2) case2 ;;
    3) case3 ;;
    4) case4 ;;
    *) lab_fail "no case $c (1-4)" ;;
  esac
done
echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$META"
echo "total_seconds=$(($(date +%s) - t_start))" >>"$META"

python3 "$HERE/report.py" "$META" "$RES" "$CMDS" >"$RESULTS"
lab_log "results in $RESULTS ($(($(date +%s) - t_start)) s)"
