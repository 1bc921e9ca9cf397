#!/usr/bin/env bash
# --dry-run prints the probes a scan would send, and sends none (as zmap's dry-run tests check):
# every printed packet's fields are checked against the probe it stands for.
#
#  * every (address, port) of the targets x ports once, nothing else; the scan's permutation
#    order is the same for the same --seed;
#  * source address: the scanner's own on the route (198.18.0.1, 2001:db8::1 in the lab;
#    127.0.0.1 and ::1 on loopback); source port in the cookie range [40000, 60000);
#  * TCP flags exactly SYN, window 1024, MSS 1460, TTL/hop limit 64;
#  * the cookie (sequence number and source port) is keyed by a secret drawn per run: two dry
#    runs with the same --seed print the same probes in the same order with other cookies; within
#    a run no two probes share a sequence number;
#  * each probe's cookie is the one net/cookie.h defines: `--dry-run -v` prints its key on stderr (it
#    sends nothing, so the key protects nothing), and the test recomputes every source port and
#    sequence number with its own SipHash-2-4;
#  * nothing leaves: a capture on the scanner's interface sees no packet.
#
#   bash tests/lab/test_dry_run.sh /path/to/glasshouse
# ctest-labels: sanitize
set -uo pipefail
. "$(dirname "$0")/lib.sh"

lab_require_root
lab_init "$@"
lab_create
PORTS=22,80,443,8080

check_dry_run() {
  local a=$1 b=$2 targets=$3 ports=$4 src4=$5 src6=$6
  python3 - "$a" "$b" "$targets" "$ports" "$src4" "$src6" <<'PY'
import ipaddress, re, sys
a, b, targets, ports, src4, src6 = sys.argv[1:7]
LINE = re.compile(r"^(\S+):(\d+) > (\S+):(\d+) TCP \[(\w*)\] seq=(\d+) win=(\d+) mss=(\d+) ttl=(\d+)$")
def strip(addr):
    return addr[1:-1] if addr.startswith("[") else addr
def read(path):
    out = []
    for n, line in enumerate(open(path), 1):
        m = LINE.match(line.rstrip("\n"))
        if not m:
            sys.exit(f"{path}:{n}: not a probe line: {line!r}")
        src, sport, dst, dport, flags, seq, win, mss, ttl = m.groups()
        out.append((strip(src), int(sport), strip(dst), int(dport), flags, int(seq), int(win), int(mss), int(ttl)))
    return out
M = (1 << 64) - 1
def rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & M
def siphash_words(k0, k1, words):
    # SipHash-2-4 over 64-bit little-endian words (net/siphash.h SipHash24::words).
    v = [k0 ^ 0x736f6d6570736575, k1 ^ 0x646f72616e646f6d, k0 ^ 0x6c7967656e657261, k1 ^ 0x7465646279746573]
    def rnd():
        v[0] = (v[0] + v[1]) & M; v[1] = rotl(v[1], 13); v[1] ^= v[0]; v[0] = rotl(v[0], 32)
        v[2] = (v[2] + v[3]) & M; v[3] = rotl(v[3], 16); v[3] ^= v[2]
        v[0] = (v[0] + v[3]) & M; v[3] = rotl(v[3], 21); v[3] ^= v[0]
        v[2] = (v[2] + v[1]) & M; v[1] = rotl(v[1], 17); v[1] ^= v[2]; v[2] = rotl(v[2], 32)
    for m in list(words) + [(len(words) * 8 & 0xFF) << 56]:
        v[3] ^= m; rnd(); rnd(); v[0] ^= m
    v[2] ^= 0xFF
    for _ in range(4): rnd()
    return v[0] ^ v[1] ^ v[2] ^ v[3]
def parts(addr):
    ip = ipaddress.ip_address(addr)
    return int(ip) >> 64, int(ip) & M, ip.version
def key_of(stdout_path):
    err = open(stdout_path[: -len(".stdout")] + ".stderr").read()
    m = re.search(r"cookie key k0=([0-9a-f]{16}) k1=([0-9a-f]{16})", err)
    if not m:
        sys.exit(f"{stdout_path}: no cookie key on the dry run's stderr")
    return int(m.group(1), 16), int(m.group(2), 16)
def cookie(key, src, sport, dst, dport):
    # net/cookie.cpp: Cookie::source_port (attempt 0, base 40000, range 20000) and tcp_seq.
    (sh, sl, sf), (dh, dl, df) = parts(src), parts(dst)
    off = ((siphash_words(*key, [dh, dl, 0x02 << 56 | df << 32 | dport]) >> 32) * 20000) >> 32
    seq = siphash_words(*key, [sh, sl, dh, dl, 0x01 << 56 | sf << 40 | df << 32 | sport << 16 | dport]) & 0xFFFFFFFF
    return 40000 + off, seq
ra, rb = read(a), read(b)
want = set()
for t in targets.split():
    for addr in ipaddress.ip_network(t, strict=False):
        for p in ports.split(","):
            want.add((str(addr), int(p)))
got = [(p[2], p[3]) for p in ra]
if len(got) != len(set(got)):
    sys.exit("a probe printed twice")
if set(got) != want:
    sys.exit(f"probes: missing {sorted(want - set(got))[:5]}, extra {sorted(set(got) - want)[:5]}")
errors = []
for src, sport, dst, dport, flags, seq, win, mss, ttl in ra:
    want_src = src6 if ":" in dst else src4
    if src != want_src: errors.append(f"{dst}:{dport} from {src}, expected {want_src}")
    if not 40000 <= sport < 60000: errors.append(f"{dst}:{dport} source port {sport} outside the cookie range")
    if flags != "S": errors.append(f"{dst}:{dport} flags [{flags}], expected [S]")
    if (win, mss, ttl) != (1024, 1460, 64): errors.append(f"{dst}:{dport} win/mss/ttl {win}/{mss}/{ttl}")
for path, rows in ((a, ra), (b, rb)):
    key = key_of(path)
    for src, sport, dst, dport, flags, seq, win, mss, ttl in rows:
        want_sport, want_seq = cookie(key, src, sport, dst, dport)
        if (sport, seq) != (want_sport, want_seq):
            errors.append(f"{path}: {dst}:{dport} sport/seq {sport}/{seq}, the cookie says {want_sport}/{want_seq}")
if errors:
    sys.exit("; ".join(errors[:5]))
if len({p[5] for p in ra}) < len(ra) - 1:
    sys.exit("sequence numbers repeat within a run: not a keyed cookie")
if [(p[2], p[3]) for p in rb] != got:
    sys.exit("the same --seed gave another order of probes")
same = sum(1 for x, y in zip(ra, rb) if x[5] == y[5] and x[1] == y[1])
if same > len(ra) // 10:
    sys.exit(f"{same} of {len(ra)} cookies equal in two runs: the key is not secret per run")
print(f"OK: {len(ra)} probes, fields and cookies as the probe says; cookies differ between runs")
PY
}

