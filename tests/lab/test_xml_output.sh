#!/usr/bin/env bash
# nmap's formats (-oX, -oG, -oA) read by the tools that read nmap's: xmllint against nmap's DTD,
# python3-libnmap, ndiff, and the fields DefectDojo's and Metasploit's importers read
# (tests/lab/check_nmap_xml.py). Loopback inside a private namespace (`unshare -n`):
#
#   1. listeners on 4 random ports, nft drops 2 others, 4 more stay closed; -sT and -sS scans
#      of those 10 ports with -oA: the XML is valid, libnmap reads exactly those ports and states
#      (and the grepable file lists the same), and nmap's own -oX of the same ports says the same;
#   2. one open port becomes filtered, one closed port opens; a second scan: ndiff of the two XML
#      files shows exactly those two ports;
#   3. SIGINT and SIGTERM during a scan of a silent address: the XML is still valid against the
#      DTD, and says the run ended in error (interrupted).
#
#   bash tests/lab/test_xml_output.sh /path/to/glasshouse     (LAB_SEED=N to repeat a run)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [[ ${GH_LAB_IN_UNSHARE:-} != inside ]]; then
  lab_require_root
  lab_require_cmd unshare nft xmllint ndiff nmap
  [[ -f /usr/share/nmap/nmap.dtd ]] || lab_fail "nmap's DTD is missing (package nmap)"
  /usr/bin/python3 -c 'import libnmap' 2>/dev/null || lab_fail "python3-libnmap is not installed"
  unshare -n true 2>/dev/null || lab_skip "unshare -n does not work here"
  GH_LAB_IN_UNSHARE=inside exec unshare -n -- bash "$0" "$@"
fi

lab_init "$@"
ip link set lo up
lab_assert_isolated -
CHECK=(/usr/bin/python3 "$LAB_DIR/check_nmap_xml.py")
DTD=/usr/share/nmap/nmap.dtd

read -ra P <<<"$(random_ports 10 "$LAB_SEED" 1-1024)"
OPEN=("${P[@]:0:4}")
FILTERED=("${P[@]:4:2}")
CLOSED=("${P[@]:6:4}")
ALL=$(lab_join , "${P[@]}")
lab_log "open $(lab_join , "${OPEN[@]}"), filtered $(lab_join , "${FILTERED[@]}"), closed $(lab_join , "${CLOSED[@]}")"
lab_listen_in - "${OPEN[@]}"
lab_filter_in - "${FILTERED[@]}"

valid() {
  xmllint --noout --dtdvalid "$DTD" "$1" 2>"$1.xmllint" || {
    cat "$1.xmllint" >&2
    return 1
  }
}

# 1. both scan types, every format, against what the lab holds and against nmap.
for type in -sT -sS; do
  name="first-${type#-}"
  if ! lab_scan - "$name" "$type" -p "$ALL" -n --reason --max-retries 1 -oA "$LAB_WORK/$name" \
      127.0.0.1; then
    lab_failed "$name: scan failed"
    continue
  fi
  for f in nmap xml gnmap; do
    [[ -s $LAB_WORK/$name.$f ]] || lab_failed "$name: -oA wrote no $name.$f"
  done
  valid "$LAB_WORK/$name.xml" || lab_failed "$name: XML not valid against nmap's DTD"
  "${CHECK[@]}" libnmap "$LAB_WORK/$name.xml" 127.0.0.1 "$(lab_join , "${OPEN[@]}")" \
    "$(lab_join , "${CLOSED[@]}")" "$(lab_join , "${FILTERED[@]}")" ||
    lab_failed "$name: libnmap does not read the ports scanned"
  "${CHECK[@]}" importers "$LAB_WORK/$name.xml" || lab_failed "$name: importer fields missing"
  want_type=connect
  [[ $type == -sS ]] && want_type=syn
  grep -q "<scaninfo type=\"$want_type\" protocol=\"tcp\" numservices=\"10\"" "$LAB_WORK/$name.xml" ||
    lab_failed "$name: no <scaninfo type=\"$want_type\"> for the 10 ports"
  # Grepable: one Ports line listing every port with its state.
  line=$(grep -P '^Host: 127\.0\.0\.1 \(\)\tPorts: ' "$LAB_WORK/$name.gnmap" || true)
  for p in "${OPEN[@]}"; do [[ $line == *" $p/open/tcp/"* || $line == *"Ports: $p/open/tcp/"* ]] || lab_failed "$name: -oG lacks $p open: $line"; done
  for p in "${CLOSED[@]}"; do [[ $line == *"$p/closed/tcp/"* ]] || lab_failed "$name: -oG lacks $p closed"; done
  for p in "${FILTERED[@]}"; do [[ $line == *"$p/filtered/tcp/"* ]] || lab_failed "$name: -oG lacks $p filtered"; done
  grep -q '^# Glasshouse done at ' "$LAB_WORK/$name.gnmap" || lab_failed "$name: -oG has no end line"
