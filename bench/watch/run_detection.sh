#!/bin/bash
# Probes to detection, glasshouse watch beside scanlogd, in the namespace lab of tests/lab.
#
#   bash bench/watch/run_detection.sh /path/to/glasshouse [OUT.md]
#
# Both detectors watch the target namespace at once while the scanner namespace runs, each from
# its own address: nmap -sS at -T5, -T4, -T3, -T2 and -T1 (-T1 waits 15 s between probes: 8 ports,
# about 2 minutes, run alongside the rest), -sF, -sX, -sN, -sU, a masscan sweep of one port
# across a /24, and 300 ordinary connections (the false-alarm check). The scanned ports are
# closed except 22, 80 and 443. Then the capture (tcpdump) is replayed through
# `glasshouse watch -r` to check that offline reading gives the same verdicts.
# For each case: did it raise an alert, after how many probes (the "probes" field of the "new"
# record) and how long after the first probe; did scanlogd log it. The cases are spaced $SPACING
# (21) seconds apart, because scanlogd stops logging for a while after 5 scans in 20 s. About
# 5 minutes.
# Needs root, nmap, masscan, scanlogd, tcpdump. Everything stays inside the lab namespaces.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../tests/lab/watch_lib.sh"
lab_require_root
lab_require_cmd nmap masscan scanlogd tcpdump
OUT_MD=${2:-}
lab_init "$1"
watch_lab_up
lab_listen 22 80 443
T=$LAB_V4_TARGET

# tcpdump, for the offline replay.
ip netns exec "$LAB_NS_TARGET" tcpdump -i "$LAB_IF_TARGET" --immediate-mode -w "$LAB_WORK/lab.pcap" -U -s 256 \
  'tcp or udp or icmp or icmp6' >"$LAB_WORK/tcpdump.out" 2>&1 &
LAB_PIDS+=($!)

# scanlogd in the target namespace, logging into a syslog socket of our own: a private mount
# namespace puts a fresh /dev (with /dev/null) over the real one, so nothing outside is touched.
mkdir -p /run/scanlogd/empty
: >"$LAB_WORK/scanlogd.log"
ip netns exec "$LAB_NS_TARGET" unshare -m --propagation private bash -c '
  set -e
  mkdir -p "$1/olddev" && mount --bind /dev "$1/olddev"
  mount -t tmpfs tmpfs /dev
  touch /dev/null && mount --bind "$1/olddev/null" /dev/null
  python3 "$2/syslog_sink.py" /dev/log "$1/scanlogd.log" &
  for _ in $(seq 50); do [ -S /dev/log ] && break; sleep 0.1; done
  scanlogd
  wait' _ "$LAB_WORK" "$HERE" >"$LAB_WORK/scanlogd.out" 2>&1 &
LAB_PIDS+=($!)
sleep 1

watch_start live
sleep 1

declare -A CASE_SRC CASE_DESC
add_case() { CASE_SRC[$1]=$2; CASE_DESC[$1]=$3; ORDER+=("$1"); }
ORDER=()
# -T1 first, in the background: 15 s between probes.
add_case T1 198.18.0.21 "nmap -sS -T1, 8 closed ports (15 s between probes)"
WATCH_NMAP_TIMEOUT=400 watch_nmap T1 -sS -T1 -S 198.18.0.21 -e gh0 -p 1000-1007 "$T" &
t1_pid=$!
SPACING=${SPACING:-21}
run() {  # run NAME SRC DESC nmap-args...
  local name=$1 src=$2 desc=$3
  shift 3
  add_case "$name" "$src" "$desc"
  watch_nmap "$name" -S "$src" -e gh0 "$@" "$T"
  sleep "$SPACING"  # scanlogd stops logging after 5 scans in 20 s: keep its counter low
}
run T5 198.18.0.25 "nmap -sS -T5, 1000 ports" -sS -T5
run T4 198.18.0.24 "nmap -sS -T4, 1000 ports" -sS -T4
run T3 198.18.0.23 "nmap -sS -T3, 1000 ports" -sS -T3
run T2 198.18.0.22 "nmap -sS -T2, 40 ports (0.4 s between probes)" -sS -T2 -p 1-40
run FIN 198.18.0.11 "nmap -sF -T4, 1000 ports" -sF -T4
run XMAS 198.18.0.12 "nmap -sX -T4, 1000 ports" -sX -T4
run NULL 198.18.0.13 "nmap -sN -T4, 1000 ports" -sN -T4
run UDP 198.18.0.15 "nmap -sU -T4, 100 ports" -sU -T4 -p 1-100

