#!/bin/bash
# Probes from the first one to the block, per scanner type, with `glasshouse watch --block`
# (challenge before block), in the namespace lab of tests/lab; then a spoofed-source flood.
#
#   bash bench/watch/run_block.sh /path/to/glasshouse [OUT.md]
#   WATCH_ARGS="--cpu-reserve 0" bash bench/watch/run_block.sh ...   # more watch options (to
#                                                                    # measure one change alone)
#   NMAP_ONLY=5 bash bench/watch/run_block.sh ...   # only nmap -sS and -sU at full speed, 5 runs
#                                                   # each (no flood, no delayed link): ~1 minute
#
# Each scanner runs from its own address against the target (1000 ports; masscan and zmap sweep
# port 81 across 198.18.1.0/24), once at full speed and once at 100 probes per second. tcpdump on
# the target's interface records everything. For each run:
#   - "answered": the scanner's probes that the target answered (RST, SYN-ACK or ICMP
#     unreachable). Once the source is blocked, nftables drops its probes before the stack, so
#     this is the number of probes that got through from the first one to the block;
#   - "at the detection / at the blocked record": the `probes` field of the source's first alert
#     record (the detector's decision) and of its first record with "blocked":true. With the
#     kernel's check of the answer that second record is written when this process reads the
#     answer, after the kernel already blocked the source: it counts the probes read up to then
#     (close to "answered"), not those before the decision;
#   - the proof (challenge or handshake) and the time from the first probe to the block.
# Then 100,000 spoofed sources (2,000 of them repeating enough to be detected) flood the target:
# blocks must be 0, challenges within their budget. Needs root, nmap, masscan, zmap, tcpdump.
# Everything stays in the lab namespaces. About 3 minutes.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../tests/lab/watch_lib.sh"
lab_require_root
lab_require_cmd nmap masscan zmap tcpdump nft
OUT_MD=${2:-}
lab_init "$1"
watch_lab_up
lab_listen 22 80 443
T=$LAB_V4_TARGET
ip -n "$LAB_NS_SCAN" addr add 198.18.0.250/24 dev "$LAB_IF_SCAN"
ip -n "$LAB_NS_TARGET" route add 198.18.0.0/15 via 198.18.0.250 dev "$LAB_IF_TARGET"
lab_assert_isolated "$LAB_NS_TARGET"

watch_capture_start "$LAB_WORK/bench.pcap"
# shellcheck disable=SC2086
watch_start bench --block --block-for 10m --nft-table gh_bench --stats 60s ${WATCH_ARGS:-}
CASES=()
case_add() { CASES+=("$1|$2|$3"); }  # name|src|description
pause() { sleep 2; }

n=10
if [[ -n ${NMAP_ONLY:-} ]]; then
  for _ in $(seq "$NMAP_ONLY"); do
    for kind in sS sU; do
      src=198.18.0.$n; n=$((n + 1))
      ports=(-p 1-1000); [[ $kind == sU ]] && ports=(-p 1-200)
      case_add "nmap -$kind (full)" "$src" "nmap -$kind -T4 ${ports[*]}"
      watch_nmap "b$n" "-$kind" -T4 --max-retries 1 --host-timeout 8s -S "$src" -e gh0 "${ports[@]}" "$T"
      pause
    done
  done
