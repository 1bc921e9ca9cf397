#!/usr/bin/env bash
# -sU against real Debian daemons (tests/lab/udp_daemons.sh: dnsmasq DNS + TFTP, snmpd, chronyd,
# memcached, nmbd) bound to 198.18.0.2 and 2001:db8::2 in the target namespace, which keeps Linux's
# default ICMP rate limit; nft there drops two ports and answers one with ICMP admin-prohibited;
# the rest are closed. Every state must be the expected one and nmap -sU's on the same target
# (IPv4 and IPv6); -sS -sU in one run, with and without host discovery; -sU -sV, also on an
# open|filtered port that only a -sV probe gets an answer from. Then loopback (no ICMP
# limit there) inside the scanner namespace; -S, a pool of eight source addresses (-sU: every
# closed port of a host in ~6 s instead of ~95; -sS: nmap's states), and an IPv6 pool (-sU, -sS);
# the history database names both scan types of the -sS -sU runs; and bad input: a malformed
# --udp-payloads file, or an -S address that is not ours, is one line on stderr and exit 2.
# ctest-labels: lab udp
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/udp_daemons.sh"
lab_require_root
lab_require_cmd nft nmap
lab_init "$@"
lab_create

V4=$LAB_V4_TARGET
V6=$LAB_V6_TARGET
udp_daemons_start "$LAB_NS_TARGET" "$V4" "$V6" "$LAB_WORK/daemons" ||
  lab_failed "UDP daemons did not start"
