# shellcheck shell=bash
# Shared helpers for the namespace-lab end-to-end tests (tests/lab/test_*.sh).
#
#   . "$(dirname "$0")/lib.sh"
#   lab_require_root            # exit 77 (skip) unless root with working `ip netns`
#   lab_init "$@"               # binary from $1 (copied where every user can run it), work dir,
#                               # EXIT trap, seed
#   lab_create                  # namespaces $LAB_NS_SCAN / $LAB_NS_TARGET joined by a veth pair
#   lab_listen 22 80 ...        # listeners in the target namespace
#   lab_filter 81 ...           # nft drop in the target namespace
#   lab_scan "$LAB_NS_SCAN" NAME -sS -p- ... 198.18.0.2 || lab_failed NAME
#   lab_check_jsonl FILE OPEN FILTERED PORTS ADDR [check_results.py options] || lab_failed NAME
#   lab_finish                  # exit 1 if anything failed
#
# Skips: a whole test skips with lab_skip REASON (exit 77, "SKIP: REASON"); one part of a test
# with lab_skip_part REASON ("SKIP-PART: REASON"). Under CI=true every skip, whole or part, fails
# the run unless its reason is in .ci/allowed-skips.txt (scripts/ci_report.py): never turn an
# error into a skip.
#
# Network safety: packets go only to hosts in namespaces made here (198.18.0.0/15, 2001:db8::/32)
# or to loopback inside a private namespace. Every scanner run is preceded by lab_assert_isolated,
# which refuses to scan from a namespace that has a default route or a device other than lo and
# the lab veth.

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_SKIP=77

LAB_V4_SCAN=198.18.0.1
LAB_V4_TARGET=198.18.0.2
LAB_V6_SCAN=2001:db8::1
LAB_V6_TARGET=2001:db8::2
LAB_IF_SCAN=gh0    # veth end in the scanner namespace
LAB_IF_TARGET=gh1  # veth end in the target namespace

LAB_NS_SCAN=""
LAB_NS_TARGET=""
LAB_PIDS=()
LAB_MOUNTS=()
LAB_WORK=""
LAB_FAILURES=()
GH=""

lab_log() { printf '[lab %s] %s\n' "$(date +%T)" "$*"; }
lab_fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
lab_skip() { printf 'SKIP: %s\n' "$*"; exit "$LAB_SKIP"; }
# A part of the test that cannot run here; the rest goes on. Counted as a skip by CI.
lab_skip_part() { printf 'SKIP-PART: %s\n' "$*"; }

# Record a failed check and go on; lab_finish turns any into exit 1.
lab_failed() { LAB_FAILURES+=("$*"); printf 'FAIL: %s\n' "$*" >&2; }