mac=$(ip -n "$LAB_NS_TARGET" -o link show "$LAB_IF_TARGET" | grep -o 'link/ether [0-9a-f:]*' | awk '{print $2}')
add_case MASSCAN 198.18.0.20 "masscan, port 81 across 198.18.1.0/24, 100 packets/s"
lab_assert_isolated "$LAB_NS_SCAN"
ip netns exec "$LAB_NS_SCAN" masscan 198.18.1.0/24 -p81 --rate 100 --wait 3 --interface "$LAB_IF_SCAN" \
  --router-mac "$mac" --source-ip 198.18.0.20 >"$LAB_WORK/masscan.out" 2>&1 || lab_failed "masscan failed"
sleep 5

add_case BENIGN 198.18.0.30 "300 ordinary connections to ports 22, 80, 443"
ip netns exec "$LAB_NS_SCAN" python3 "$LAB_DIR/watch_client.py" 198.18.0.30 "$T" 300 22 80 443 >/dev/null ||
  lab_failed "benign client failed"

wait "$t1_pid" || lab_failed "nmap -T1 failed"
sleep 4
watch_stop
sleep 1
"$GH" watch -r "$LAB_WORK/lab.pcap" --local 198.18.0.2 --local 198.18.1.0/24 --alerts "$LAB_WORK/offline.jsonl" -q \
  2>"$LAB_WORK/offline.stderr" || lab_failed "offline replay failed"

python3 - "$LAB_WORK" "$OUT_MD" "${ORDER[@]}" -- "${ORDER[@]/#/}" <<PY
import json, sys, datetime
work, out_md = sys.argv[1], sys.argv[2]
names = sys.argv[3:sys.argv.index("--")]
src = {$(for k in "${ORDER[@]}"; do printf '"%s":"%s",' "$k" "${CASE_SRC[$k]}"; done)}
desc = {$(for k in "${ORDER[@]}"; do printf '"%s":"%s",' "$k" "${CASE_DESC[$k]}"; done)}
def load(path):
    new = {}
    for line in open(path):
        r = json.loads(line)
        if r["event"] == "new" and r["src"] not in new:
            new[r["src"]] = r
    return new
live, offline = load(f"{work}/live.jsonl"), load(f"{work}/offline.jsonl")
scanlogd = open(f"{work}/scanlogd.log").read()
def ts(s): return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
rows = ["| case | glasshouse (live) | probes to detection | time to detection | type / shape / tool | offline replay | scanlogd |",
        "|---|---|---|---|---|---|---|"]
for n in names:
    s = src[n]
    r, o = live.get(s), offline.get(s)
    sl = "detected" if (s + " to ") in scanlogd or (s + ":") in scanlogd else "missed"
    if n == "BENIGN":
        sl = "false alarm" if sl == "detected" else "nothing (correct)"
    if r:
        tool = (r.get("tool") or {}).get("name") or "-"
        row = [n + ": " + desc[n], "detected" if n != "BENIGN" else "FALSE ALARM", str(r["probes"]),
               f"{ts(r['detected_at']) - ts(r['first_seen']):.2f} s", f"{r['type']} / {r['shape']} / {tool}",
               f"detected after {o['probes']} probes" if o else "missed", sl]
    else:
        row = [n + ": " + desc[n], "missed" if n != "BENIGN" else "nothing (correct)", "-", "-", "-",
               ("detected" if o else "missed") if n != "BENIGN" else ("FALSE ALARM" if o else "nothing (correct)"), sl]
    rows.append("| " + " | ".join(row) + " |")
text = "\n".join(rows)
print(text)
if out_md:
    open(out_md, "w").write(text + "\n")
PY
lab_log "scanlogd said:"
sed 's/^/  /' "$LAB_WORK/scanlogd.log"
lab_finish