fi
for rate in full 100; do
  [[ -n ${NMAP_ONLY:-} ]] && break
  nm_rate=(); ms_rate=(--rate 20000); zm_rate=(-r 20000)
  if [[ $rate == 100 ]]; then
    nm_rate=(--max-rate 100); ms_rate=(--rate 100); zm_rate=(-r 100)
  fi
  for kind in sS sF sU sT; do
    src=198.18.0.$n; n=$((n + 1))
    ports=(-p 1-1000); [[ $kind == sU ]] && ports=(-p 1-200)
    case_add "nmap -$kind ($rate)" "$src" "nmap -$kind -T4 ${ports[*]} ${nm_rate[*]}"
    watch_nmap "b$n" "-$kind" -T4 --max-retries 1 --host-timeout 8s -S "$src" -e gh0 "${ports[@]}" "${nm_rate[@]}" "$T"
    pause
  done
  src=198.18.0.$n; n=$((n + 1))
  case_add "masscan ($rate)" "$src" "masscan 198.18.1.0/24 -p81 ${ms_rate[*]}"
  watch_masscan "m$n" "$src" 198.18.1.0/24 -p81 "${ms_rate[@]}"
  pause
  src=198.18.0.$n; n=$((n + 1))
  case_add "zmap ($rate)" "$src" "zmap -M tcp_synscan -p 81 198.18.1.0/24 ${zm_rate[*]}"
  watch_zmap "z$n" "$src" -p 81 "${zm_rate[@]}" 198.18.1.0/24
  pause
done
if [[ -n ${NMAP_ONLY:-} ]]; then
  # No flood: its counters are those of the whole run, and nothing is compared.
  kill -USR1 "$WATCH_PID"
  sleep 0.5
  pre_stats=$(grep 'stats: packets' "$WATCH_LOG" | tail -1)
  flood_stats=$pre_stats
  t0=$(date +%s.%N)
  t1=$t0
else
# glasshouse scan sends from the scanner namespace's first address only: one run.
case_add "glasshouse scan (full)" "$LAB_V4_SCAN" "glasshouse scan -sS -p 1-1000"
lab_scan "$LAB_NS_SCAN" ghscan -sS -n -p 1-1000 "$T" || lab_failed "glasshouse scan failed"
pause

# The spoofed flood (its counters are the difference between two SIGUSR1 lines).
kill -USR1 "$WATCH_PID"
sleep 0.5
pre_stats=$(grep 'stats: packets' "$WATCH_LOG" | tail -1)
t0=$(date +%s.%N)
lab_assert_isolated "$LAB_NS_SCAN"
ip netns exec "$LAB_NS_SCAN" python3 "$LAB_DIR/watch_flood.py" "$T" 100000 "$LAB_SEED" \
  --repeat 10 --ports 21,22,23,25,80,110,135,139,143,443,445,993,995,3389 >"$LAB_WORK/flood.out" ||
  lab_failed "flood failed"
sleep 4
t1=$(date +%s.%N)
kill -USR1 "$WATCH_PID"
sleep 0.5
flood_stats=$(grep 'stats: packets' "$WATCH_LOG" | tail -1)

# A realistic round trip: the scanner's link through a delay line of RTT_MS/2 each way (this
# kernel has no netem): the scanner's veth end moves into a third namespace (no address, no
# route), where delay_link.py forwards frames between it and a new veth pair whose other end,
# under the same name, is the scanner's link now: FIFO, RTT_MS/2 later, each way. Raw-socket
# scanners only, from fresh addresses (the target's neighbour cache knows the old link address).
RTT_MS=${RTT_MS:-20}
DELAY_NS="gh-delay-$$"
bench_cleanup() {
  local rc=$?
  [[ -n ${DELAY_PID:-} ]] && kill "$DELAY_PID" 2>/dev/null && wait "$DELAY_PID" 2>/dev/null
  ip netns del "$DELAY_NS" 2>/dev/null
  (exit "$rc")
  lab_cleanup
}
trap bench_cleanup EXIT
ip netns add "$DELAY_NS"
ip -n "$DELAY_NS" link set lo up
ip -n "$LAB_NS_SCAN" link set "$LAB_IF_SCAN" netns "$DELAY_NS"
ip -n "$LAB_NS_SCAN" link add "$LAB_IF_SCAN" type veth peer name gd1 netns "$DELAY_NS"
ip -n "$DELAY_NS" link set "$LAB_IF_SCAN" up
ip -n "$DELAY_NS" link set gd1 up
ip -n "$LAB_NS_SCAN" link set "$LAB_IF_SCAN" up
for i in $(seq 60 69) 250; do ip -n "$LAB_NS_SCAN" addr add "198.18.0.$i/24" dev "$LAB_IF_SCAN"; done
ip -n "$LAB_NS_SCAN" route add 198.18.1.0/24 via "$T" dev "$LAB_IF_SCAN"
ip -n "$DELAY_NS" route show table all | grep -q '^default' && lab_fail "the delay namespace has a default route"
ip netns exec "$LAB_NS_SCAN" python3 "$HERE/delay_link.py" --no-csum-offload "$LAB_IF_SCAN"
ip netns exec "$LAB_NS_TARGET" python3 "$HERE/delay_link.py" --no-csum-offload "$LAB_IF_TARGET"
ip netns exec "$DELAY_NS" python3 "$HERE/delay_link.py" gd1 "$LAB_IF_SCAN" $((RTT_MS / 2)) \
  >"$LAB_WORK/delay.out" 2>&1 &
