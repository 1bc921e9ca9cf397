# shellcheck shell=bash
# Real Debian daemons for the -sV lab test and bench/service, each started in namespace $1 on
# address $2 with its configuration in directory $3 (nothing under /etc is touched), and stopped by
# svc_stop_all. Sourced after lib.sh. Sets SVC_PORTS (the TCP ports listened on) and, per port,
# SVC_EXPECT[port]="service|product|package" (package: whose upstream version the answer must
# carry, "-" when the daemon does not disclose one).
#
#   svc_start_all NS ADDR DIR   # every daemon that is installed; those missing are listed in SVC_MISSING
#   svc_stop_all

declare -gA SVC_EXPECT=()
SVC_PORTS=()
SVC_MISSING=()
SVC_STOP=()

svc_upstream() {  # dpkg version -> upstream: strip epoch, Debian revision, +dfsg
  local v
  v=$(dpkg-query -W -f='${Version}' "$1" 2>/dev/null) || return 1
  v=${v#*:}
  v=${v%-*}
  v=${v%%+*}
  v=${v%%~*}
  printf '%s' "$v"
}

_svc_add() {  # port service product package
  SVC_PORTS+=("$1")
  SVC_EXPECT[$1]="$2|$3|$4"
}

_svc_bg() {  # NS LOG CMD... : run in the background in NS
  local ns=$1 log=$2
  shift 2
  ip netns exec "$ns" "$@" >"$log" 2>&1 </dev/null &
  LAB_PIDS+=($!)
}

svc_cert() {
  local d=$1 addr=$2
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -keyout "$d/key.pem" -out "$d/cert.pem" \
    -subj "/CN=lab.glasshouse.test/O=Glasshouse lab" \
    -addext "subjectAltName=DNS:lab.glasshouse.test,IP:$addr" >/dev/null 2>&1
  chmod 644 "$d/key.pem" "$d/cert.pem"
}

svc_start_all() {
  local ns=$1 addr=$2 d=$3
  mkdir -p "$d"
  chmod 755 "$d"
  svc_cert "$d" "$addr"

  if [[ -x /usr/sbin/sshd ]]; then
    mkdir -p /run/sshd
    ssh-keygen -q -t ed25519 -N '' -f "$d/ssh_host_ed25519_key"
    printf 'ListenAddress %s:22\nHostKey %s\nPidFile %s\nUsePAM no\n' \
      "$addr" "$d/ssh_host_ed25519_key" "$d/sshd.pid" >"$d/sshd_config"
    _svc_bg "$ns" "$d/sshd.log" /usr/sbin/sshd -D -e -f "$d/sshd_config"
    _svc_add 22 ssh OpenSSH openssh-server
  else SVC_MISSING+=(openssh-server); fi

  if [[ -x /usr/sbin/nginx ]]; then
    mkdir -p "$d/www" "$d/nginx-tmp"
    printf '<html><head><title>Glasshouse lab</title></head><body>lab</body></html>\n' >"$d/www/index.html"
    chmod -R a+rX "$d/www"
    cat >"$d/nginx.conf" <<EOF
daemon off;
pid $d/nginx.pid;
error_log $d/nginx.err;
worker_processes 1;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $d/nginx-tmp/body; proxy_temp_path $d/nginx-tmp/proxy;
  fastcgi_temp_path $d/nginx-tmp/fcgi; uwsgi_temp_path $d/nginx-tmp/uwsgi; scgi_temp_path $d/nginx-tmp/scgi;
  server { listen $addr:80; return 301 https://lab.glasshouse.test/; }
  server {
    listen $addr:443 ssl; listen $addr:4433 ssl;
    ssl_certificate $d/cert.pem; ssl_certificate_key $d/key.pem;
    root $d/www;
  }
}
EOF
    _svc_bg "$ns" "$d/nginx.log" /usr/sbin/nginx -c "$d/nginx.conf" -p "$d"
    _svc_add 80 http nginx nginx-light
    _svc_add 443 http nginx nginx-light
    _svc_add 4433 http nginx nginx-light
  else SVC_MISSING+=(nginx-light); fi

  if [[ -x /usr/lib/postfix/sbin/master ]]; then
    local pf=$d/postfix
    mkdir -p "$pf/etc" "$pf/spool"/{pid,private,public,maildrop,incoming,active,deferred,defer,bounce,corrupt,flush,hold,trace,saved} "$pf/data"
    cp /etc/postfix/master.cf "$pf/etc/master.cf"
    chown postfix "$pf/data" "$pf/spool"/{private,public,maildrop,incoming,active,deferred,defer,bounce,corrupt,flush,hold,trace,saved}
    cat >"$pf/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $pf/spool
data_directory = $pf/data
inet_interfaces = $addr
inet_protocols = ipv4
myhostname = lab.glasshouse.test
mydestination =
alias_maps =
alias_database =
smtpd_peername_lookup = no
smtpd_tls_cert_file = $d/cert.pem
smtpd_tls_key_file = $d/key.pem
smtpd_tls_security_level = may
EOF
    # master in the foreground (-d) with our configuration directory: postfix(1) would only
    # accept one listed in /etc/postfix/main.cf.
    _svc_bg "$ns" "$d/postfix.out" /usr/lib/postfix/sbin/master -d -c "$pf/etc"
    _svc_add 25 smtp "Postfix smtpd" -
  else SVC_MISSING+=(postfix); fi

  if [[ -x /usr/sbin/vsftpd ]]; then
    mkdir -p /var/run/vsftpd/empty
    cat >"$d/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=$addr
background=NO
anonymous_enable=YES
anon_root=/var/run/vsftpd/empty
no_anon_password=YES
local_enable=NO
ssl_enable=YES
rsa_cert_file=$d/cert.pem
rsa_private_key_file=$d/key.pem
secure_chroot_dir=/var/run/vsftpd/empty
xferlog_enable=NO
EOF
    _svc_bg "$ns" "$d/vsftpd.log" /usr/sbin/vsftpd "$d/vsftpd.conf"
    _svc_add 21 ftp vsftpd vsftpd
  else SVC_MISSING+=(vsftpd); fi

  if [[ -x /usr/sbin/dovecot ]]; then
    mkdir -p "$d/dovecot-run"
    cat >"$d/dovecot.conf" <<EOF
base_dir = $d/dovecot-run
listen = $addr
protocols = imap pop3
ssl = yes
ssl_cert = <$d/cert.pem
ssl_key = <$d/key.pem
log_path = $d/dovecot.log
default_login_user = dovenull
default_internal_user = dovecot
passdb {
  driver = static
  args = password=never-used
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
EOF
    _svc_bg "$ns" "$d/dovecot.out" /usr/sbin/dovecot -F -c "$d/dovecot.conf"
    _svc_add 143 imap "Dovecot imapd" -
    _svc_add 993 imap "Dovecot imapd" -
    _svc_add 110 pop3 "Dovecot pop3d" -
    _svc_add 995 pop3 "Dovecot pop3d" -
  else SVC_MISSING+=(dovecot-imapd); fi

  if [[ -x /usr/bin/redis-server ]]; then
    _svc_bg "$ns" "$d/redis.log" /usr/bin/redis-server --bind "$addr" --port 6379 \
      --protected-mode no --save '' --appendonly no --dir "$d"
    _svc_add 6379 redis "Redis key-value store" redis-server
  else SVC_MISSING+=(redis-server); fi

  local pgbin=/usr/lib/postgresql/15/bin
  if [[ -x $pgbin/postgres ]]; then
    mkdir -p "$d/pg" "$d/pgsock"
    chown postgres "$d/pg" "$d/pgsock"
    runuser -u postgres -- "$pgbin/initdb" -D "$d/pg" -A reject --no-sync >"$d/initdb.log" 2>&1
    _svc_bg "$ns" "$d/postgres.log" runuser -u postgres -- "$pgbin/postgres" -D "$d/pg" \
      -c "listen_addresses=$addr" -c "unix_socket_directories=$d/pgsock" -c fsync=off
    _svc_add 5432 postgresql "PostgreSQL DB" -
  else SVC_MISSING+=(postgresql); fi

  if [[ -x /usr/sbin/mariadbd ]]; then
    mkdir -p "$d/mysql"
    chown mysql "$d/mysql"
    _svc_bg "$ns" "$d/mariadb.log" /usr/sbin/mariadbd --no-defaults --user=mysql \
      --datadir="$d/mysql" --bind-address="$addr" --port=3306 --socket="$d/mysql/mysql.sock" \
      --pid-file="$d/mysql/mysql.pid" --skip-grant-tables --skip-log-bin
    _svc_add 3306 mysql MariaDB mariadb-server
  else SVC_MISSING+=(mariadb-server); fi

  if [[ -x /usr/bin/memcached ]]; then
    _svc_bg "$ns" "$d/memcached.log" /usr/bin/memcached -u nobody -l "$addr" -p 11211 -U 0
    _svc_add 11211 memcached Memcached memcached
  else SVC_MISSING+=(memcached); fi

  if [[ -x /usr/sbin/mosquitto ]]; then
    printf 'listener 1883 %s\nallow_anonymous true\npersistence false\nlog_dest stderr\n' \
      "$addr" >"$d/mosquitto.conf"
    _svc_bg "$ns" "$d/mosquitto.log" /usr/sbin/mosquitto -c "$d/mosquitto.conf"
    _svc_add 1883 mqtt Mosquitto mosquitto
  else SVC_MISSING+=(mosquitto); fi

  if [[ -x /usr/sbin/slapd ]]; then
    printf 'pidfile %s/slapd.pid\nargsfile %s/slapd.args\n' "$d" "$d" >"$d/slapd.conf"
    _svc_bg "$ns" "$d/slapd.log" /usr/sbin/slapd -d 0 -f "$d/slapd.conf" -h "ldap://$addr:389/"
    _svc_add 389 ldap OpenLDAP -
  else SVC_MISSING+=(slapd); fi

  if [[ -x /usr/sbin/dnsmasq ]]; then
    _svc_bg "$ns" "$d/dnsmasq.log" /usr/sbin/dnsmasq -k --conf-file=/dev/null \
      --listen-address="$addr" --bind-interfaces --port=53 --no-resolv --no-hosts \
      --pid-file="$d/dnsmasq.pid" --user=nobody
    _svc_add 53 domain dnsmasq dnsmasq-base
  else SVC_MISSING+=(dnsmasq); fi

  # Wait (15 s at most) until every port accepts connections.
  ip netns exec "$ns" python3 - "$addr" "${SVC_PORTS[@]}" <<'EOF'
import socket, sys, time
addr, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
deadline = time.monotonic() + 15
left = set(ports)
while left and time.monotonic() < deadline:
    for p in sorted(left):
        s = socket.socket(); s.settimeout(0.3)
        try:
            s.connect((addr, p)); left.discard(p)
        except OSError:
            pass
        finally:
            s.close()
    if left: time.sleep(0.2)
if left: print("not listening:", " ".join(map(str, sorted(left))))
EOF
}

svc_stop_all() {
  local c
  for c in "${SVC_STOP[@]}"; do $c >/dev/null 2>&1 || true; done
}
