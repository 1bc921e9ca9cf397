#!/usr/bin/env bash
# The TCP flag scans (-sF -sN -sX -sM -sA -sW, --scanflags) against a Linux target namespace,
# IPv4 and IPv6, every port state compared with nmap's own scan of the same target (and with what
# the lab built):
#   open      3 listeners
#   closed    3 ports nobody listens on
#   dropped   2 ports nft drops
#   rejected  2 ports nft rejects with ICMP admin-prohibited (v4 type 3 code 13, v6 type 1 code 1)
# Linux: FIN, NULL and Xmas get no answer from a listener (open|filtered) and a RST from a closed
# port; FIN/ACK (Maimon) and ACK get a RST from both; every Linux RST has window 0, so -sW calls
# every answering port closed (nmap does too). Bad --scanflags: one line, exit 2.
#
#   bash tests/lab/test_flag_scans.sh /path/to/glasshouse     (LAB_SEED=N to repeat a run)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_cmd nft nmap xmllint
lab_init "$@"
lab_create

read -ra P <<<"$(random_ports 10 "$LAB_SEED" 1-1024)"
OPEN=("${P[@]:0:3}")
CLOSED=("${P[@]:3:3}")
DROPPED=("${P[@]:6:2}")
REJECTED=("${P[@]:8:2}")
ALL=$(lab_join , "${P[@]}")
lab_log "open $(lab_join , "${OPEN[@]}"), closed $(lab_join , "${CLOSED[@]}"), dropped $(lab_join , "${DROPPED[@]}"), rejected $(lab_join , "${REJECTED[@]}")"
lab_listen "${OPEN[@]}"
lab_filter "${DROPPED[@]}"
lab_ns_exec "$LAB_NS_TARGET" nft -f - <<NFT || lab_fail "nft reject rules could not be loaded"
table inet gh_reject {
  chain input {
    type filter hook input priority filter; policy accept;
    meta nfproto ipv4 tcp dport { $(lab_join ', ' "${REJECTED[@]}") } reject with icmp type admin-prohibited
    meta nfproto ipv6 tcp dport { $(lab_join ', ' "${REJECTED[@]}") } reject with icmpv6 type admin-prohibited
  }
}
NFT
# Every unreachable answered: the comparison is of states, not of the target's ICMP rate limit.
lab_ns_exec "$LAB_NS_TARGET" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0

# expected SCAN OPEN CLOSED: the state map for a scan type (dropped and rejected ports follow from
# the silence rule and the ICMP rule).
expected() {
  local open=$1 closed=$2 silent=$3 items=() p
  for p in "${OPEN[@]}"; do items+=("$p=$open"); done
  for p in "${CLOSED[@]}"; do items+=("$p=$closed"); done
  for p in "${DROPPED[@]}"; do items+=("$p=$silent"); done
  for p in "${REJECTED[@]}"; do items+=("$p=filtered"); done
  lab_join , "${items[@]}"
}
reasons=()
for p in "${REJECTED[@]}"; do reasons+=("$p=admin-prohibited"); done
for p in "${CLOSED[@]}"; do reasons+=("$p=reset"); done

#      name       flags                      open            closed      silence
SCANS=(
  "fin        -sF                         open|filtered   closed      open|filtered"
  "null       -sN                         open|filtered   closed      open|filtered"
  "xmas       -sX                         open|filtered   closed      open|filtered"
  "maimon     -sM                         closed          closed      open|filtered"
  "ack        -sA                         unfiltered      unfiltered  filtered"
  "window     -sW                         closed          closed      filtered"
  "synfin     --scanflags=SYNFIN          filtered        closed      filtered"
  "ackpsh     -sA,--scanflags=ACK,PSH     unfiltered      unfiltered  filtered"
)

