#!/usr/bin/env bash
# Announced scans seen by the owner (docs/AUTHORIZATION.md): `glasshouse watch --owner-key
# --scope` on the target, `scan --announce` from the scanner namespace, each case from its own
# source address (a host route's `src`, or tests/lab/announce_probe.py's raw SYNs):
#   198.18.0.1   glasshouse -sS --announce, in scope           -> "authorized", never challenged
#                nor blocked: it can still connect afterwards
#   198.18.0.20  glasshouse -sS, no --announce                  -> an ordinary alert, no verdict
#   198.18.0.21  valid tags (Python), then ports outside scope  -> "violation", with evidence
#   198.18.0.22  glasshouse -sS --announce, scope signed by another key -> "forged", blocked
#   198.18.0.23  .24's valid tag replayed to other ports        -> "replayed", blocked
#   198.18.0.25  --announce, the option stripped on the way (nft `reset tcp option 253` at the
#                scanner's egress, a middlebox's doing)         -> an ordinary alert, no verdict
#   UDP (-sU --announce, the tag a payload trailer), against the real daemons of udp_daemons.sh:
#   198.18.0.30  glasshouse -sU -sV --announce, in scope: the daemons still answer tagged requests
#                (DNS, NTP, SNMP, memcached), the same states as .31's plain -sU, and -sV's
#                tagged datagrams name dnsmasq, net-snmp and memcached
#                                                               -> "authorized"
#   198.18.0.31  glasshouse -sU, no --announce                  -> no verdict
#   198.18.0.32  valid UDP tags (Python), then UDP ports outside scope -> "violation"
#   198.18.0.33  glasshouse -sS --announce with host discovery (nmap's default probes) of the
#                off-link 198.18.1.5: the echo request and the ACK ping carry the tag (the SYN
#                ping to 443 is outside the signed ports: the scope's gate keeps it in), and the
#                first record is "authorized", from the first probe: no attack alert before it
#   198.18.0.34  glasshouse -sS --announce behind a NAT (a stateless nft rewrite of the source to
#                198.18.0.35 at the scanner's egress) -> .35 "authorized", said translated
#   198.18.0.40-.43  glasshouse -sS -sU --announce -S (a pool of four source addresses): each
#                address's SYNs and datagrams carry a tag bound to it -> "authorized", never
#                "translated" (and on the wire, every tag verifies for its own source address)
# Also checks that announce_probe.py's independent tag (Python) verifies in watch, and that the
# tagged SYNs carry option 253 with ExID 0x4748 on the wire.
#
#   bash tests/lab/test_auth_announce.sh /path/to/glasshouse
set -uo pipefail
. "$(dirname "$0")/watch_lib.sh"
. "$(dirname "$0")/udp_daemons.sh"
lab_require_root
lab_require_cmd nft tcpdump
lab_init "$@"
watch_lab_up
lab_listen 22 80 150 151 152
T=$LAB_V4_TARGET
AUDIT="$LAB_WORK/audit.jsonl"

"$GH" scope keygen -o owner.key >/dev/null || lab_fail "scope keygen"
"$GH" scope keygen -o stranger.key >/dev/null || lab_fail "scope keygen"
cat >scope.toml <<EOF
[engagement]
id = "LAB-ANNOUNCE"
authorized_by = "Lab Owner, CISO"
contact = "soc@lab.example"
not_before = $(date -u -d '-1 day' +%Y-%m-%d)
not_after = $(date -u -d '+1 day' +%Y-%m-%d)
[targets]
include = ["$T", "198.18.1.5"]
ports = "1-200,U:7,40,53,123,161,11211,2000-2031"
EOF
cp scope.toml forged.toml
"$GH" scope sign scope.toml --key owner.key >/dev/null || lab_fail "scope sign"
"$GH" scope sign forged.toml --key stranger.key >/dev/null || lab_fail "scope sign (stranger)"

