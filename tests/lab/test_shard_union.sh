#!/usr/bin/env bash
# Sharding (--shards N --shard I): the shards of one scan are disjoint and together are the scan.
#
# The target namespace answers for every address of 198.19.0.0/22 (a local route, as in
# test_sweep_24.sh). Listeners on 3 random ports, 1 more random port closed, 1 dropped by nft:
# 1024 addresses x 5 ports = 5120 probes. We scan it (-sS, then -sT) once unsharded and then as
# --shards 3 --shard 0, 1, 2 (same --seed, --show all, -oJ each) and check:
#   - the unsharded scan matches the lab exactly (check_results.py: open, closed, filtered);
#   - no (ip, port) appears twice in a shard or in two shards;
#   - the union of the shards' (ip, port, state) is exactly the unsharded scan's;
#   - shard I has exactly as many records as it owns permutation positions: the positions p of
#     [0, 5120) with p % 3 == I, i.e. 1707, 1707 and 1706 (so no shard scans everything);
#   - each shard sent about a third of the unsharded scan's SYNs, counted on the wire (an nft
#     counter at the target's ingress) and in its JSONL summary (probes_sent);
#   - `--shards 3 --shard 3` and `--shards 2` without --seed exit 2 with one line on stderr and
#     send nothing.
#
#   bash tests/lab/test_shard_union.sh /path/to/glasshouse     (LAB_SEED=N to repeat a run)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

NET=198.19.0.0/22
ADDRS=1024
SHARDS=3

lab_require_root
lab_require_cmd nft
lab_init "$@"
lab_create
lab_local_block "$NET"

read -ra OPEN <<<"$(random_ports 3 "$LAB_SEED")"
read -ra CLOSED <<<"$(random_ports 1 "$LAB_SEED-closed" "${OPEN[*]}")"
read -ra FILTERED <<<"$(random_ports 1 "$LAB_SEED-filtered" "${OPEN[*]} ${CLOSED[*]}")"
PORTS=$(printf '%s\n' "${OPEN[@]}" "${CLOSED[@]}" "${FILTERED[@]}" | sort -n | paste -sd,)
PROBES=$((ADDRS * 5))
lab_log "open $(lab_join , "${OPEN[@]}"), closed ${CLOSED[*]}, filtered ${FILTERED[*]}; -p $PORTS on $NET ($PROBES probes)"
lab_listen "${OPEN[@]}"
lab_filter "${FILTERED[@]}"

# Every SYN that reaches the target, before the nft drop of the filtered port.
ip netns exec "$LAB_NS_TARGET" nft -f - <<EOF || lab_fail "nft SYN counter in the target namespace"
table netdev gh_count {
  counter syns {}
  chain ingress {
    type filter hook ingress device "$LAB_IF_TARGET" priority -500; policy accept;
    tcp flags & (syn | ack) == syn counter name "syns"
  }
}
EOF

# syns_since_last: the SYNs counted since the last call (the counter is reset).
syns_since_last() {
  ip netns exec "$LAB_NS_TARGET" nft reset counter netdev gh_count syns |
    awk '!done && /packets/ { for (i = 1; i < NF; i++) if ($i == "packets") { print $(i + 1); done = 1; break } }'
}
syns_since_last >/dev/null

SEED=$LAB_SEED
for TYPE in sS sT; do
COMMON=("-$TYPE" -p "$PORTS" --show all -n -T4 --max-retries 2 --seed "$SEED" --no-status
  --audit-log "$LAB_WORK/audit.jsonl")

declare -A SYNS
scan_one() {
  local name=$1
  shift
  if ! lab_scan "$LAB_NS_SCAN" "$name" "${COMMON[@]}" -oJ "$LAB_WORK/$name.jsonl" "$@" "$NET"; then
    lab_failed "$name: scan failed (LAB_SEED=$LAB_SEED)"
  fi
  SYNS[$name]=$(syns_since_last)
  lab_log "$name: ${SYNS[$name]} SYNs at the target"
}

scan_one "$TYPE-whole"
if ! lab_check_jsonl "$LAB_WORK/$TYPE-whole.jsonl" "${OPEN[*]}" "${FILTERED[*]}" "$PORTS" "$NET" \
  --shown all --summary required --interrupted false; then
  lab_failed "$TYPE unsharded scan: results differ from the lab (LAB_SEED=$LAB_SEED)"
fi
for ((i = 0; i < SHARDS; i++)); do
  scan_one "$TYPE-shard$i" --shards "$SHARDS" --shard "$i"
done

shard_files=()
shard_syns=()
for ((i = 0; i < SHARDS; i++)); do
  shard_files+=("$LAB_WORK/$TYPE-shard$i.jsonl")
  shard_syns+=("${SYNS[$TYPE-shard$i]}")
done
if ! python3 - "$PROBES" "$LAB_WORK/$TYPE-whole.jsonl" "${SYNS[$TYPE-whole]}" "${shard_syns[*]}" "${shard_files[@]}" <<'EOF'; then
import json, sys