DELAY_PID=$!
lab_assert_isolated "$LAB_NS_SCAN"
sleep 1
# The round trip of a TCP handshake to an open port over the delayed link (best of three), from
# .250, which scans nothing (a completed handshake proves its source: not a scanner's address).
rtt_seen=$(ip netns exec "$LAB_NS_SCAN" python3 -c '
import socket, sys, time
best = None
for _ in range(3):
    t = time.monotonic()
    socket.create_connection((sys.argv[1], 22), 3, source_address=("198.18.0.250", 0)).close()
    best = min(best or 9e9, time.monotonic() - t)
print(f"{best * 1000:.1f}")' "$T" 2>&1) || lab_failed "the delayed link does not work: $rtt_seen"
lab_log "delayed link: TCP handshake round trip $rtt_seen ms"
n=60
for kind in sS sF sU; do
  src=198.18.0.$n; n=$((n + 1))
  ports=(-p 1-1000); [[ $kind == sU ]] && ports=(-p 1-200)
  case_add "nmap -$kind (rtt)" "$src" "nmap -$kind -T4 ${ports[*]}, RTT ${RTT_MS} ms"
  watch_nmap "r$n" "-$kind" -T4 --max-retries 1 --host-timeout 8s -S "$src" -e "$LAB_IF_SCAN" "${ports[@]}" "$T"
  pause
done
src=198.18.0.$n; n=$((n + 1))
case_add "masscan (rtt)" "$src" "masscan 198.18.1.0/24 -p81 --rate 20000, RTT ${RTT_MS} ms"
watch_masscan "m$n" "$src" 198.18.1.0/24 -p81 --rate 20000
pause
src=198.18.0.$n; n=$((n + 1))
case_add "zmap (rtt)" "$src" "zmap -M tcp_synscan -p 81 198.18.1.0/24 -r 20000, RTT ${RTT_MS} ms"
watch_zmap "z$n" "$src" -p 81 -r 20000 198.18.1.0/24
pause
fi
watch_stop
watch_capture_stop

python3 - "$LAB_WORK" "$OUT_MD" "$T" "$flood_stats" "$t0" "$t1" "$pre_stats" "${CASES[@]}" <<'PY'
import datetime, json, re, statistics, subprocess, sys
work, out_md, target, flood, t0, t1, pre = sys.argv[1:8]
cases = [c.split("|") for c in sys.argv[8:]]
def ts(s): return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
records = [json.loads(l) for l in open(f"{work}/bench.jsonl")]
def tcpdump(expr):
    out = subprocess.run(["tcpdump", "-tt", "-nn", "-S", "-r", f"{work}/bench.pcap", expr],
                         capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if l.strip()]
rows = ["| scanner | command | probes sent | answered before the block | at the detection / at the blocked record | proof | challenge round trip | first probe to last answer | detecting probe to block: wait + challenge + answer wait + nft = total (us) |",
        "|---|---|---|---|---|---|---|---|---|"]
answered_all = []
for name, src, desc in cases:
    probes = tcpdump(f"src host {src} and (tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 and tcp[tcpflags] & tcp-ack == 0 or udp)")
    sent = len(probes)
    replies = tcpdump(f"dst host {src} and (tcp or icmp)")
    # Our challenge is the SYN-ACK with window 65535 and a lone MSS option: not an answer. The
    # target retransmits SYN-ACKs whose RST the block dropped: count each probe's answer once
    # (by the answer's addresses and ports, or the ICMP error's quoted ports).
    challenges = [l for l in replies if "win 65535, options [mss 1460]" in l and "[S.]" in l]
    seen, firsts = set(), []
    for l in replies:
        if l in challenges:
            continue
        key = " ".join(l.split()[1:4]) if " ICMP " not in l else l.split(" udp port ")[-1] if " udp port " in l else l
        if key not in seen:
            seen.add(key)
            firsts.append(l)
    answered = len(firsts)
    # The challenge's round trip: our SYN-ACK to the RST from the source carrying its ack.
    rtts = []
    for c in challenges:
        m = re.search(r"ack (\d+)", c)
        if not m:
            continue
        for r in tcpdump(f"src host {src} and tcp[tcpflags] & tcp-rst != 0"):
            if f"seq {m.group(1)}" in r and float(r.split()[0]) >= float(c.split()[0]):
                rtts.append((float(r.split()[0]) - float(c.split()[0])) * 1e6)
                break
    recs = [r for r in records if r["src"] == src]
    blk = next((r for r in recs if r.get("blocked")), None)
    new = next((r for r in recs if r.get("event") == "new"), None)
    at_detection = new["probes"] if new else "-"
    rtt = f"{min(rtts):.0f} us" if rtts else "-"
    lat = blk.get("block_latency_us") if blk else None
    lat = (f"{lat['probe_wait']} + {lat['challenge_rtt']} + {lat['answer_wait']} + {lat['nft']} = {lat['total']}"
           if lat else "-")
    if blk and probes and firsts:
        span = float(firsts[-1].split()[0]) - float(probes[0].split()[0])
        rows.append(f"| {name} | `{desc}` | {sent} | {answered} | {at_detection} / {blk['probes']} | {blk.get('proof', '-')} | {rtt} | {span * 1000:.1f} ms | {lat} |")
        answered_all.append((name, answered))
    else:
        rows.append(f"| {name} | `{desc}` | {sent} | {answered} | not blocked | - | {rtt} | - | - |")
def median(sel):
    v = [a for n, a in answered_all if sel(n)]
    return statistics.median(v) if v else None
pats = {"blocks": r"blocks (\d+)", "challenges": r"challenges (\d+)", "proven": r"proven (\d+)",
        "alerts": r"alerts (\d+)"}
m = {k: int(re.search(p, flood).group(1)) - int(re.search(p, pre).group(1)) for k, p in pats.items()}
budget = 20 + 100 * (float(t1) - float(t0))
text = "\n".join(rows) + "\n\n"
text += (f"Median probes answered before the block: {median(lambda n: '(100)' in n)} at 100 probes/s, "
         f"{median(lambda n: '(full)' in n)} at full speed, {median(lambda n: '(rtt)' in n)} at full "
         f"speed over the delayed link, {median(lambda n: True)} over all "
         f"{len(answered_all)} blocked runs.\n\n")
text += (f"Spoofed flood (100,000 sources, 118,000 SYNs to 3 open and 11 closed ports): "
         f"{m['alerts']} alerts, {m['blocks']} blocks, {m['challenges']} challenges sent "
         f"(budget 20 + 100/s over {float(t1) - float(t0):.0f} s = {budget:.0f}), {m['proven']} proven.\n")
print(text)
if out_md:
    open(out_md, "w").write(text)
PY
lab_finish
