#!/usr/bin/env bash
# Quick measure of benchmark case 4 (a connect scan of every port of loopback) without the full lab:
#
#   bash bench/scan/connect_probe.sh [GLASSHOUSE] [REPEAT] [ADDR]
#
# Runs itself again inside a new network namespace (unshare -n: root, or a user namespace) that
# has only `lo`, starts 100 listeners on random ports (tests/lab/listen.py, dual-stack), then runs
# glasshouse -sT -T4, glasshouse -sT -T5 --max-rate 0, nmap -sT -T4 and nmap -sT -T5 REPEAT times
# each, interleaved, against ADDR (127.0.0.1 by default, or ::1). Prints every run's wall time and
# open ports found (against the truth: "100/100 0 false"), then the medians and glasshouse/nmap
# ratios. Nothing leaves the namespace: it has no device but lo. GH_EXTRA adds options to both
# glasshouse runs; NMAP=0 leaves nmap out; GH_BEFORE=BINARY adds that glasshouse's two runs (to
# compare a change with what it replaces, in the same conditions).
set -euo pipefail

GH=${1:-build/glasshouse}
REPEAT=${2:-5}
ADDR=${3:-127.0.0.1}
HERE=$(cd "$(dirname "$0")" && pwd)
LISTEN=$HERE/../../tests/lab/listen.py

case $ADDR in
  127.* | ::1) ;;
  *)
    echo "connect_probe.sh: only 127.0.0.0/8 or ::1, not $ADDR" >&2
    exit 2
    ;;
esac

if [[ ${CONNECT_PROBE_INNER:-} != 1 ]]; then
  GH=$(realpath "$GH")
  [[ -n ${GH_BEFORE:-} ]] && GH_BEFORE=$(realpath "$GH_BEFORE")
  exec unshare -n env CONNECT_PROBE_INNER=1 GH_BEFORE="${GH_BEFORE:-}" bash "$0" "$GH" "$REPEAT" "$ADDR"
fi

# Inside the namespace from here on.
ip link set lo up
if [[ $(ip -o link show | grep -vc ': lo:') != 0 ]]; then
  echo "connect_probe.sh: the namespace has a device other than lo" >&2
  exit 1
fi
W=$(mktemp -d)
trap 'kill "$LPID" 2>/dev/null || true; rm -rf "$W"' EXIT

mapfile -t PORTS < <(python3 -c 'import random; print("\n".join(map(str, sorted(random.sample(range(1, 65536), 100)))))')
python3 "$LISTEN" "${PORTS[@]}" >"$W/listen.out" 2>&1 &
LPID=$!
for _ in $(seq 100); do
  grep -q ready "$W/listen.out" 2>/dev/null && break
  sleep 0.1
done
grep -q ready "$W/listen.out" || {
  cat "$W/listen.out" >&2
  exit 1
}
printf "%s\n" "${PORTS[@]}" | sort -n >"$W/truth"

# found FILE: the open ports in a glasshouse JSON Lines file or an nmap grepable file, one a line.
found() {
  python3 - "$1" <<'EOF'
import json, re, sys
text = open(sys.argv[1]).read()
ports = set()
if sys.argv[1].endswith(".jsonl"):
    for line in text.splitlines():
        if line.strip():
            r = json.loads(line)
            if r.get("state") == "open" and "port" in r:
                ports.add(int(r["port"]))
else:
    for m in re.finditer(r"(\d+)/open/tcp", text):
        ports.add(int(m.group(1)))
print("\n".join(map(str, sorted(ports))))
EOF
}

# run NAME OUT -- CMD...: one timed run; appends "NAME seconds" to $W/times.
run() {
  local name=$1 out=$2
  shift 3
  rm -f "$out"
  /usr/bin/time -o "$W/time" -f "%e %M" "$@" >/dev/null 2>"$W/err" || true
  if [[ -s $W/err ]]; then grep -v '^$' "$W/err" | head -3 >&2 || true; fi
  local t sec kib hit false
  t=$(tail -1 "$W/time")
  sec=${t%% *} kib=${t##* }
  found "$out" >"$W/found"
  hit=$(comm -12 "$W/truth" <(sort -n "$W/found") | wc -l)
  false=$(comm -13 "$W/truth" <(sort -n "$W/found") | wc -l)
  printf "%-22s %6s s %7s KiB  %3d/100 open, %d false\n" "$name" "$sec" "$kib" "$hit" "$false"
  echo "$name $sec" >>"$W/times"
}

A=$ADDR
for ((r = 1; r <= REPEAT; r++)); do
  # shellcheck disable=SC2086
  run "glasshouse -T4" "$W/gh.jsonl" -- "$GH" scan -sT -p- -n -Pn -T4 --no-status ${GH_EXTRA:-} \
    -oJ "$W/gh.jsonl" "$A"
  # shellcheck disable=SC2086
  run "glasshouse -T5" "$W/gh.jsonl" -- "$GH" scan -sT -p- -n -Pn -T5 --max-rate 0 --no-status \
    ${GH_EXTRA:-} -oJ "$W/gh.jsonl" "$A"
  if [[ -n ${GH_BEFORE:-} ]]; then
    run "before -T4" "$W/gh.jsonl" -- "$GH_BEFORE" scan -sT -p- -n -Pn -T4 --no-status \
      -oJ "$W/gh.jsonl" "$A"
    run "before -T5" "$W/gh.jsonl" -- "$GH_BEFORE" scan -sT -p- -n -Pn -T5 --max-rate 0 \
      --no-status -oJ "$W/gh.jsonl" "$A"
  fi
  if [[ ${NMAP:-1} == 1 ]]; then
    six=()
    [[ $A == *:* ]] && six=(-6)
    run "nmap -T4" "$W/nmap.gnmap" -- nmap "${six[@]}" -sT -T4 -p- -n -Pn -oG "$W/nmap.gnmap" "$A"
    run "nmap -T5" "$W/nmap.gnmap" -- nmap "${six[@]}" -sT -T5 -p- -n -Pn -oG "$W/nmap.gnmap" "$A"
  fi
done

python3 - "$W/times" <<'EOF'
import statistics, sys
t = {}
for line in open(sys.argv[1]):
    name, sec = line.rsplit(" ", 1)
    t.setdefault(name, []).append(float(sec))
med = {k: statistics.median(v) for k, v in t.items()}
print("\nmedians over %d runs:" % max(len(v) for v in t.values()))
for k, v in med.items():
    print("  %-16s %.2f s" % (k, v))
for g in ("glasshouse -T4", "glasshouse -T5", "before -T4", "before -T5"):
    for n in ("nmap -T4", "nmap -T5"):
        if g in med and n in med:
            print("  %s / %s = %.2f" % (g, n, med[g] / med[n]))
EOF