# In the lab: the route's source addresses.
lab_local_block 198.19.0.0/30
lab_sniff_in "$LAB_NS_SCAN" "$LAB_IF_SCAN" "$LAB_WORK/sniff.out"
for run in a b; do
  lab_scan "$LAB_NS_SCAN" "lab-$run" -sS --dry-run -v -n -p "$PORTS" --seed 7 198.19.0.0/30 "$LAB_V4_TARGET" "$LAB_V6_TARGET" ||
    lab_failed "lab-$run: the dry run failed"
done
check_dry_run "$LAB_WORK/lab-a.stdout" "$LAB_WORK/lab-b.stdout" "198.19.0.0/30 $LAB_V4_TARGET/32 $LAB_V6_TARGET/128" \
  "$PORTS" "$LAB_V4_SCAN" "$LAB_V6_SCAN" || lab_failed "lab: printed probes differ from the scan's"

# On loopback, in a private namespace.
for run in a b; do
  timeout 60 unshare -n sh -c "ip link set lo up && exec \"\$0\" scan -sS --dry-run -v -n -p $PORTS --seed 9 127.0.0.1 ::1" "$GH" \
    >"$LAB_WORK/lo-$run.stdout" 2>"$LAB_WORK/lo-$run.stderr" || lab_failed "lo-$run: the dry run failed: $(tail -1 "$LAB_WORK/lo-$run.stderr")"
done
check_dry_run "$LAB_WORK/lo-a.stdout" "$LAB_WORK/lo-b.stdout" "127.0.0.1/32 ::1/128" "$PORTS" 127.0.0.1 ::1 ||
  lab_failed "loopback: printed probes differ from the scan's"

sleep 0.5
SENT=$(grep -c . "$LAB_WORK/sniff.out" || true)
# sniff.py writes a ready line first; anything after it is a packet the dry runs sent.
((SENT <= 1)) || lab_failed "a dry run sent packets: $(sed -n 2,4p "$LAB_WORK/sniff.out")"
lab_finish