probes, whole_file, whole_syns = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
shard_syns = [int(x) for x in sys.argv[4].split()]
shard_files = sys.argv[5:]
n_shards = len(shard_files)
errors = []


def load(path):
    """(ip, port) -> state, and the summary record; duplicates are errors."""
    ports, summary = {}, None
    try:
        lines = open(path).read().splitlines()
    except OSError as e:
        errors.append(f"{path}: {e}")
        return ports, {}
    for n, line in enumerate(lines, 1):
        try:
            rec = json.loads(line)
        except ValueError:
            errors.append(f"{path}:{n}: not JSON")
            continue
        if rec.get("type") == "port":
            key = (rec["ip"], rec["port"])
            if key in ports:
                errors.append(f"{path}:{n}: {key} twice in one file")
            ports[key] = rec["state"]
        elif rec.get("type") == "summary":
            summary = rec
    if summary is None:
        errors.append(f"{path}: no summary record")
        summary = {}
    return ports, summary


whole, whole_summary = load(whole_file)
shards = [load(f) for f in shard_files]

# Disjoint: no (ip, port) in two shards.
owner, twice = {}, []
for i, (ports, _) in enumerate(shards):
    for key in ports:
        if key in owner:
            twice.append(f"{key} in shards {owner[key]} and {i}")
        owner.setdefault(key, i)
if twice:
    errors.append(f"{len(twice)} records in more than one shard, e.g. {'; '.join(twice[:3])}")

# The union is exactly the unsharded scan, states included.
union = {}
for ports, _ in shards:
    union.update(ports)
missing = sorted(set(whole) - set(union))
extra = sorted(set(union) - set(whole))
differ = sorted(k for k in set(whole) & set(union) if whole[k] != union[k])
if missing:
    errors.append(f"{len(missing)} records of the unsharded scan in no shard, e.g. {missing[:3]}")
if extra:
    errors.append(f"{len(extra)} shard records not in the unsharded scan, e.g. {extra[:3]}")
if differ:
    errors.append(f"{len(differ)} states differ, e.g. {[(k, whole[k], union[k]) for k in differ[:3]]}")
if len(whole) != probes:
    errors.append(f"unsharded scan: {len(whole)} records, expected {probes}")

# Each shard owns the permutation positions p with p % N == I: exactly that many records.
whole_sent = whole_summary.get("probes_sent") or 0
for i, (ports, summary) in enumerate(shards):
    owned = (probes - i - 1) // n_shards + 1
    if len(ports) != owned:
        errors.append(f"shard {i}: {len(ports)} records, expected exactly {owned} "
                      f"(its share of {probes} positions)")
    # About a third of the SYNs, on the wire and by the scanner's own count. The SYNs vary only
    # with how many of the filtered port's probes (retried) fall in the shard: +-3% here.
    for what, got, whole_n in (("SYNs on the wire", shard_syns[i], whole_syns),
                               ("probes_sent", summary.get("probes_sent") or 0, whole_sent)):
        share = got / whole_n if whole_n else 0
        print(f"shard {i}: {len(ports)} records, {what} {got} of {whole_n} ({share:.3f})")
        if not 0.30 <= share <= 0.37:
            errors.append(f"shard {i}: {what} {got} is not about a third of {whole_n}")
total = sum(shard_syns)
if not 0.95 * whole_syns <= total <= 1.05 * whole_syns:
    errors.append(f"the shards sent {total} SYNs together, the unsharded scan {whole_syns}")

for e in errors:
    print("FAIL:", e, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
  lab_failed "-$TYPE: the shards are not a partition of the scan (LAB_SEED=$LAB_SEED)"
fi
done

# Bad shard options: exit 2, one line naming the problem, nothing sent.
expect_usage_error() {
  local name=$1 want=$2
  shift 2
  if ! LAB_EXPECT_RC=2 lab_scan "$LAB_NS_SCAN" "$name" "$@"; then
    lab_failed "$name: expected exit 2"
    return
  fi
  local err="$LAB_WORK/$name.stderr" lines syns
  lines=$(wc -l <"$err")
  if [[ $lines -ne 1 ]] || ! grep -q -- "$want" "$err"; then
    lab_show_tail "$err" "$name stderr"
    lab_failed "$name: expected one stderr line naming $want, got $lines lines"
  fi
  syns=$(syns_since_last)
  [[ $syns -eq 0 ]] || lab_failed "$name: a refused scan sent $syns SYNs"
}
expect_usage_error shard-out-of-range "--shard" -sS -p 80 --seed 1 --shards 3 --shard 3 \
  --audit-log "$LAB_WORK/audit.jsonl" "$NET"
expect_usage_error shards-without-seed "--seed" -sS -p 80 --shards 2 \
  --audit-log "$LAB_WORK/audit.jsonl" "$NET"

lab_finish