done
if timeout 120 nmap -sT -Pn -n --max-retries 1 -p "$ALL" -oX "$LAB_WORK/nmap.xml" 127.0.0.1 >/dev/null; then
  "${CHECK[@]}" same "$LAB_WORK/first-sT.xml" "$LAB_WORK/nmap.xml" 127.0.0.1 ||
    lab_failed "-sT: ports differ from nmap's -sT"
else
  lab_failed "nmap itself failed"
fi

# 2. change two ports, scan again, ndiff must show exactly those.
NEWLY_FILTERED=${OPEN[0]}
NEWLY_OPEN=${CLOSED[0]}
lab_filter_in - "${FILTERED[@]}" "$NEWLY_FILTERED"
lab_listen_in - "$NEWLY_OPEN"
if lab_scan - second -sT -p "$ALL" -n --reason --max-retries 1 -oX "$LAB_WORK/second.xml" 127.0.0.1; then
  valid "$LAB_WORK/second.xml" || lab_failed "second: XML not valid"
  rc=0
  ndiff "$LAB_WORK/first-sT.xml" "$LAB_WORK/second.xml" >"$LAB_WORK/ndiff.out" 2>"$LAB_WORK/ndiff.err" || rc=$?
  if [[ $rc -ne 1 ]]; then
    lab_failed "ndiff exit $rc (want 1: different): $(cat "$LAB_WORK/ndiff.err")"
  else
    "${CHECK[@]}" ndiff "$LAB_WORK/ndiff.out" "$NEWLY_FILTERED,$NEWLY_OPEN" ||
      lab_failed "ndiff does not show exactly the changed ports"
  fi
  rc=0
  ndiff "$LAB_WORK/second.xml" "$LAB_WORK/second.xml" >/dev/null 2>&1 || rc=$?
  [[ $rc -eq 0 ]] || lab_failed "ndiff of a file with itself: exit $rc (want 0)"
else
  lab_failed "second: scan failed"
fi

# 3. stopped by a signal: still a valid document. 127.0.0.2 answers nothing here.
nft -f - <<'NFT' || lab_fail "nft rules for the silent address could not be loaded"
table ip gh_lab_silent {
  chain input {
    type filter hook input priority filter; policy accept;
    ip daddr 127.0.0.2 drop
  }
}
NFT
for sig in INT TERM; do
  name="stop$sig"
  out="$LAB_WORK/$name.xml"
  lab_log "$name: -sT of 1-65535 on a silent address, SIG$sig after 2 s"
  rc=0
  timeout --preserve-status -s "$sig" 2 "$GH" scan -sT -p 1-65535 -n --max-retries 3 -oX "$out" -oG "$LAB_WORK/$name.gnmap" \
    127.0.0.2 >"$LAB_WORK/$name.stdout" 2>"$LAB_WORK/$name.stderr" || rc=$?
  want=$((128 + $([[ $sig == INT ]] && echo 2 || echo 15)))
  [[ $rc -eq $want ]] || lab_failed "$name: exit $rc, want $want ($(tail -2 "$LAB_WORK/$name.stderr"))"
  valid "$out" || lab_failed "$name: XML after SIG$sig not valid against the DTD"
  "${CHECK[@]}" stopped "$out" || lab_failed "$name: XML does not say it was interrupted"
  grep -q '^# Glasshouse done at ' "$LAB_WORK/$name.gnmap" || lab_failed "$name: -oG not closed"
done
lab_finish