for row in "${SCANS[@]}"; do
  read -r name flags open closed silent <<<"$row"
  IFS=, read -ra args <<<"$flags"
  # "--scanflags=ACK,PSH" was split at its comma: glue it back.
  fixed=()
  for a in "${args[@]}"; do
    if [[ ${#fixed[@]} -gt 0 && ${fixed[-1]} == --scanflags=* && $a != -* ]]; then
      fixed[-1]+=",$a"
    else
      fixed+=("$a")
    fi
  done
  want=$(expected "$open" "$closed" "$silent")
  nmap_flags=("${fixed[@]/--scanflags=/--scanflags }")
  # shellcheck disable=SC2206  # split "--scanflags X" into two words
  nmap_flags=(${nmap_flags[*]})
  for fam in 4 6; do
    addr=$LAB_V4_TARGET
    [[ $fam == 6 ]] && addr=$LAB_V6_TARGET
    tag="$name-v$fam"
    # nmap scans the same target in the background meanwhile (one family per run for both: see
    # the README's note on scans of both families in one run).
    lab_ns_exec "$LAB_NS_SCAN" timeout 120 nmap "-$fam" "${nmap_flags[@]}" -Pn -n --reason \
      --max-retries 2 -p "$ALL" -oX "$LAB_WORK/$tag.nmap.xml" "$addr" \
      >"$LAB_WORK/$tag.nmap.out" 2>&1 &
    nmap_pid=$!
    scanned=1
    if ! lab_scan "$LAB_NS_SCAN" "$tag" "${fixed[@]}" -p "$ALL" -n --reason --max-retries 2 \
        -oX "$LAB_WORK/$tag.xml" "$addr"; then
      lab_failed "$tag: scan failed"
      scanned=0
    fi
    wait "$nmap_pid" || { lab_failed "$tag: nmap itself failed"; continue; }
    ((scanned)) || continue
    xmllint --noout --dtdvalid /usr/share/nmap/nmap.dtd "$LAB_WORK/$tag.xml" 2>"$LAB_WORK/$tag.xmllint" ||
      lab_failed "$tag: our XML is not valid against nmap's DTD: $(head -3 "$LAB_WORK/$tag.xmllint")"
    python3 "$LAB_DIR/flag_states.py" "$LAB_WORK/$tag.xml" "$LAB_WORK/$tag.nmap.xml" "$addr" \
      "$want" "${reasons[@]}" || lab_failed "$tag: states differ (above)"
  done
done

# -O (issue 11's OS hint): the Linux target is hinted Linux from its SYN-ACK, in the text, -oJ and
# -oX (valid against nmap's DTD); -sT -O says it has no SYN-ACK to read.
for addr in "$LAB_V4_TARGET" "$LAB_V6_TARGET"; do
  if lab_scan "$LAB_NS_SCAN" os-hint -sS -O -p "$ALL" -n -oJ "$LAB_WORK/os.jsonl" \
      -oX "$LAB_WORK/os.xml" "$addr"; then
    grep -q "^OS hint: Linux 2.6+ (evidence: initial TTL 64, window [0-9]*, options MSS,SACK,TS,NOP,WS, MSS [0-9]*, wscale [0-9]*; SYN-ACK from port [0-9]*)$" \
      "$LAB_WORK/os-hint.stdout" || lab_failed "-O $addr: no Linux hint line: $(grep -i 'os hint' "$LAB_WORK/os-hint.stdout")"
    grep -q '"os_hint":{"name":"Linux 2.6+"' "$LAB_WORK/os.jsonl" || lab_failed "-O $addr: no os_hint in -oJ"
    grep -q '<script id="os-hint" output="OS hint: Linux 2.6+' "$LAB_WORK/os.xml" || lab_failed "-O $addr: no os-hint in -oX"
    xmllint --noout --dtdvalid /usr/share/nmap/nmap.dtd "$LAB_WORK/os.xml" 2>/dev/null ||
      lab_failed "-O $addr: -oX not valid against nmap's DTD"
    [[ $(grep -c 'not nmap.s OS detection' "$LAB_WORK/os-hint.stderr") -eq 1 ]] || lab_failed "-O: no note line"
  else
    lab_failed "-O $addr: scan failed"
  fi
done
# -O with host discovery (no -Pn: ARP/NDP first, then the plan's port stage): both families'
# hosts are found by discovery (their records say arp-response / nd-response, not user-set) and
# hinted Linux.
if LAB_DISCOVERY=1 lab_scan "$LAB_NS_SCAN" os-discovery -sS -O -p "$ALL" -n \
    -oJ "$LAB_WORK/os-disc.jsonl" "$LAB_V4_TARGET" "$LAB_V6_TARGET"; then
  python3 - "$LAB_WORK/os-disc.jsonl" "$LAB_V4_TARGET" "$LAB_V6_TARGET" <<'PY' ||
import json, sys
hosts = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("type") == "host":
        hosts[r["ip"]] = r  # the last record of a host wins, as in the table
bad = []
for ip, want in ((sys.argv[2], "arp-response"), (sys.argv[3], "nd-response")):
    h = hosts.get(ip)
    if h is None:
        bad.append(f"{ip}: no host record")
    elif h.get("reason") != want or (h.get("os_hint") or {}).get("name") != "Linux 2.6+":
        bad.append(f"{ip}: reason {h.get('reason')} (want {want}), os_hint {h.get('os_hint')}")
print("\n".join(bad) or "-O with discovery: both hosts hinted Linux 2.6+")
sys.exit(1 if bad else 0)
PY
    lab_failed "-O with host discovery: $(tail -2 "$LAB_WORK/os-discovery.stdout")"
  [[ $(grep -c '^OS hint: Linux 2.6+' "$LAB_WORK/os-discovery.stdout") -eq 2 ]] ||
    lab_failed "-O with host discovery: not two hint lines in the text output"
else
  lab_failed "-O with host discovery: scan failed"
fi
if lab_scan "$LAB_NS_SCAN" os-connect -sT -O -p "$ALL" -n "$LAB_V4_TARGET"; then
  grep -q 'no OS hint with -sT' "$LAB_WORK/os-connect.stderr" || lab_failed "-sT -O: no note"
  ! grep -q 'OS hint:' "$LAB_WORK/os-connect.stdout" || lab_failed "-sT -O: a hint without a SYN-ACK"
else
  lab_failed "-sT -O: scan failed"
fi

# Bad --scanflags: one line on stderr, exit 2, nothing scanned.
for bad in SYNFOO "" 256 --scanflags=ACK,BOGUS; do
  arg="--scanflags=$bad"
  [[ $bad == --* ]] && arg=$bad
  LAB_EXPECT_RC=2 lab_scan "$LAB_NS_SCAN" "bad-flags" "$arg" -p 80 -n "$LAB_V4_TARGET" ||
    lab_failed "bad --scanflags '$bad': not exit 2"
  lines=$(wc -l <"$LAB_WORK/bad-flags.stderr")
  [[ $lines -eq 1 ]] || lab_failed "bad --scanflags '$bad': $lines stderr lines"
done
LAB_EXPECT_RC=2 lab_scan "$LAB_NS_SCAN" "flags-connect" -sT --scanflags SYN -p 80 -n "$LAB_V4_TARGET" ||
  lab_failed "-sT --scanflags: not exit 2"

lab_finish