# The wire: every SYN to the target, for the option check.
CAP="$LAB_WORK/syn.pcap"
lab_ns_prefix "$LAB_NS_TARGET"
"${LAB_PREFIX[@]}" tcpdump -i "$LAB_IF_TARGET" -Q in -nn -U -w "$CAP" \
  '(tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn) or udp or icmp' 2>"$LAB_WORK/tcpdump.err" &
LAB_PIDS+=("$!")
for _ in $(seq 100); do grep -q 'listening on' "$LAB_WORK/tcpdump.err" 2>/dev/null && break; sleep 0.1; done

udp_daemons_start "$LAB_NS_TARGET" "$T" "$LAB_V6_TARGET" "$LAB_WORK/daemons" ||
  lab_failed "UDP daemons did not start"
((${#UDP_MISSING[@]} == 0)) || lab_failed "daemons not installed (scripts/deps/udp.txt): ${UDP_MISSING[*]}"
watch_start auth --owner-key owner.pub --scope scope.toml --block --block-for 60s --nft-table gh_auth_lab
grep -q "recognizing engagement LAB-ANNOUNCE" "$WATCH_LOG" || lab_failed "watch does not name the engagement"

from() {  # from SRC: the scanner's probes to the target leave from SRC
  ip -n "$LAB_NS_SCAN" route replace "$T/32" dev "$LAB_IF_SCAN" src "$1"
  lab_assert_isolated "$LAB_NS_SCAN"
}
probe() {  # probe SRC ARGS...: announce_probe.py in the scanner namespace
  lab_assert_isolated "$LAB_NS_SCAN"
  ip netns exec "$LAB_NS_SCAN" python3 "$LAB_DIR/announce_probe.py" scope.toml "$1" "$T" "${@:2}" ||
    lab_failed "announce_probe.py $*"
}
handshake() {  # handshake SRC: complete connections to ports in scope that were not scanned.
  # Watch blocks the attackers after its challenge (src/detect/README.md) whether or not these
  # succeed; the authorized source must still get through.
  ip netns exec "$LAB_NS_SCAN" python3 "$LAB_DIR/watch_client.py" "$1" "$T" 3 150 151 152 >/dev/null
}
SCAN=(-sS -n -T4 --max-retries 1 -p 1-100 "$T" --audit-log "$AUDIT")

from 198.18.0.1
lab_scan "$LAB_NS_SCAN" announced "${SCAN[@]}" --scope scope.toml --owner-key owner.pub --announce ||
  lab_failed "announced scan"
sleep 1
handshake 198.18.0.1 || lab_failed "the authorized scanner 198.18.0.1 cannot connect after its scan"
from 198.18.0.20
lab_scan "$LAB_NS_SCAN" unannounced "${SCAN[@]}" || lab_failed "unannounced scan"
probe 198.18.0.21 22 80
probe 198.18.0.21 $(seq 300 330)
handshake 198.18.0.21 || true
from 198.18.0.22
lab_scan "$LAB_NS_SCAN" forged "${SCAN[@]}" --scope forged.toml --owner-key stranger.pub --announce ||
  lab_failed "scan with a scope signed by another key"
handshake 198.18.0.22 || true
# UDP: the same states with and without the tag (the daemons answer a tagged request), and watch
# sees the announced -sU as authorized.
UDP_PORTS=7,40,53,123,161,11211
UDP_EXPECT=(--expect "open=53,123,161,11211" --expect "closed=7,40")
from 198.18.0.31
lab_scan "$LAB_NS_SCAN" udp-plain -sU -n --show all --reason -p $UDP_PORTS --max-retries 2 -oJ "$LAB_WORK/udp-plain.jsonl" "$T" ||
  lab_failed "plain -sU"
python3 "$LAB_DIR/udp_compare.py" "$LAB_WORK/udp-plain.jsonl" --addr "$T" "${UDP_EXPECT[@]}" ||
  lab_failed "plain -sU: states"
from 198.18.0.30
# With -sV: its datagrams carry the tag too (service/udp_version.h), and the daemons still name
# themselves through them.
lab_scan "$LAB_NS_SCAN" udp-announced -sU -sV -n --show all --reason -p $UDP_PORTS --max-retries 2 -oJ "$LAB_WORK/udp-announced.jsonl" \
  --scope scope.toml --owner-key owner.pub --announce "$T" || lab_failed "-sU --announce"
python3 "$LAB_DIR/udp_compare.py" "$LAB_WORK/udp-announced.jsonl" --addr "$T" "${UDP_EXPECT[@]}" ||
  lab_failed "-sU --announce: the daemons do not all answer a tagged probe"
python3 - "$LAB_WORK/udp-announced.jsonl" <<'PY' || lab_failed "-sU -sV --announce: the daemons not named through tagged datagrams"
import json, sys
svc = {r["port"]: r for r in map(json.loads, open(sys.argv[1])) if r["type"] == "service"}
want = {53: ("domain", "dnsmasq"), 161: ("snmp", "net-snmp"), 11211: ("memcached", "Memcached")}
bad = [f"{p}: {svc.get(p, {}).get('name')} {svc.get(p, {}).get('product')}" for p, (n, prod) in want.items()
       if svc.get(p, {}).get("name") != n or svc.get(p, {}).get("product") != prod or svc[p].get("method") != "probed"]
print("  services:", {p: (r.get("name"), r.get("product"), r.get("version")) for p, r in svc.items()})
sys.exit(1 if bad else 0)
PY
probe 198.18.0.32 53 161 --udp
probe 198.18.0.32 $(seq 300 310) --udp
# Host discovery on (LAB_DISCOVERY=1: no -Pn), toward an off-link target: the IP pings go.
ip -n "$LAB_NS_SCAN" route replace 198.18.1.5/32 via "$T" dev "$LAB_IF_SCAN" src 198.18.0.33
LAB_DISCOVERY=1 lab_scan "$LAB_NS_SCAN" discovery -sS -n -p 22,80 --audit-log "$AUDIT" \
  --scope scope.toml --owner-key owner.pub --announce 198.18.1.5 || lab_failed "announced scan with discovery"
grep -q "Host is up" "$LAB_WORK/discovery.stdout" || lab_failed "discovery: 198.18.1.5 not found up"
ip -n "$LAB_NS_SCAN" route del 198.18.1.5/32
probe 198.18.0.24 50
probe 198.18.0.23 $(seq 51 90) --mode=replay-from=198.18.0.24:50
handshake 198.18.0.23 || true

# A NAT between the scanner and the target: .34's probes leave as .35 (nft rewrites the source
# address and the checksums at the scanner's egress).
ip netns exec "$LAB_NS_SCAN" nft -f - <<EOF || lab_failed "nft egress NAT rule could not be loaded"
table netdev gh_nat {
  chain out {
    type filter hook egress device "$LAB_IF_SCAN" priority 0; policy accept;
    ip saddr 198.18.0.34 ip saddr set 198.18.0.35
  }
}
EOF
from 198.18.0.34
lab_scan "$LAB_NS_SCAN" natted "${SCAN[@]}" --scope scope.toml --owner-key owner.pub --announce ||
  lab_failed "announced scan through the NAT"

# A middlebox that strips the option: nftables at the scanner's egress, for .25 only.
ip netns exec "$LAB_NS_SCAN" nft -f - <<EOF || lab_failed "nft egress strip rule could not be loaded"
table netdev gh_strip {
  chain out {
    type filter hook egress device "$LAB_IF_SCAN" priority 0; policy accept;
    ip saddr 198.18.0.25 tcp option 253 exists reset tcp option 253
  }
}
EOF
from 198.18.0.25
lab_scan "$LAB_NS_SCAN" stripped "${SCAN[@]}" --scope scope.toml --owner-key owner.pub --announce ||
  lab_failed "announced scan through the stripping middlebox"
ip -n "$LAB_NS_SCAN" route del "$T/32"
# -S, a pool of four source addresses, announced: -sS -sU, each probe tagged for the address it
# leaves from (checked below by watch, without "translated", and on the wire by the Python tag).
lab_scan "$LAB_NS_SCAN" pool-announced -sS -sU -n -T4 --max-retries 1 -p T:1-40,U:2000-2031 \
  -S 198.18.0.40-198.18.0.43 --scope scope.toml --owner-key owner.pub --announce "$T" ||
  lab_failed "announced -sS -sU from a pool"
sleep 1

ip netns exec "$LAB_NS_TARGET" nft list set inet gh_auth_lab blocked4 >set.txt 2>&1
for ip in 198.18.0.21 198.18.0.22 198.18.0.23; do
  grep -q "${ip//./\\.}" set.txt || lab_failed "$ip (violation/forged/replayed) not blocked: $(cat set.txt)"
done
grep -Eq '198\.18\.0\.1[,} ]' set.txt && lab_failed "the authorized scanner 198.18.0.1 was blocked"
watch_stop

python3 - "$WATCH_ALERTS" <<'EOF' || lab_failed "watch's records do not match (see $WATCH_ALERTS)"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
auth = {}
for r in recs:
    if r.get("kind") == "authorization":
        auth.setdefault(r["src"], []).append(r)
alerts = {}
for r in recs:
    if r.get("kind") != "authorization":
        alerts.setdefault(r["src"], []).append(r)
def verdicts(src):
    return [r["verdict"] for r in auth.get(src, [])]
errors = []
def check(cond, what):
    if not cond:
        errors.append(what)
a1 = auth.get("198.18.0.1", [])
check(verdicts("198.18.0.1") == ["authorized"], f".1 verdicts {verdicts('198.18.0.1')}")
if a1:
    r = a1[0]
    check(r.get("engagement") == "LAB-ANNOUNCE" and r.get("authorized_by") == "Lab Owner, CISO"
          and r.get("contact") == "soc@lab.example" and r.get("signer", "").startswith("sha256:"), f".1 record {r}")
al1 = alerts.get("198.18.0.1", [])
check(al1, ".1: no detector alert")
check(all(a.get("authorization", {}).get("verdict") == "authorized" for a in al1), f".1 alerts {al1}")
check(not any(a["blocked"] for a in al1), ".1 blocked")
check(any("authorized" in a.get("block_note", "") for a in al1), ".1: no 'authorized' block note")
check("198.18.0.20" not in auth, f".20 has verdicts {verdicts('198.18.0.20')}")
check(alerts.get("198.18.0.20") and all("authorization" not in a for a in alerts["198.18.0.20"]), ".20: no plain alert")
check("violation" in verdicts("198.18.0.21"), f".21 verdicts {verdicts('198.18.0.21')}")
check(verdicts("198.18.0.21")[:1] == ["authorized"], ".21: the Python tag did not verify first")
check(any("outside the signed ports" in r["evidence"] for r in auth.get("198.18.0.21", [])), ".21 evidence")
check(verdicts("198.18.0.22") == ["forged"], f".22 verdicts {verdicts('198.18.0.22')}")
check(verdicts("198.18.0.24") == ["authorized"], f".24 verdicts {verdicts('198.18.0.24')}")
check(verdicts("198.18.0.23") == ["replayed"], f".23 verdicts {verdicts('198.18.0.23')}")
check(any("198.18.0.24" in r["evidence"] for r in auth.get("198.18.0.23", [])), ".23 evidence names .24")
for src in ("198.18.0.22", "198.18.0.23"):
    check(any(a["blocked"] for a in alerts.get(src, [])), f"{src}: no blocked alert")
check("198.18.0.25" not in auth, f".25 (stripped) has verdicts {verdicts('198.18.0.25')}")
check(alerts.get("198.18.0.25"), ".25: no plain alert")
check(verdicts("198.18.0.30") == ["authorized"], f".30 (-sU --announce) verdicts {verdicts('198.18.0.30')}")
check(any(r["probe"].endswith("/udp") for r in auth.get("198.18.0.30", [])), ".30: not a UDP probe")
check("198.18.0.31" not in auth, f".31 (plain -sU) has verdicts {verdicts('198.18.0.31')}")
check(verdicts("198.18.0.32")[:1] == ["authorized"] and "violation" in verdicts("198.18.0.32"),
      f".32 verdicts {verdicts('198.18.0.32')}")
check(any("UDP port 30" in r["evidence"] for r in auth.get("198.18.0.32", [])), ".32 evidence")
check(verdicts("198.18.0.35") == ["authorized"], f".35 (NAT) verdicts {verdicts('198.18.0.35')}")
check(any("translated on the path (NAT)" in r["evidence"] for r in auth.get("198.18.0.35", [])), ".35 evidence")
check("198.18.0.34" not in auth, ".34 seen unrewritten")
check(alerts.get("198.18.0.35") and not any(a["blocked"] for a in alerts["198.18.0.35"]), f".35 alerts {alerts.get('198.18.0.35')}")
a33 = auth.get("198.18.0.33", [])
check(verdicts("198.18.0.33") == ["authorized"], f".33 (discovery) verdicts {verdicts('198.18.0.33')}")
if a33:
    check(a33[0]["probe"] == "198.18.1.5 (ICMP echo)", f".33: first probe {a33[0]['probe']}")
    first = min(a["first_seen"] for a in alerts.get("198.18.0.33", [])) if alerts.get("198.18.0.33") else None
    check(first is None or a33[0]["time"] <= first, f".33: an alert at {first} before the verdict {a33[0]['time']}")
check(all(a.get("authorization", {}).get("verdict") == "authorized" and not a["blocked"]
          for a in alerts.get("198.18.0.33", [])), f".33 alerts {alerts.get('198.18.0.33')}")
pool = [f"198.18.0.{i}" for i in range(40, 44)]
check(sum(src in auth for src in pool) >= 3, f"pool: verdicts for {[s for s in pool if s in auth]} only")
for src in pool:
    check(verdicts(src) in ([], ["authorized"]), f"{src} (pool) verdicts {verdicts(src)}")
    check(not any("translated" in r["evidence"] for r in auth.get(src, [])), f"{src} (pool): translated")
    check(not any(a["blocked"] for a in alerts.get(src, [])), f"{src} (pool) blocked")
for e in errors:
    print("  -", e, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF

# On the wire: the announced scan's SYNs carry option 253 / ExID 0x4748; the stripped ones not;
# every datagram of the announced -sU (DNS, NTP, SNMP, memcached requests included) ends in the
# block but port 7's (nmap-payloads' echo request, when nmap is installed: a file's payloads go
# untagged), the plain -sU's do not.
python3 - "$CAP" "$LAB_DIR" <<'EOF' || lab_failed "tagged SYNs on the wire"
import struct, sys
sys.path.insert(0, sys.argv[2])
from announce_probe import scope_key, tag as py_tag
key = scope_key("scope.toml")
pool = {f"198.18.0.{i}" for i in range(40, 44)}
pool_seen = {}  # (src, proto) -> [tagged and verifying for src, other]
def pool_probe(src, dst, proto, dport, blk, when):
    # blk: the 18 option/trailer bytes; the tag must verify for this very source address.
    ok = len(blk) == 18 and blk[0] == 253 and blk[1] == 18 and blk[2:4] == b"GH"
    if ok:
        now = int(when) // 60
        epoch = next((e for e in range(now - 2, now + 3) if e & 0xFF == blk[5]), None)
        ok = epoch is not None and struct.unpack(">Q", blk[10:18])[0] == py_tag(key, src, dst, dport, epoch, proto)
    pool_seen.setdefault((src, proto), [0, 0])[0 if ok else 1] += 1
data = open(sys.argv[1], "rb").read()
off, tagged, plain, udp = 24, {}, {}, {}
linktype = struct.unpack("<I", data[20:24])[0]
while off + 16 <= len(data):
    incl = struct.unpack("<I", data[off + 8:off + 12])[0]
    when = struct.unpack("<I", data[off:off + 4])[0]
    pkt = data[off + 16:off + 16 + incl]
    off += 16 + incl
    ip = pkt[14:] if linktype == 1 else pkt
    if len(ip) < 20 or ip[0] >> 4 != 4:
        continue
    src = ".".join(map(str, ip[12:16]))
    dst = ".".join(map(str, ip[16:20]))
    if ip[9] == 1 and ip[(ip[0] & 15) * 4] == 8:  # echo request
        blk = ip[-18:]
        ok = blk[0] == 253 and blk[1] == 18 and blk[2:4] == b"GH"
        udp.setdefault((src, "echo", ok), 0)
        udp[(src, "echo", ok)] += 1
        continue
    if ip[9] == 17:
        u = ip[(ip[0] & 15) * 4:]
        pay = u[8:struct.unpack("!H", u[4:6])[0]]
        blk = pay[-18:]
        ok = len(blk) == 18 and blk[0] == 253 and blk[1] == 18 and blk[2:4] == b"GH"
        udp.setdefault((src, ok), set()).add(struct.unpack("!H", u[2:4])[0])
        if src in pool:
            pool_probe(src, dst, 17, struct.unpack("!H", u[2:4])[0], bytes(blk), when)
        continue
    tcp = ip[(ip[0] & 15) * 4:]
    opts = tcp[20:(tcp[12] >> 4) * 4]
    has = any(opts[i] == 253 and opts[i + 2:i + 4] == b"GH" for i in range(len(opts) - 3))
    if src in pool:
        at = next((i for i in range(len(opts) - 17) if opts[i] == 253 and opts[i + 1] == 18), None)
        pool_probe(src, dst, 6, struct.unpack("!H", tcp[2:4])[0], bytes(opts[at:at + 18]) if at is not None else b"", when)
    (tagged if has else plain)[src] = (tagged if has else plain).get(src, 0) + 1
print("tagged", tagged, "plain", plain, "udp", udp)
print("pool (verifying, not):", pool_seen)
# Every probe from a pool address carries a tag that verifies for that address; at least three
# of the four addresses sent both SYNs and datagrams (72 probes hashed over 4 slots).
ok_pool = all(bad == 0 for good, bad in pool_seen.values())
ok_pool &= sum(1 for s in pool if pool_seen.get((s, 6), [0])[0] > 0) >= 3
ok_pool &= sum(1 for s in pool if pool_seen.get((s, 17), [0])[0] > 0) >= 3
if not ok_pool:
    print("pool: a probe from a pool address without a tag bound to it, or too few addresses used")
ok = tagged.get("198.18.0.1", 0) >= 100
ok &= tagged.get("198.18.0.22", 0) >= 100 and "198.18.0.20" not in tagged
ok &= "198.18.0.25" not in tagged and plain.get("198.18.0.25", 0) >= 100
# 7 carries nmap-payloads' echo request (a file's payload: sent untagged), 40 an empty payload.
ok &= udp.get(("198.18.0.30", True)) == {40, 53, 123, 161, 11211} and udp.get(("198.18.0.30", False), {7}) == {7}
ok &= udp.get(("198.18.0.33", "echo", True), 0) >= 1 and ("198.18.0.33", "echo", False) not in udp
ok &= udp.get(("198.18.0.31", False)) == {7, 40, 53, 123, 161, 11211} and ("198.18.0.31", True) not in udp
sys.exit(0 if ok and ok_pool else 1)
EOF
lab_finish
