#!/usr/bin/env bash
# The fragile target of issue 16, shared by tests/lab/test_fragile_target.sh and
# bench/timing/fragile.sh (source after lib.sh).
#
# The target namespace runs nginx (Debian's) and drops new connection attempts above $LIMIT a
# second, all sources together (nft `ct state new limit rate over 5000/second drop`), like a
# small device. A client in a third namespace (198.18.1.2, another link of the target) makes
# HTTP requests on new connections, $CLIENT_RATE a second. A dropped SYN costs the client one
# second (the kernel's SYN retransmission).
#
#   fragile_lab_create "$@"   # lab_init + lab_create + the client namespace, nginx, listeners
#                             # (80 and $FRAGILE_EXTRA), the nft limit; $LISTENING: the ports
#   client NAME [CMD...]      # the client's stats while CMD runs (or 3 s): N_REQ N_FAIL P50 P99
#                             # PMAX, and OVER (new connections the target dropped meanwhile)

LIMIT=5000 # new connections per second the target accepts, all sources together
CLIENT_RATE=200
CLIENT_V4=198.18.1.2
SERVE_V4=198.18.1.1
FRAGILE_EXTRA=(22 443 8080)

fragile_lab_create() {
  lab_require_root
  lab_require_cmd nft nginx
  lab_init "$@"
  lab_create
  CLIENT_NS="gh-client-${LAB_TAG:-$$}"
  trap 'rc=$?; set +e; ip netns del "$CLIENT_NS" 2>/dev/null; (exit $rc); lab_cleanup' EXIT

  ip netns add "$CLIENT_NS" || lab_fail "ip netns add $CLIENT_NS failed"
  ip -n "$CLIENT_NS" link set lo up
  ip -n "$LAB_NS_TARGET" link add gh2 type veth peer name gh3 netns "$CLIENT_NS"
  ip -n "$LAB_NS_TARGET" addr add "$SERVE_V4/24" dev gh2
  ip -n "$CLIENT_NS" addr add "$CLIENT_V4/24" dev gh3
  ip -n "$LAB_NS_TARGET" link set gh2 up
  ip -n "$CLIENT_NS" link set gh3 up
  lab_assert_isolated "$LAB_NS_SCAN"

  # Listeners: nginx on 80 (both links) and three more well-known ports.
  mkdir -p "$LAB_WORK/nginx"
  cat >"$LAB_WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $LAB_WORK/nginx/nginx.pid;
error_log $LAB_WORK/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $LAB_WORK/nginx/body;
  proxy_temp_path $LAB_WORK/nginx/proxy;
  fastcgi_temp_path $LAB_WORK/nginx/fastcgi;
  uwsgi_temp_path $LAB_WORK/nginx/uwsgi;
  scgi_temp_path $LAB_WORK/nginx/scgi;
  server {
    listen $SERVE_V4:80 backlog=4096;
    listen $LAB_V4_TARGET:80 backlog=4096;
    location / { return 200 "ok\n"; }
  }
}
EOF
  ip netns exec "$LAB_NS_TARGET" nginx -c "$LAB_WORK/nginx/nginx.conf" -g 'daemon off;' \
    >"$LAB_WORK/nginx/out.log" 2>&1 &
  LAB_PIDS+=("$!")
  lab_listen "${FRAGILE_EXTRA[@]}"
  for _ in $(seq 50); do
    ip netns exec "$CLIENT_NS" curl -s -m 1 "http://$SERVE_V4/" 2>/dev/null | grep -q ok && break
    sleep 0.1
  done
  ip netns exec "$CLIENT_NS" curl -s -m 1 "http://$SERVE_V4/" | grep -q ok ||
    lab_fail "nginx does not answer the client: $(cat "$LAB_WORK/nginx/error.log" 2>/dev/null)"
  LISTENING=$(ip netns exec "$LAB_NS_TARGET" ss -Hltn | awk -v a="$LAB_V4_TARGET" \
    '{ n = split($4, p, ":"); host = substr($4, 1, length($4) - length(p[n]) - 1);
       if (host == a || host == "0.0.0.0" || host == "*" || host == "[::]") print p[n] }' |
    sort -un | paste -sd,)
  lab_log "listening on $LAB_V4_TARGET: $LISTENING"

  ip netns exec "$LAB_NS_TARGET" nft -f - <<EOF || lab_fail "nft limit rule could not be loaded"
table inet gh_fragile {
  counter over_limit {}
  chain input {
    type filter hook input priority filter; policy accept;
    ct state new limit rate over $LIMIT/second counter name "over_limit" drop
  }
}
EOF
  lab_log "target drops new connections above $LIMIT/s (all sources)"
}

dropped() {
  ip netns exec "$LAB_NS_TARGET" nft reset counter inet gh_fragile over_limit |
    awk '!done && /packets/ { for (i = 1; i < NF; i++) if ($i == "packets") { print $(i + 1); done = 1 } }'
}

# client NAME CMD...: runs the client while CMD runs (or for 3 s with no CMD); stats of the
# requests in flight while CMD ran (started before it ended, ended after it began) go to
# $LAB_WORK/NAME.stats: "count failed p50_ms p99_ms max_ms".
client() {
  local name=$1
  shift
  local out="$LAB_WORK/$name.client" stop="$LAB_WORK/$name.stop" t0 t1 pid
  ip netns exec "$CLIENT_NS" python3 "$LAB_DIR/fragile_client.py" "$SERVE_V4" "$out" "$stop" \
    "$CLIENT_RATE" &
  pid=$!
  LAB_PIDS+=("$pid")
  sleep 0.5
  dropped >/dev/null
  t0=$(date +%s.%N)
  if (($#)); then "$@" || lab_failed "$name: scan failed"; else sleep 3; fi
  t1=$(date +%s.%N)
  local over
  over=$(dropped)
  sleep 1.5 # requests started during the scan finish (a retransmitted SYN takes 1 s)
  touch "$stop"
  wait "$pid" || true
  python3 - "$out" "$t0" "$t1" >"$LAB_WORK/$name.stats" <<'EOF'
import sys
path, t0, t1 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
rows = [l.split() for l in open(path) if l.strip()]
# Requests in flight at some point of the scan: started before it ended, ended after it began.
during = [r for r in rows if float(r[0]) <= t1 and float(r[0]) + float(r[1]) >= t0]
lat = sorted(float(r[1]) for r in during)
failed = sum(1 for r in during if r[2] != "1")
if not lat:
    print("0 0 0 0 0")
else:
    pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000
    print(len(lat), failed, f"{pct(0.5):.1f}", f"{pct(0.99):.1f}", f"{lat[-1] * 1000:.1f}")
EOF
  read -r N_REQ N_FAIL P50 P99 PMAX <"$LAB_WORK/$name.stats"
  lab_log "$name: $N_REQ requests, $N_FAIL failed, p50 $P50 ms, p99 $P99 ms, max $PMAX ms;" \
    "the target dropped $over new connections"
  OVER=$over
}