lab_finish() {
  if ((${#LAB_FAILURES[@]})); then
    printf 'FAIL: %d check(s) failed:\n' "${#LAB_FAILURES[@]}" >&2
    printf '  - %s\n' "${LAB_FAILURES[@]}" >&2
    exit 1
  fi
  lab_log "PASS"
  exit 0
}

lab_require_cmd() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || lab_skip "$c is not installed"
  done
}

# Exit 77 unless we are root and can create network namespaces.
lab_require_root() {
  [[ $(id -u) -eq 0 ]] || lab_skip "lab tests need root (network namespaces, raw sockets)"
  lab_require_cmd ip python3 timeout ss
  local probe="gh-probe-$$-$RANDOM"
  if ! ip netns add "$probe" 2>/dev/null; then
    lab_skip "cannot create network namespaces (ip netns add failed)"
  fi
  ip netns del "$probe" 2>/dev/null || true
}

# lab_init "$@": the binary under test from $1 (absolute path in $GH), a work directory in
# $LAB_WORK (kept on failure or with LAB_KEEP=1), cleanup on exit, and $LAB_SEED (env or random).
lab_init() {
  [[ $# -ge 1 && -n $1 ]] || lab_fail "usage: $0 /path/to/glasshouse"
  [[ -f $1 && -x $1 ]] || lab_fail "binary under test is not an executable file: $1"
  LAB_WORK=$(mktemp -d "${TMPDIR:-/tmp}/gh-lab-$(basename "$0" .sh)-XXXXXX")
  trap lab_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  LAB_SEED=${LAB_SEED:-$RANDOM}
  lab_install_binary "$1"
  lab_log "$(basename "$0"): binary $GH (a copy of $(readlink -f "$1")), work dir $LAB_WORK"
  lab_log "LAB_SEED=$LAB_SEED (rerun with LAB_SEED=$LAB_SEED to get the same ports)"
  cd "$LAB_WORK" || lab_fail "cannot enter $LAB_WORK"
  # Scans record their results in a history database (src/store): this run's own, not the
  # machine's /var/lib/glasshouse/history.db.
  export GLASSHOUSE_DB="$LAB_WORK/history.db"
}

# lab_install_binary PATH: copy PATH to $LAB_WORK/bin/glasshouse and point $GH at the copy. The
# work directory becomes 0711 and the copy 0755, so every user a test runs the binary as (nobody,
# a scan's drop user) can execute it wherever the checkout lives, even under a 0700 directory.
lab_install_binary() {
  [[ -f $1 && -x $1 ]] || lab_fail "binary under test is not an executable file: $1"
  chmod 711 "$LAB_WORK"
  mkdir -p "$LAB_WORK/bin"
  chmod 755 "$LAB_WORK/bin"
  cp "$1" "$LAB_WORK/bin/glasshouse.new" || lab_fail "cannot copy $1 into $LAB_WORK/bin"
  chmod 755 "$LAB_WORK/bin/glasshouse.new"
  mv -f "$LAB_WORK/bin/glasshouse.new" "$LAB_WORK/bin/glasshouse"
  GH="$LAB_WORK/bin/glasshouse"
}

lab_cleanup() {
  local rc=$? pid ns left i
  set +e
  for pid in "${LAB_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${LAB_PIDS[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  for ((i = ${#LAB_MOUNTS[@]} - 1; i >= 0; i--)); do
    umount -l "${LAB_MOUNTS[i]}" 2>/dev/null || lab_log "warning: could not unmount ${LAB_MOUNTS[i]}"
  done
  for ns in "$LAB_NS_SCAN" "$LAB_NS_TARGET"; do
    [[ -n $ns && -e /run/netns/$ns ]] || continue
    # Anything still inside is ours: the namespace name is unique to this run.
    left=$(ip netns pids "$ns" 2>/dev/null)
    if [[ -n $left ]]; then
      # shellcheck disable=SC2086
      kill -KILL $left 2>/dev/null
    fi
    ip netns del "$ns" 2>/dev/null || lab_log "warning: could not delete namespace $ns"
  done
  if [[ -n $LAB_WORK && -d $LAB_WORK ]]; then
    cd / || true
    if [[ $rc -eq 0 && ${LAB_KEEP:-0} != 1 ]]; then
      rm -rf "$LAB_WORK"
    else
      lab_log "outputs kept in $LAB_WORK"
    fi
  fi
  exit "$rc"
}

# lab_small_disk DIR SIZE: a tmpfs of SIZE (e.g. 64k) mounted on DIR (created), mode 0777, for
# tests of a full disk; unmounted when the test ends.
lab_small_disk() {
  mkdir -p "$1"
  mount -t tmpfs -o "size=$2,mode=0777" gh-lab-small "$1" || lab_fail "cannot mount a $2 tmpfs on $1"
  LAB_MOUNTS+=("$1")
}

# lab_ns_exec NS CMD...: run CMD in namespace NS ("-" = the current one).
lab_ns_exec() {
  local ns=$1
  shift
  if [[ $ns == - ]]; then
    "$@"
  else
    ip netns exec "$ns" "$@"
  fi
}

# lab_ns_prefix NS: set LAB_PREFIX to the argv prefix that runs a command in NS ("-" = current),
# for background jobs: `"${LAB_PREFIX[@]}" cmd &` makes $! the command's own pid (ip netns exec
# execs it), which a function wrapper would not.
lab_ns_prefix() {
  if [[ $1 == - ]]; then
    LAB_PREFIX=()
  else
    LAB_PREFIX=(ip netns exec "$1")
  fi
}

# lab_ip NS ARGS...: `ip ARGS` in namespace NS ("-" = the current one).
lab_ip() {
  local ns=$1
  shift
  if [[ $ns == - ]]; then
    ip "$@"
  else
    ip -n "$ns" "$@"
  fi
}

# lab_local_block NET: the target namespace answers for every address of NET (a local route on
# its lo) and the scanner reaches NET through the target; then the scanner's isolation is checked.
lab_local_block() {
  ip -n "$LAB_NS_TARGET" route add local "$1" dev lo || lab_fail "local route for $1 in the target"
  ip -n "$LAB_NS_SCAN" route add "$1" via "$LAB_V4_TARGET" || lab_fail "route to $1 in the scanner"
  lab_assert_isolated "$LAB_NS_SCAN"
}

# Refuse to go on unless namespace NS has no route out: no default route (IPv4 or IPv6, any
# table) and no device other than lo and the lab veth ends. `ip route get` is a table lookup only;
# it sends nothing.
lab_assert_isolated() {
  local ns=$1 dev routes
  local where="namespace ${ns/#-/(current)}"
  # Whole output first, then grep: `ip | grep -q` under pipefail could hide a match.
  routes=$(lab_ip "$ns" -4 route show table all) || lab_fail "cannot list IPv4 routes of $where"
  if grep -Eq '^(default|0\.0\.0\.0/0)' <<<"$routes"; then
    lab_fail "$where has an IPv4 default route; refusing to scan from it"
  fi
  routes=$(lab_ip "$ns" -6 route show table all) || lab_fail "cannot list IPv6 routes of $where"
  if grep -Eq '^(default|::/0)' <<<"$routes"; then
    lab_fail "$where has an IPv6 default route; refusing to scan from it"
  fi
  if lab_ip "$ns" -4 route get 203.0.113.1 >/dev/null 2>&1; then
    lab_fail "$where can route to 203.0.113.1 (outside the lab); refusing to scan from it"
  fi
  if lab_ip "$ns" -6 route get 3fff::1 >/dev/null 2>&1; then
    lab_fail "$where can route to 3fff::1 (outside the lab); refusing to scan from it"
  fi
  while read -r dev; do
    case $dev in
      lo | "$LAB_IF_SCAN" | "$LAB_IF_TARGET") ;;
      *) lab_fail "$where has device '$dev' (only lo and the lab veth are allowed); refusing to scan from it" ;;
    esac
  done < <(lab_ip "$ns" -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}')
}

# Two namespaces, scanner and target, joined by a veth pair; no default routes.
lab_create() {
  local tag=${LAB_TAG:-$$} ns
  LAB_NS_SCAN="gh-scan-$tag"
  LAB_NS_TARGET="gh-target-$tag"
  export LAB_NS_SCAN LAB_NS_TARGET
  ip netns add "$LAB_NS_SCAN" || lab_fail "ip netns add $LAB_NS_SCAN failed (left over from an earlier run?)"
  ip netns add "$LAB_NS_TARGET" || lab_fail "ip netns add $LAB_NS_TARGET failed"
  for ns in "$LAB_NS_SCAN" "$LAB_NS_TARGET"; do
    ip -n "$ns" link set lo up
    # No duplicate address detection: addresses are usable at once.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 \
      net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 >/dev/null
  done
  ip -n "$LAB_NS_SCAN" link add "$LAB_IF_SCAN" type veth peer name "$LAB_IF_TARGET" netns "$LAB_NS_TARGET"
  ip -n "$LAB_NS_SCAN" addr add "$LAB_V4_SCAN/24" dev "$LAB_IF_SCAN"
  ip -n "$LAB_NS_SCAN" addr add "$LAB_V6_SCAN/64" dev "$LAB_IF_SCAN" nodad
  ip -n "$LAB_NS_TARGET" addr add "$LAB_V4_TARGET/24" dev "$LAB_IF_TARGET"
  ip -n "$LAB_NS_TARGET" addr add "$LAB_V6_TARGET/64" dev "$LAB_IF_TARGET" nodad
  ip -n "$LAB_NS_SCAN" link set "$LAB_IF_SCAN" up
  ip -n "$LAB_NS_TARGET" link set "$LAB_IF_TARGET" up
  lab_assert_isolated "$LAB_NS_SCAN"
  lab_assert_isolated "$LAB_NS_TARGET"
  lab_wait_reachable "$LAB_NS_SCAN" "$LAB_V4_TARGET" "$LAB_V6_TARGET"
  lab_log "lab up: $LAB_NS_SCAN ($LAB_V4_SCAN, $LAB_V6_SCAN) <-> $LAB_NS_TARGET ($LAB_V4_TARGET, $LAB_V6_TARGET)"
}

# lab_wait_reachable NS ADDR...: wait (5 s at most) until a TCP connect from NS to port 9 of each
# ADDR gets an answer (refused or accepted), i.e. links, ARP and neighbour discovery work.
lab_wait_reachable() {
  local ns=$1
  shift
  lab_ns_exec "$ns" python3 - "$@" <<'EOF' || lab_fail "lab targets $* not reachable from namespace $ns"
import socket, sys, time
deadline = time.monotonic() + 5
for addr in sys.argv[1:]:
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    while True:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(0.5)
        try:
            s.connect((addr, 9))
            break
        except ConnectionRefusedError:
            break
        except OSError as e:
            if time.monotonic() > deadline:
                print(f"{addr}: {e}", file=sys.stderr)
                sys.exit(1)
            time.sleep(0.1)
        finally:
            s.close()
EOF
}

# lab_listen_in NS PORT...: one background listener process in NS ("-" = current namespace) on
# every PORT, dual-stack (IPv4 and IPv6, every local address); returns once all are listening.
# Set LAB_LISTEN_LOG to a file to log accepted connections.
lab_listen_in() {
  local ns=$1
  shift
  (($#)) || return 0
  local log="$LAB_WORK/listen-${#LAB_PIDS[@]}.out" pid port missing
  local extra=()
  [[ -n ${LAB_LISTEN_LOG:-} ]] && extra=(--log "$LAB_LISTEN_LOG")
  lab_ns_prefix "$ns"
  "${LAB_PREFIX[@]}" python3 "$LAB_DIR/listen.py" "${extra[@]}" "$@" >"$log" 2>&1 &
  pid=$!
  LAB_PIDS+=("$pid")
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || lab_fail "listener in ${ns} died: $(cat "$log")"
    missing=()
    local listening
    listening=" $(lab_ns_exec "$ns" ss -Hltn | awk '{n = split($4, a, ":"); print a[n]}' | sort -un | tr '\n' ' ') "
    for port in "$@"; do
      [[ $listening == *" $port "* ]] || missing+=("$port")
    done
    if ((${#missing[@]} == 0)); then
      if (($# <= 30)); then
        lab_log "listening in ${ns/#-/(current namespace)} on tcp $(lab_join , "$@")"
      else
        lab_log "listening in ${ns/#-/(current namespace)} on $# tcp ports: $(lab_join , "${@:1:10}"),..."
      fi
      return 0
    fi
    sleep 0.1
  done
  lab_fail "listeners in $ns not up after 10 s; missing ports: ${missing[*]}"
}

lab_listen() { lab_listen_in "$LAB_NS_TARGET" "$@"; }

# lab_filter_in NS PORT...: nft in NS drops incoming TCP to PORT (IPv4 and IPv6). Replaces the
# set of an earlier call.
lab_filter_in() {
  local ns=$1
  shift
  (($#)) || return 0
  command -v nft >/dev/null 2>&1 || lab_fail "nft is not installed (needed to make filtered ports)"
  lab_ns_exec "$ns" nft delete table inet gh_lab 2>/dev/null || true
  lab_ns_exec "$ns" nft -f - <<EOF || lab_fail "nft rules could not be loaded in $ns"
table inet gh_lab {
  set drop_ports {
    type inet_service
    elements = { $(lab_join ', ' "$@") }
  }
  chain input {
    type filter hook input priority filter; policy accept;
    tcp dport @drop_ports drop
  }
}
EOF
  lab_log "dropping in ${ns/#-/(current namespace)} tcp to $(lab_join , "$@")"
}

lab_filter() { lab_filter_in "$LAB_NS_TARGET" "$@"; }

# lab_sniff_in NS IFACE OUTFILE [--synack]: log, in the background, the TCP/UDP packets IFACE in NS
# ("-" = current) sends (see sniff.py); returns once the capture is running.
lab_sniff_in() {
  local ns=$1 iface=$2 outfile=$3 pid
  shift 3
  lab_ns_prefix "$ns"
  "${LAB_PREFIX[@]}" python3 "$LAB_DIR/sniff.py" "$@" "$iface" >"$outfile" 2>"$outfile.err" &
  pid=$!
  LAB_PIDS+=("$pid")
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || lab_fail "packet capture on $iface died: $(cat "$outfile.err")"
    [[ -s $outfile ]] && return 0
    sleep 0.1
  done
  lab_fail "packet capture on $iface not ready after 10 s"
}

# lab_join SEP WORD...: WORDs joined by SEP.
lab_join() {
  local sep=$1 out="" w
  shift
  for w in "$@"; do
    out+="${out:+$sep}$w"
  done
  printf '%s' "$out"
}

# random_ports N SEED [EXCLUDE...]: N distinct ports in 1-65535, sorted, space separated, none of
# them in EXCLUDE (ports or ranges "a-b", space or comma separated). Same SEED, same ports.
random_ports() {
  python3 - "$@" <<'EOF'
import random, re, sys
n, seed = int(sys.argv[1]), sys.argv[2]
excluded = set()
for item in re.split(r"[,\s]+", " ".join(sys.argv[3:]).strip()):
    if item:
        lo, _, hi = item.partition("-")
        excluded.update(range(int(lo), int(hi or lo) + 1))
pool = [p for p in range(1, 65536) if p not in excluded]
print(" ".join(map(str, sorted(random.Random(f"glasshouse-lab-{seed}").sample(pool, n)))))
EOF
}

# lab_scan NS NAME ARGS...: run `glasshouse scan ARGS` in namespace NS ("-" = current) under a
# timeout of $LAB_SCAN_TIMEOUT (300) s, stdout/stderr in $LAB_WORK/NAME.{stdout,stderr}.
# Returns non-zero (after printing why) when it does not exit $LAB_EXPECT_RC (0; "any": any
# status but a crash or timeout), times out, or
# prints a crash marker. Sets LAB_SCAN_RC and LAB_SCAN_SECONDS.
# Host discovery: the port-scan tests are about ports of hosts known to be up, so lab_scan adds
# -Pn unless the arguments choose discovery themselves (-sn, -Pn or any -P*/--send-ip), or
# LAB_DISCOVERY=1 asks for nmap's default discovery.
lab_scan() {
  local ns=$1 name=$2
  shift 2
  lab_assert_isolated "$ns"
  local out="$LAB_WORK/$name.stdout" err="$LAB_WORK/$name.stderr"
  local a pn=(-Pn)
  [[ ${LAB_DISCOVERY:-0} == 1 ]] && pn=()
  for a in "$@"; do
    case $a in -sn | -P* | --send-ip | --resume | --resume=*) pn=() ;; esac
  done
  local cmd=("$GH" scan "${pn[@]}" "$@")
  [[ $ns == - ]] || cmd=(ip netns exec "$ns" "${cmd[@]}")
  lab_log "$name: [${ns/#-/current namespace}] glasshouse scan $*"
  local t0 t1
  t0=$(date +%s.%N)
  LAB_SCAN_RC=0
  timeout -k 10 "${LAB_SCAN_TIMEOUT:-300}" "${cmd[@]}" >"$out" 2>"$err" </dev/null || LAB_SCAN_RC=$?
  t1=$(date +%s.%N)
  LAB_SCAN_SECONDS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  lab_log "$name: exit $LAB_SCAN_RC after ${LAB_SCAN_SECONDS} s"
  if lab_has_crash_marker "$err"; then
    lab_show_tail "$err" "$name stderr"
    printf '%s: crash marker on stderr\n' "$name" >&2
    return 1
  fi
  if [[ $LAB_SCAN_RC -eq 134 || $LAB_SCAN_RC -eq 136 || $LAB_SCAN_RC -eq 139 ]]; then
    lab_show_tail "$err" "$name stderr"
    printf '%s: killed by signal %s (crash)\n' "$name" "$((LAB_SCAN_RC - 128))" >&2
    return 1
  fi
  if [[ $LAB_SCAN_RC -eq 124 || $LAB_SCAN_RC -eq 137 ]]; then
    lab_show_tail "$err" "$name stderr"
    printf '%s: timed out after %s s\n' "$name" "${LAB_SCAN_TIMEOUT:-300}" >&2
    return 1
  fi
  if [[ ${LAB_EXPECT_RC:-0} != any && $LAB_SCAN_RC -ne ${LAB_EXPECT_RC:-0} ]]; then
    lab_show_tail "$err" "$name stderr"
    printf '%s: exit status %s, expected %s\n' "$name" "$LAB_SCAN_RC" "${LAB_EXPECT_RC:-0}" >&2
    return 1
  fi
  return 0
}

lab_has_crash_marker() {
  grep -Eq 'terminate called|what\(\): |Segmentation fault|core dumped|AddressSanitizer|LeakSanitizer|runtime error: |[Ss]tack trace' "$1"
}

lab_show_tail() {
  local file=$1 label=$2
  [[ -s $file ]] || { printf '  (%s is empty)\n' "$label" >&2; return 0; }
  printf '  --- last lines of %s (%s) ---\n' "$label" "$file" >&2
  tail -n 20 "$file" | sed 's/^/  | /' >&2
}

# lab_check_jsonl FILE EXPECT_OPEN EXPECT_FILTERED TOTAL_PORTS ADDR [check_results.py options]:
# exactly EXPECT_OPEN open, exactly EXPECT_FILTERED filtered, every other port of TOTAL_PORTS
# closed, on ADDR (an address or a CIDR block); port lists are comma or space separated.
lab_check_jsonl() {
  local file=$1 open=$2 filtered=$3 ports=$4 addr=$5
  shift 5
  [[ -f $file ]] || { printf '%s: no output file\n' "$file" >&2; return 1; }
  python3 "$LAB_DIR/check_results.py" "$file" --addr "$addr" --ports "$ports" \
    --open "$open" --filtered "$filtered" "$@"
}