((${#UDP_MISSING[@]} == 0)) || lab_failed "daemons not installed (scripts/deps/udp.txt): ${UDP_MISSING[*]}"
OPEN=$(lab_join , "${UDP_OPEN[@]}")
DROPPED=520,1900
PROHIBITED=5353
CLOSED=7,500,1194,5060,5683
ip netns exec "$LAB_NS_TARGET" nft -f - <<EOF || lab_failed "nft rules"
table inet gh_udp {
  chain input {
    type filter hook input priority filter; policy accept;
    udp dport { $DROPPED } drop
    meta nfproto ipv4 udp dport $PROHIBITED reject with icmp type admin-prohibited
    meta nfproto ipv6 udp dport $PROHIBITED reject with icmpv6 type admin-prohibited
  }
}
EOF
# The target keeps the kernel's default ICMP limits (its own namespace, its own limiter).
lab_log "target ICMP limits: $(ip netns exec "$LAB_NS_TARGET" sysctl -n net.ipv4.icmp_ratelimit) ms," \
  "burst $(ip netns exec "$LAB_NS_TARGET" sysctl -n net.ipv4.icmp_msgs_burst)"

# dnsmasq's TFTP answers over IPv6 only here (requests to its IPv4 socket go unanswered, to
# nmap too): 69 is scanned over IPv6 only. nmbd (137) speaks IPv4 only: closed over IPv6.
OPEN4=$(sed 's/\b69,//' <<<"$OPEN")
OPEN6=$OPEN CLOSED6=$CLOSED
for p in "${UDP_V4_ONLY[@]}"; do
  OPEN6=$(tr , '\n' <<<"$OPEN6" | grep -vx "$p" | paste -sd,) CLOSED6+=",$p"
done
for fam in 4 6; do
  addr=$V4 open=$OPEN4 closed=$CLOSED
  [[ $fam == 6 ]] && addr=$V6 open=$OPEN6 closed=$CLOSED6
  EXPECT=(--expect "open=$open" --expect "open|filtered=$DROPPED" --expect "filtered=$PROHIBITED"
    --expect "closed=$closed")
  PORTS="$open,$DROPPED,$PROHIBITED,$closed"
  name=udp-v$fam
  six=()
  [[ $fam == 6 ]] && six=(-6)
  # nmap's default timing (-T3: 10 retries), so that its slowdown gets every rate-limited answer;
  # nmap first: it starts with the target's ICMP bucket full, Glasshouse after it with it empty.
  t0=$(date +%s.%N)
  ip netns exec "$LAB_NS_SCAN" nmap "${six[@]}" -sU -Pn -n -p "$PORTS" -oX "$LAB_WORK/$name.nmap.xml" \
    "$addr" >/dev/null 2>&1 || lab_failed "$name: nmap failed"
  lab_log "$name: nmap took $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
  lab_scan "$LAB_NS_SCAN" "$name" -sU -p "$PORTS" --reason --show all -oJ "$LAB_WORK/$name.jsonl" "$addr" ||
    lab_failed "$name: scan failed"
  python3 "$LAB_DIR/udp_compare.py" "$LAB_WORK/$name.jsonl" --name "$name" --addr "$addr" \
    "${EXPECT[@]}" --nmap "$LAB_WORK/$name.nmap.xml" || lab_failed "$name: states"
  grep -q "^$PROHIBITED/udp.*admin-prohibited" "$LAB_WORK/$name.stdout" ||
    lab_failed "$name: $PROHIBITED not reported with reason admin-prohibited"
done

# -sS -sU in one run: -p without a prefix is both protocols' (nmap's rule), T:/U: keep theirs.
# With host discovery (the plan's two port stages), with -Pn (two engine runs), and -sT -sU (a
# connect stage, then a raw one); every state as expected and as nmap -sS -sU's; -oX has two
# scaninfo elements and validates against nmap's DTD, -oG and the text table list both
# protocols, the -oJ header and the audit records name both scan types (scan_types).
BOTH_PORTS="53,7,520,$PROHIBITED,T:11211,U:161"
ip netns exec "$LAB_NS_SCAN" nmap -sS -sU -Pn -n -p "$BOTH_PORTS" -oX "$LAB_WORK/both.nmap.xml" \
  "$V4" >/dev/null 2>&1 || lab_failed "both: nmap failed"
for mode in discovery pn connect; do
  name=both-$mode tcp=-sS tcp_name=syn
  [[ $mode == connect ]] && tcp=-sT tcp_name=connect
  LAB_DISCOVERY=$([[ $mode == pn ]] && echo 0 || echo 1) \
    lab_scan "$LAB_NS_SCAN" "$name" "$tcp" -sU -p "$BOTH_PORTS" --reason --show all \
    -oJ "$LAB_WORK/$name.jsonl" -oX "$LAB_WORK/$name.xml" -oG "$LAB_WORK/$name.gnmap" \
    --audit-log "$LAB_WORK/$name.audit" "$V4" || lab_failed "$name: scan failed"
  # The -oJ header and every audit record name both scan types (scan_type: the TCP one).
  python3 - "$LAB_WORK/$name.jsonl" "$LAB_WORK/$name.audit" "$tcp_name" <<'PY' ||
import json, sys
jsonl, audit, tcp = sys.argv[1:]
head = json.loads(open(jsonl).readline())
assert head["type"] == "scan" and head["scan_type"] == tcp and head["scan_types"] == [tcp, "udp"], head
recs = [json.loads(l) for l in open(audit) if l.strip()]
assert [r["event"] for r in recs] == ["start", "end"], recs
for r in recs:
    assert r["scan_type"] == tcp and r["scan_types"] == [tcp, "udp"], r
PY
    lab_failed "$name: -oJ header or audit records do not name both scan types"
  python3 "$LAB_DIR/udp_compare.py" "$LAB_WORK/$name.jsonl" --name "$name/tcp" --proto tcp \
    --addr "$V4" --expect open=53,11211 --expect "closed=7,520,$PROHIBITED" \
    --nmap "$LAB_WORK/both.nmap.xml" || lab_failed "$name: TCP states"
  python3 "$LAB_DIR/udp_compare.py" "$LAB_WORK/$name.jsonl" --name "$name/udp" --addr "$V4" \
    --expect open=53,161 --expect closed=7 --expect "open|filtered=520" \
    --expect "filtered=$PROHIBITED" --nmap "$LAB_WORK/both.nmap.xml" || lab_failed "$name: UDP states"
  xmllint --noout --dtdvalid /usr/share/nmap/nmap.dtd "$LAB_WORK/$name.xml" ||
    lab_failed "$name: -oX does not validate against nmap's DTD"
  scaninfo=$(grep -o '<scaninfo type="[a-z]*" protocol="[a-z]*" numservices="[0-9]*"' "$LAB_WORK/$name.xml" | tr '\n' ' ')
  [[ $scaninfo == "<scaninfo type=\"$tcp_name\" protocol=\"tcp\" numservices=\"5\" <scaninfo type=\"udp\" protocol=\"udp\" numservices=\"5\" " ]] ||
    lab_failed "$name: -oX scaninfo: $scaninfo"
  for want in 53/open/tcp 11211/open/tcp 7/closed/tcp 53/open/udp 161/open/udp 7/closed/udp \
    "520/open|filtered/udp" "$PROHIBITED/filtered/udp"; do
    grep -q "Ports: .*\b$want/" "$LAB_WORK/$name.gnmap" || lab_failed "$name: -oG lacks $want"
  done
  for want in "53/tcp  *open" "53/udp  *open" "161/udp  *open" "7/udp  *closed"; do
    grep -Eq "^$want " "$LAB_WORK/$name.stdout" || lab_failed "$name: the table lacks $want"
  done
done
# The history database (every lab scan records into $GLASSHOUSE_DB) names both types of each run,
# and the -Pn run there equals its -oJ and its -oX.
"$GH" history --json -n 3 >"$LAB_WORK/both-history.json" || lab_failed "history exited $?"
python3 - "$LAB_WORK/both-history.json" <<'PY' || lab_failed "history: the -sS/-sT -sU runs do not name both scan types"
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
got = [r["scan_types"] for r in runs]
assert got == [["connect", "udp"], ["syn", "udp"], ["syn", "udp"]], got
PY
for f in both-pn.jsonl both-pn.xml; do
  out=$("$GH" diff "$LAB_WORK/$f" last~1) || lab_failed "diff $f last~1 exited $?"
  grep -q '^no changes$' <<<"$out" || lab_failed "both-pn: the database differs from $f: $out"
done

# -sU -sV (service/udp_version.h): each daemon named with the right product and, where it
# discloses one, the installed package's upstream version (dpkg-query); text, -oJ and -oX carry
# it. nmap -sU -sV on the same IPv4 ports, except 11211 (nmap does not recognise memcached's UDP
# reply and then spends ~100 s on its other probes; bench/service measures it) and the dropped
# 520 (nmap's probes of a silent port take minutes): Glasshouse must get at least as many right,
# and every one nmap gets. TFTP (IPv6 only, see above) is ours only.
# open|filtered ports are swept: a second dnsmasq on 5300, a port where -sU sends an empty
# datagram, which DNS ignores (open|filtered after -sU), answers the DNS probes: open
# (udp-response), named dnsmasq as nmap -sU -sV names it; the dropped 520 stays open|filtered.
# Every output agrees: text, -oJ (the port's record written again: open, previous_state), -oX,
# -oG, the history database, and a diff of the -oJ against the -oX.
. "$LAB_DIR/service_daemons.sh"  # svc_upstream
ip netns exec "$LAB_NS_TARGET" /usr/sbin/dnsmasq -k --conf-file=/dev/null --listen-address="$V4" \
  --bind-interfaces --port=5300 --no-resolv --no-hosts --pid-file="$LAB_WORK/dnsmasq5300.pid" \
  --user=nobody >"$LAB_WORK/dnsmasq5300.log" 2>&1 &
LAB_PIDS+=($!)
for _ in $(seq 50); do
  ip netns exec "$LAB_NS_TARGET" ss -Hlun | grep -q ":5300 " && break
  sleep 0.1
done
SV4=53,123,137,161,11211,5300,520
sv_expect="$LAB_WORK/sv-udp.tsv"
printf '53\tdomain\tdnsmasq\t%s\n123\tntp\tchrony\t-\n137\tnetbios-ns\tSamba nmbd netbios-ns\t-\n161\tsnmp\tnet-snmp\t%s\n11211\tmemcached\tMemcached\t%s\n5300\tdomain\tdnsmasq\t%s\n' \
  "$(svc_upstream dnsmasq-base)" "$(svc_upstream snmpd)" "$(svc_upstream memcached)" \
  "$(svc_upstream dnsmasq-base)" >"$sv_expect"
printf '69\ttftp\tdnsmasq tftpd\t-\n53\tdomain\tdnsmasq\t%s\n' "$(svc_upstream dnsmasq-base)" >"$sv_expect.6"
cat "$sv_expect"
# Without -sV, 5300 is open|filtered (the premise of the sweep).
lab_scan "$LAB_NS_SCAN" sv-pre -sU -p 5300,520 --show all -oJ "$LAB_WORK/sv-pre.jsonl" "$V4" ||
  lab_failed "sv-pre: scan failed"
python3 "$LAB_DIR/udp_compare.py" "$LAB_WORK/sv-pre.jsonl" --name sv-pre --addr "$V4" \
  --expect "open|filtered=5300,520" || lab_failed "sv-pre: 5300 must be open|filtered without -sV"
lab_scan "$LAB_NS_SCAN" sv-udp4 -sU -sV --reason -p "$SV4" --show all -oJ "$LAB_WORK/sv-udp4.jsonl" \
  -oX "$LAB_WORK/sv-udp4.xml" -oG "$LAB_WORK/sv-udp4.gnmap" --db "$LAB_WORK/sv.db" "$V4" ||
  lab_failed "sv-udp4: scan failed"
cat "$LAB_WORK/sv-udp4.stdout"
ip netns exec "$LAB_NS_SCAN" nmap -n -Pn -sU -sV -p 53,123,137,161,5300 -oX "$LAB_WORK/sv-udp4.nmap.xml" \
  "$V4" >/dev/null 2>&1 || lab_failed "sv-udp4: nmap -sU -sV failed"
python3 "$LAB_DIR/check_services.py" "$sv_expect" "$LAB_WORK/sv-udp4.jsonl" \
  "$LAB_WORK/sv-udp4.nmap.xml" --addr "$V4" || lab_failed "sv-udp4: services"
python3 "$LAB_DIR/udp_compare.py" "$LAB_WORK/sv-udp4.jsonl" --name sv-udp4 --addr "$V4" \
  --expect "open=53,123,137,161,11211,5300" --expect "open|filtered=520" ||
  lab_failed "sv-udp4: states"
grep -q '<port portid="5300" protocol="udp"><state state="open" reason="udp-response"\|<port protocol="udp" portid="5300"><state state="open" reason="udp-response"' \
  "$LAB_WORK/sv-udp4.nmap.xml" || lab_failed "sv-udp4: nmap does not find 5300/udp open (udp-response)"
grep -Eq '^161/udp +open +snmp +udp-response( ttl [0-9]+)? +net-snmp [0-9.]+' "$LAB_WORK/sv-udp4.stdout" ||
  lab_failed "sv-udp4: no VERSION column for 161/udp in the text output"
grep -Eq '^5300/udp +open +domain +udp-response +dnsmasq [0-9.]+' "$LAB_WORK/sv-udp4.stdout" ||
  lab_failed "sv-udp4: 5300/udp not open (udp-response) with dnsmasq in the text output"
grep -Eq '^520/udp +open\|filtered +route +no-response *$' "$LAB_WORK/sv-udp4.stdout" ||
  lab_failed "sv-udp4: 520/udp not open|filtered in the text output"
grep -q '<port protocol="udp" portid="53"><state state="open"[^>]*/><service name="domain" product="dnsmasq"' \
  "$LAB_WORK/sv-udp4.xml" || lab_failed "sv-udp4: no -oX service element for 53/udp"
grep -q '<port protocol="udp" portid="5300"><state state="open" reason="udp-response"[^>]*/><service name="domain" product="dnsmasq"' \
  "$LAB_WORK/sv-udp4.xml" || lab_failed "sv-udp4: -oX: 5300/udp not open with dnsmasq"
grep -q '<port protocol="udp" portid="520"><state state="open|filtered" reason="no-response"' \
  "$LAB_WORK/sv-udp4.xml" || lab_failed "sv-udp4: -oX: 520/udp not open|filtered"
xmllint --noout --dtdvalid /usr/share/nmap/nmap.dtd "$LAB_WORK/sv-udp4.xml" ||
  lab_failed "sv-udp4: -oX does not validate against nmap's DTD"
grep -q '5300/open/udp//domain//dnsmasq [0-9.]*/' "$LAB_WORK/sv-udp4.gnmap" &&
  grep -q '520/open|filtered/udp//route///' "$LAB_WORK/sv-udp4.gnmap" ||
  lab_failed "sv-udp4: -oG states of 5300 and 520"
python3 - "$LAB_WORK/sv-udp4.jsonl" "$V4" <<'PY' || lab_failed "sv-udp4: -oJ records of 5300/520"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
def port(n):
    return [(r["state"], r["reason"], r.get("previous_state")) for r in recs
            if r["type"] == "port" and r["ip"] == sys.argv[2] and r["port"] == n]
assert port(520) == [("open|filtered", "no-response", None)], port(520)
assert port(5300) == [("open|filtered", "no-response", None),
                      ("open", "udp-response", "open|filtered")], port(5300)
last_port = max(i for i, r in enumerate(recs) if r["type"] == "port" and r["port"] == 5300)
svc = [i for i, r in enumerate(recs) if r["type"] == "service" and r["port"] == 5300]
assert len(svc) == 1 and svc[0] > last_port, (svc, last_port)
assert not any(r["type"] == "service" and r["port"] == 520 for r in recs)
PY
"$GH" diff "$LAB_WORK/sv-udp4.jsonl" "$LAB_WORK/sv-udp4.xml" --json >"$LAB_WORK/sv-diff.json" ||
  lab_failed "sv-udp4: diff -oJ -oX exited $?"
"$GH" diff last "$LAB_WORK/sv-udp4.xml" --db "$LAB_WORK/sv.db" --json >"$LAB_WORK/sv-diff-db.json" ||
  lab_failed "sv-udp4: diff of the stored run against -oX exited $?"
for f in sv-diff sv-diff-db; do
  python3 - "$LAB_WORK/$f.json" <<'PY' || lab_failed "sv-udp4: $f: the outputs disagree on a state"
import json, sys
d = json.load(open(sys.argv[1]))
bad = [c for c in d["ports"] if c["change"] != "service"]
assert not bad and d["hosts"] == [], (bad, d["hosts"])
PY
done
lab_scan "$LAB_NS_SCAN" sv-udp6 -sU -sV -p 53,69 -oJ "$LAB_WORK/sv-udp6.jsonl" "$V6" ||
  lab_failed "sv-udp6: scan failed"
python3 "$LAB_DIR/check_services.py" "$sv_expect.6" "$LAB_WORK/sv-udp6.jsonl" /dev/null \
  --addr "$V6" || lab_failed "sv-udp6: services"

# Per-host pacing: three more hosts behind the target (now a router: routed scanning, IPv4 and
# IPv6), each its own namespace and so its own ICMP limiters (Linux's default: a burst of ~6,
# then one port unreachable a second to one address; ICMPv6's interval is scaled down by the
# route's prefix length), each with 16 closed ports, 2 dropped ones and a UDP echo server on
# 7777 (both families). Every closed port must be found closed: that takes ~10 s of one host's
# limiter, and the six addresses are paced at once.
ip netns exec "$LAB_NS_TARGET" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$LAB_NS_TARGET" sysctl -qw net.ipv6.conf.all.forwarding=1
HOSTS=()
for i in 1 2 3; do
  ns="gh-udph$i-${LAB_TAG:-$$}"
  ip netns add "$ns" || lab_fail "ip netns add $ns"
  LAB_EXTRA_NS+=("$ns")
  ip -n "$ns" link set lo up
  ip -n "$LAB_NS_TARGET" link add "ghh$i" type veth peer name eth0 netns "$ns"
  ip -n "$LAB_NS_TARGET" addr add "198.18.$((10 + i)).1/24" dev "ghh$i"
  ip -n "$LAB_NS_TARGET" addr add "2001:db8:1$i::1/64" dev "ghh$i" nodad
  ip -n "$LAB_NS_TARGET" link set "ghh$i" up
  ip -n "$ns" addr add "198.18.$((10 + i)).2/24" dev eth0
  ip -n "$ns" addr add "2001:db8:1$i::2/64" dev eth0 nodad
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add 198.18.0.0/24 via "198.18.$((10 + i)).1"
  ip -n "$ns" -6 route add 2001:db8::/64 via "2001:db8:1$i::1"
  ip netns exec "$ns" nft add table inet gh_udp
  ip netns exec "$ns" nft add chain inet gh_udp input '{ type filter hook input priority filter; }'
  ip netns exec "$ns" nft add rule inet gh_udp input udp dport '{ 520, 1900 }' drop
  ip netns exec "$ns" python3 -c '
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 7777))
while True:
    d, a = s.recvfrom(2048)
    s.sendto(b"echo:" + d[:16], a)' &
  LAB_PIDS+=($!)
  HOSTS+=("198.18.$((10 + i)).2" "2001:db8:1$i::2")
done
ip -n "$LAB_NS_SCAN" route add 198.18.8.0/21 via "$LAB_V4_TARGET"
ip -n "$LAB_NS_SCAN" -6 route add 2001:db8:10::/44 via "$LAB_V6_TARGET"
lab_assert_isolated "$LAB_NS_SCAN"
# The echo servers are up, and the new links' link-local addresses have finished duplicate
# address detection (~2 s: neighbour discovery on the routed IPv6 path needs them).
for i in 1 2 3; do
  ns="gh-udph$i-${LAB_TAG:-$$}"
  for _ in $(seq 50); do
    ip netns exec "$ns" ss -Hlun | grep -q ':7777 ' &&
      [[ -z $(ip -n "$ns" -6 addr show tentative) && -z $(ip -n "$LAB_NS_TARGET" -6 addr show dev "ghh$i" tentative) ]] &&
      break
    sleep 0.1
  done
done
MANY_CLOSED=7,9,13,17,19,37,111,137,138,177,500,1194,1434,4500,5060,5683
lab_scan "$LAB_NS_SCAN" udp-hosts -sU -p "$MANY_CLOSED,520,1900,7777" --show all \
  -oJ "$LAB_WORK/udp-hosts.jsonl" "${HOSTS[@]}" || lab_failed "udp-hosts: scan failed"
host_args=()
for h in "${HOSTS[@]}"; do host_args+=(--addr "$h"); done
python3 "$LAB_DIR/udp_compare.py" "$LAB_WORK/udp-hosts.jsonl" --name udp-hosts "${host_args[@]}" \
  --expect "closed=$MANY_CLOSED" --expect "open|filtered=520,1900" --expect open=7777 ||
  lab_failed "udp-hosts: states"

# -S, a pool of source addresses (scan/source_pool.h): eight more addresses of ours on the
# scanner's veth. The target keeps one ICMP limiter per address it answers to, so 64 closed
# ports of one host, which take ~58 s of one address's limiter (a burst of 6, then 1/s), take
# 8 limiters a few seconds. Every port must be closed, exactly; the host's nft set records which
# source addresses its probes came from: pool addresses only (at least 6 of the 8: the hash
# spreads 64 ports over them), never the primary. The audit log names the pool.
for i in $(seq 40 47); do ip -n "$LAB_NS_SCAN" addr add "198.18.0.$i/24" dev "$LAB_IF_SCAN"; done
POOL=198.18.0.40-198.18.0.47
ns1="gh-udph1-${LAB_TAG:-$$}"
ip netns exec "$ns1" nft add set inet gh_udp pool_src '{ type ipv4_addr; flags dynamic; }'
ip netns exec "$ns1" nft add rule inet gh_udp input udp dport 2000-2063 add @pool_src '{ ip saddr }'
lab_scan "$LAB_NS_SCAN" udp-pool -sU -S "$POOL" -p 2000-2063 --show all \
  --audit-log "$LAB_WORK/pool-audit.log" -oJ "$LAB_WORK/udp-pool.jsonl" 198.18.11.2 ||
  lab_failed "udp-pool: scan failed"
python3 "$LAB_DIR/udp_compare.py" "$LAB_WORK/udp-pool.jsonl" --name udp-pool --addr 198.18.11.2 \
  --expect closed=2000-2063 || lab_failed "udp-pool: states"
seen=$(ip netns exec "$ns1" nft list set inet gh_udp pool_src | grep -oE '198\.18\.[0-9]+\.[0-9]+' | sort -u)
[[ $(grep -cvE '^198\.18\.0\.4[0-7]$' <<<"$seen") -eq 0 && $(wc -l <<<"$seen") -ge 6 ]] ||
  lab_failed "udp-pool: probes came from $(paste -sd, <<<"$seen"), expected pool addresses only"
grep -q '"source_ips":"198.18.0.40,198.18.0.41,198.18.0.42,198.18.0.43,198.18.0.44,198.18.0.45,198.18.0.46,198.18.0.47"' \
  "$LAB_WORK/pool-audit.log" || lab_failed "udp-pool: the audit log does not name the pool"
# -sS from the pool: nmap's states (both.nmap.xml, from the primary address, above).
lab_scan "$LAB_NS_SCAN" syn-pool -sS -S "$POOL" -p "T:53,7,520,$PROHIBITED,11211" --show all \
  -oJ "$LAB_WORK/syn-pool.jsonl" "$V4" || lab_failed "syn-pool: scan failed"
python3 "$LAB_DIR/udp_compare.py" "$LAB_WORK/syn-pool.jsonl" --name syn-pool --proto tcp \
  --addr "$V4" --expect open=53,11211 --expect "closed=7,520,$PROHIBITED" \
  --nmap "$LAB_WORK/both.nmap.xml" || lab_failed "syn-pool: TCP states"
# An IPv6 pool (a CIDR of eight more scanner addresses, on-link): -sU of 32 closed ports of the
# target, all closed, from pool addresses only (its nft set), never the primary; -sS from the
# pool: nmap -6's states.
for i in $(seq 40 47); do ip -n "$LAB_NS_SCAN" addr add "2001:db8::$i/64" dev "$LAB_IF_SCAN" nodad; done
POOL6=2001:db8::40/125 # ::40 to ::47
ip netns exec "$LAB_NS_TARGET" nft add set inet gh_udp pool6_src '{ type ipv6_addr; flags dynamic; }'
ip netns exec "$LAB_NS_TARGET" nft insert rule inet gh_udp input udp dport 2000-2031 add @pool6_src '{ ip6 saddr }'
lab_scan "$LAB_NS_SCAN" udp-pool6 -sU -S "$POOL6" -p 2000-2031 --show all -oJ "$LAB_WORK/udp-pool6.jsonl" "$V6" ||
  lab_failed "udp-pool6: scan failed"
python3 "$LAB_DIR/udp_compare.py" "$LAB_WORK/udp-pool6.jsonl" --name udp-pool6 --addr "$V6" \
  --expect closed=2000-2031 || lab_failed "udp-pool6: states"
seen=$(ip netns exec "$LAB_NS_TARGET" nft list set inet gh_udp pool6_src | grep -oE '2001:db8::[0-9a-f:]+' | sort -u)
[[ $(grep -cvE '^2001:db8::4[0-7]$' <<<"$seen") -eq 0 && $(wc -l <<<"$seen") -ge 6 ]] ||
  lab_failed "udp-pool6: probes came from $(paste -sd, <<<"$seen"), expected pool addresses only"
ip netns exec "$LAB_NS_SCAN" nmap -6 -sS -Pn -n -p "53,7,520,$PROHIBITED,11211" -oX "$LAB_WORK/syn6.nmap.xml" \
  "$V6" >/dev/null 2>&1 || lab_failed "syn-pool6: nmap failed"
lab_scan "$LAB_NS_SCAN" syn-pool6 -sS -S "$POOL6" -p "53,7,520,$PROHIBITED,11211" --show all \
  -oJ "$LAB_WORK/syn-pool6.jsonl" "$V6" || lab_failed "syn-pool6: scan failed"
python3 "$LAB_DIR/udp_compare.py" "$LAB_WORK/syn-pool6.jsonl" --name syn-pool6 --proto tcp \
  --addr "$V6" --expect open=53,11211 --expect "closed=7,520,$PROHIBITED" \
  --nmap "$LAB_WORK/syn6.nmap.xml" || lab_failed "syn-pool6: TCP states"
# An address that is not ours: one line, exit 2, nothing sent.
LAB_EXPECT_RC=2 lab_scan "$LAB_NS_SCAN" pool-foreign -sU -S 198.18.0.40,198.18.0.99 -p 53 "$V4" ||
  lab_failed "pool-foreign: expected exit 2"
[[ $(wc -l <"$LAB_WORK/pool-foreign.stderr") -eq 1 ]] && grep -q '198.18.0.99: not an address of interface' \
  "$LAB_WORK/pool-foreign.stderr" ||
  lab_failed "pool-foreign: expected one line naming 198.18.0.99, got: $(cat "$LAB_WORK/pool-foreign.stderr")"

# Loopback inside the scanner namespace: a UDP echo server on 127.0.0.1 and ::1, one closed
# port, one dropped. Linux does not rate-limit ICMP to loopback.
ip netns exec "$LAB_NS_SCAN" python3 -c '
import socket, threading, time
def serve(fam, addr):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((addr, 7777))
    while True:
        d, a = s.recvfrom(2048)
        s.sendto(b"echo:" + d[:16], a)
for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    threading.Thread(target=serve, args=(fam, addr), daemon=True).start()
time.sleep(120)' &
LAB_PIDS+=($!)
ip netns exec "$LAB_NS_SCAN" nft -f - <<EOF || lab_failed "nft rules (loopback)"
table inet gh_lo {
  chain input {
    type filter hook input priority filter; policy accept;
    iif lo udp dport 7779 drop
  }
}
EOF
for _ in $(seq 50); do
  [[ $(ip netns exec "$LAB_NS_SCAN" ss -Hlun | grep -c ':7777 ') -ge 2 ]] && break
  sleep 0.1
done
lab_scan "$LAB_NS_SCAN" udp-lo -sU -p 7777,7778,7779 --show all -oJ "$LAB_WORK/udp-lo.jsonl" 127.0.0.1 ::1 ||
  lab_failed "udp-lo: scan failed"
python3 "$LAB_DIR/udp_compare.py" "$LAB_WORK/udp-lo.jsonl" --name udp-lo --addr 127.0.0.1 --addr ::1 \
  --expect open=7777 --expect closed=7778 --expect "open|filtered=7779" || lab_failed "udp-lo: states"

# Bad input: a malformed payload file.
printf 'udp 53 "\\x00\\x01"\nudp 99999 "x"\n' >"$LAB_WORK/bad-payloads"
LAB_EXPECT_RC=2 lab_scan "$LAB_NS_SCAN" bad-payloads -sU -p 53 --udp-payloads "$LAB_WORK/bad-payloads" "$V4" ||
  lab_failed "bad-payloads: expected exit 2"
if [[ $(wc -l <"$LAB_WORK/bad-payloads.stderr") -ne 1 ]] ||
  ! grep -q 'bad-payloads:2: bad port list' "$LAB_WORK/bad-payloads.stderr"; then
  lab_failed "bad-payloads: expected one line naming the file and line 2, got: $(cat "$LAB_WORK/bad-payloads.stderr")"
fi

lab_finish
