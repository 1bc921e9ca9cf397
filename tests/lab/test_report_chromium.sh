#!/usr/bin/env bash
# The HTML report (glasshouse report) rendered by headless Chromium from Debian, in a network
# namespace of its own with nothing but lo (so the page cannot fetch anything, and the test
# sends nothing anywhere).
#
# Two JSON Lines result files (40 ports over 4 hosts; between them a port opens, one closes, a
# service changes, a host appears) give a report with the changes since the first. Then:
#   - --dump-dom after the script ran: the script ran (data-ready), 40 rows, "40 of 40 shown";
#   - #sort=port&desc: the rows in descending port order, the header marked;
#   - #filter=ssh: only the ssh rows visible, and the counter says how many;
#   - #state=closed: only closed rows;
#   - a hostile service name (<img src=x onerror=...>) is text, not an element;
#   - --screenshot: a PNG that is not blank (decoded by report_check.py), kept for a look.
#
#   bash tests/lab/test_report_chromium.sh /path/to/glasshouse
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [[ ${GH_LAB_IN_UNSHARE:-} != inside ]]; then
  lab_require_root
  lab_require_cmd unshare
  command -v chromium >/dev/null || lab_skip "chromium is not installed (scripts/deps/history.txt)"
  unshare -n true 2>/dev/null || lab_skip "unshare -n does not work here"
  GH_LAB_IN_UNSHARE=inside exec unshare -n -- bash "$0" "$@"
fi

lab_init "$@"
ip link set lo up
lab_assert_isolated -

python3 - "$LAB_WORK" <<'PY'
import json, sys
work = sys.argv[1]
services = {22: "ssh", 80: "http", 443: "https", 25: "smtp", 3306: "mysql",
            8080: "http-proxy", 5432: "postgresql", 6379: "redis", 53: "domain", 111: "rpcbind"}
def write(name, ports, start):
    with open(f"{work}/{name}", "w") as f:
        f.write(json.dumps({"type": "scan", "version": "0.1.0", "start": start,
                            "command": "glasshouse scan -sS -p 22,25,53,80,111,443,3306,5432,6379,8080 198.18.0.1-4",
                            "scan_type": "syn", "targets": 4, "ports": 10}) + "\n")
        for (ip, port, state, svc) in ports:
            f.write(json.dumps({"type": "port", "ip": ip, "port": port, "proto": "tcp",
                                "state": state, "reason": "syn-ack" if state == "open" else "reset",
                                "service": svc, "ttl": 64, "time": start}) + "\n")
        f.write(json.dumps({"type": "summary", "end": start, "exit_reason": "done",
                            "probes_sent": 40}) + "\n")
after = []
for h in range(1, 5):
    for p, s in services.items():
        state = "open" if (p + h) % 3 else "closed"
        after.append((f"198.18.0.{h}", p, state, s))
# A hostile service name must stay text.
after[5] = (after[5][0], after[5][1], "open", "<img src=x onerror=alert(1)>")
before = [r for r in after if r[0] != "198.18.0.4"]
before = [(ip, p, "closed" if (ip, p) == ("198.18.0.1", 22) else st, "telnet" if (ip, p) == ("198.18.0.2", 80) else s)
          for (ip, p, st, s) in before]
write("a.jsonl", before, "2026-12-01T10:00:00.000Z")
write("b.jsonl", after, "2026-12-02T10:00:00.000Z")
print(sum(1 for r in after if r[3] == "ssh"), sum(1 for r in after if r[2] == "closed"))
PY
read -r SSH_ROWS CLOSED_ROWS < <(python3 - "$LAB_WORK/b.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if '"port"' in l]
print(sum(1 for r in recs if r["service"] == "ssh"), sum(1 for r in recs if r["state"] == "closed"))
PY
)
REPORT="$LAB_WORK/report.html"
"$GH" report "$LAB_WORK/b.jsonl" --since "$LAB_WORK/a.jsonl" -o "$REPORT" ||
  lab_fail "glasshouse report exited $?"

CHROME=(chromium --headless --no-sandbox --disable-gpu --disable-background-networking
  --no-first-run --disable-extensions --disable-dev-shm-usage --hide-scrollbars)
render() {
  local out=$1 fragment=$2
  local profile
  profile=$(mktemp -d "$LAB_WORK/profile-XXXXXX")
  timeout -k 5 60 "${CHROME[@]}" --user-data-dir="$profile" --virtual-time-budget=2000 \
    --dump-dom "file://$REPORT$fragment" >"$out" 2>"$out.err" ||
    lab_fail "chromium --dump-dom failed: $(tail -5 "$out.err")"
}
CHECK=(python3 "$LAB_DIR/report_check.py")

render "$LAB_WORK/dom-plain.html" ""
"${CHECK[@]}" dom "$LAB_WORK/dom-plain.html" --rows 40 --shown 40 --no-markup img ||
  lab_failed "plain report"
render "$LAB_WORK/dom-sorted.html" "#sort=port&desc"
"${CHECK[@]}" dom "$LAB_WORK/dom-sorted.html" --rows 40 --shown 40 --order port:desc ||
  lab_failed "sorted by port, descending"
render "$LAB_WORK/dom-ssh.html" "#filter=ssh"
"${CHECK[@]}" dom "$LAB_WORK/dom-ssh.html" --rows 40 --shown "$SSH_ROWS" --service ssh ||
  lab_failed "filtered on ssh"
render "$LAB_WORK/dom-closed.html" "#state=closed&sort=port"
"${CHECK[@]}" dom "$LAB_WORK/dom-closed.html" --rows 40 --shown "$CLOSED_ROWS" --state closed \
  --order port:asc || lab_failed "closed ports only"
# The changes since a.jsonl: host .4 appeared, its 10 ports, 22 on .1 opened, 80 on .2 changed
# service.
grep -q 'data-change="host-appeared"' "$LAB_WORK/dom-plain.html" || lab_failed "no appeared host"
n=$(grep -o 'data-change="appeared"' "$LAB_WORK/dom-plain.html" | wc -l)
[[ $n -eq 10 ]] || lab_failed "$n appeared ports in the changes, want 10"
grep -q 'data-change="state" data-ip="198.18.0.1" data-port="22"' "$LAB_WORK/dom-plain.html" ||
  lab_failed "the opened port is not in the changes"
grep -q 'data-change="service" data-ip="198.18.0.2" data-port="80"' "$LAB_WORK/dom-plain.html" ||
  lab_failed "the changed service is not in the changes"

profile=$(mktemp -d "$LAB_WORK/profile-XXXXXX")
timeout -k 5 60 "${CHROME[@]}" --user-data-dir="$profile" --window-size=1280,1800 \
  --screenshot="$LAB_WORK/report.png" "file://$REPORT" >"$LAB_WORK/shot.out" 2>&1 ||
  lab_fail "chromium --screenshot failed: $(tail -5 "$LAB_WORK/shot.out")"
"${CHECK[@]}" png "$LAB_WORK/report.png" || lab_failed "the screenshot is blank"
if [[ -n ${REPORT_SHOT_DIR:-} ]]; then cp "$LAB_WORK/report.png" "$LAB_WORK/report.html" "$REPORT_SHOT_DIR/"; fi
lab_finish
