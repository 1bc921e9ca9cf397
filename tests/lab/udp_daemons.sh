# shellcheck shell=bash
# Real Debian UDP daemons for the -sU lab test and bench/udp, started in a target namespace and
# bound to the scanned addresses, so that replies come from the address that was probed:
#
#   udp_daemons_start NS V4 V6 DIR    dnsmasq (DNS 53, TFTP 69), snmpd (161, community public),
#                                     chronyd as a server (123), memcached with UDP (11211),
#                                     nmbd (NetBIOS name service 137, IPv4 only: NetBIOS has no
#                                     IPv6)
#   UDP_OPEN                          the ports they answer on, once all are up
#   UDP_V4_ONLY                       those of them answered over IPv4 only (137)
#   UDP_MISSING                       daemons that are not installed (scripts/deps/udp.txt)
#
# The daemons' pids go to LAB_PIDS (lib.sh kills them at exit); they run as root inside the
# namespace only long enough to bind, then as nobody where the daemon supports it.

UDP_OPEN=()
UDP_V4_ONLY=()
UDP_MISSING=()

_udp_bg() {
  local ns=$1 log=$2
  shift 2
  ip netns exec "$ns" "$@" >"$log" 2>&1 &
  LAB_PIDS+=($!)
}

udp_daemons_start() {
  local ns=$1 v4=$2 v6=$3 d=$4
  mkdir -p "$d/tftp"
  chmod 755 "$d" "$d/tftp"
  echo "glasshouse lab" >"$d/tftp/hello.txt"
  if [[ -x /usr/sbin/dnsmasq ]]; then
    _udp_bg "$ns" "$d/dnsmasq.log" /usr/sbin/dnsmasq -k --conf-file=/dev/null \
      --listen-address="$v4" --listen-address="$v6" --bind-interfaces --port=53 --no-resolv \
      --no-hosts --pid-file="$d/dnsmasq.pid" --user=nobody \
      --enable-tftp --tftp-root="$d/tftp" --tftp-single-port
    UDP_OPEN+=(53 69)
  else UDP_MISSING+=(dnsmasq); fi
  if [[ -x /usr/sbin/snmpd ]]; then
    printf 'rocommunity public default\nrocommunity6 public default\n' >"$d/snmpd.conf"
    _udp_bg "$ns" "$d/snmpd.log" /usr/sbin/snmpd -f -Lo -C -c "$d/snmpd.conf" -p "$d/snmpd.pid" \
      "udp:$v4:161,udp6:[$v6]:161"
    UDP_OPEN+=(161)
  else UDP_MISSING+=(snmpd); fi
  if [[ -x /usr/sbin/chronyd ]]; then
    printf 'allow all\nlocal stratum 10\ncmdport 0\npidfile %s\nbindaddress %s\nbindaddress %s\n' \
      "$d/chronyd.pid" "$v4" "$v6" >"$d/chrony.conf"
    _udp_bg "$ns" "$d/chronyd.log" /usr/sbin/chronyd -d -x -f "$d/chrony.conf"
    UDP_OPEN+=(123)
  else UDP_MISSING+=(chrony); fi
  if [[ -x /usr/bin/memcached ]]; then
    _udp_bg "$ns" "$d/memcached.log" /usr/bin/memcached -u nobody -l "$v4,[$v6]" -p 11211 -U 11211
    UDP_OPEN+=(11211)
  else UDP_MISSING+=(memcached); fi
  if [[ -x /usr/sbin/nmbd ]]; then
    # Bound to V4 alone (bind interfaces only; nmbd also keeps a 0.0.0.0:137 socket for
    # broadcasts, inside the namespace); every state file under DIR; no WINS, no browsing.
    mkdir -p "$d/samba"
    printf '%s\n' '[global]' '  netbios name = GHLAB' '  workgroup = GLASSHOUSE' \
      "  interfaces = $v4/24" '  bind interfaces only = yes' '  local master = no' \
      '  domain master = no' '  preferred master = no' '  disable netbios = no' \
      "  lock directory = $d/samba" "  state directory = $d/samba" \
      "  cache directory = $d/samba" "  pid directory = $d/samba" "  private dir = $d/samba" \
      "  ncalrpc dir = $d/samba" "  log file = $d/nmbd.log" >"$d/smb.conf"
    _udp_bg "$ns" "$d/nmbd.out" /usr/sbin/nmbd --foreground --no-process-group --debug-stdout \
      --configfile="$d/smb.conf"
    UDP_OPEN+=(137)
    UDP_V4_ONLY+=(137)
  else UDP_MISSING+=(nmbd); fi
  # Wait (10 s at most) until every daemon's UDP socket is bound on both addresses.
  local port missing bound
  for _ in $(seq 100); do
    bound=" $(ip netns exec "$ns" ss -Hlun | awk '{n = split($4, a, ":"); print a[n]}' | sort -n | tr '\n' ' ') "
    missing=()
    for port in "${UDP_OPEN[@]}"; do
      [[ $bound == *" $port "* ]] || missing+=("$port")
    done
    ((${#missing[@]} == 0)) && return 0
    sleep 0.1
  done
  echo "UDP daemons not up after 10 s: ports ${missing[*]}" >&2
  for f in "$d"/*.log; do echo "--- $f"; tail -5 "$f"; done >&2
  return 1
}
