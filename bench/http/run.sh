#!/bin/sh
# bench/http: the website unikernel against nginx, in the same run.
#
#   bench/http/run.sh        (root: namespaces, a veth pair, a tap)
#
# Both serve the same files: examples/website/site/ plus a 1 MiB file of
# random bytes made here. Haze runs examples/website on the unix target,
# on its direct stack behind a tap, the files from a tar on a block device
# (--site); nginx (Debian's, one worker) runs in a namespace behind a veth
# pair, from a config of our own (-c, -p under a temp dir: the system's
# nginx service is never used). wrk loads each from a namespace of its own
# side; the runs of the two alternate, so load from elsewhere on the
# machine falls on both alike. Neither server logs requests (the website's
# --quiet, nginx's access_log off): the bench measures serving, not
# writing a log.
#
# Cases: keep-alive and a new connection per request (wrk sending
# "Connection: close"), both with CONNS connections; the site's front page
# and the 1 MiB file; HTTP and HTTPS. HTTPS on both sides is TLS 1.2,
# ECDHE on P-256 with a P-256 ECDSA certificate, AES-128-GCM. wrk offers
# each new connection the session of its last one (SSL_clear keeps it),
# so both servers remember sessions by ID, as they would serving browsers
# (nginx: a shared session cache, tickets off; Haze: its default cache),
# and a new connection per request is a resumed handshake. One more case
# makes every handshake full: the page with a new connection per request
# against nginx's second server (port 8443, no session cache or tickets)
# and the website restarted with --tls-sessions 0. For each case it
# prints req/s, MB/s (10^6
# bytes read by the client, heads included), wrk's p99 latency, each
# server's CPU time per request (from /proc: what bounds a server when the
# machine's cores are shared) and the ratio Haze / nginx of req/s, each the
# median of RUNS runs of SECS seconds; then the website's own counters of
# trouble (its metrics page: memory refused, segments dropped, resets)
# and its heap's peak. Raw wrk output is kept in the file
# KEEP if it is set. With PROFILE=DIR, each server is sampled during its
# runs (perf record -e cpu-clock: a software clock, which works where the
# machine has no hardware counters) into DIR/CASE.SIDE.data, for
# `perf report -i`; the sampling slows the servers, so those figures are
# not the bench's. A benchmark, not a test: nothing here is in `make test`.
#
# Needs wrk and nginx; installs the Debian packages with apt-get if they
# are missing, without starting or enabling nginx's system service.
set -u
. tests/net/lib.sh
. bench/lib.sh

O=${O:-build}
RUNS=${RUNS:-3}
SECS=${SECS:-5}
CONNS=${CONNS:-32}
THREADS=${THREADS:-1}
KEEP=${KEEP:-}
PROFILE=${PROFILE:-}
WEBSITE=$O/unix/examples/website/website
LUA=bench/http/report.lua
# Haze: nsh (tap, the unikernel, its wrk). nginx: nsc (wrk) -- veth -- nss.
nsh=hzwh$$ tap=hzwt$$ nsc=hzwc$$ nss=hzws$$
haze_ip=10.93.0.2 nginx_ip=10.94.0.2
hpid="" npid=""
tmp=$(mktemp -d)

say() { printf 'bench/http: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}

# stop PID: SIGTERM (nginx: SIGQUIT, a graceful stop), then SIGKILL.
stop() {
	[ -n "$1" ] || return 0
	kill "-$2" "$1" 2>/dev/null || return 0
	for _ in $(seq 30); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null
}

cleanup() {
	stop "$npid" QUIT
	stop "$hpid" TERM
	netns_down $nsh
	netns_down $nsc
	netns_down $nss
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! netns_usable; then
	die "needs root, /dev/net/tun and network namespaces"
fi
[ -x "$WEBSITE" ] || die "$WEBSITE is missing: run make O=$O unix first"
if [ -n "$PROFILE" ]; then
	command -v perf >/dev/null 2>&1 ||
		die "PROFILE needs perf (Debian package linux-perf)"
	mkdir -p "$PROFILE" || exit 1
fi

# --- wrk and nginx, from Debian if missing -----------------------------------
missing=""
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
[ -x /usr/sbin/nginx ] || missing="$missing nginx"
if [ -n "$missing" ]; then
	say "installing Debian packages:$missing (apt-get; nginx's system" \
		"service is neither started nor enabled)"
	# shellcheck disable=SC2086
	debian_install "$tmp/apt.log" $missing
	rc=$?
	case $missing in
	*nginx*)
		update-rc.d nginx disable >/dev/null 2>&1
		systemctl disable nginx >/dev/null 2>&1
		;;
	esac
	[ $rc -eq 0 ] || die "apt-get install$missing failed: $(tail -n 3 "$tmp/apt.log")"
fi
nginx_version=$(/usr/sbin/nginx -v 2>&1 | sed 's/.*nginx\///')

# --- the files, the certificate, the nginx config ----------------------------
# The temp dir is read by nginx's worker, which is not root.
chmod 755 "$tmp"
mkdir -p "$tmp/site" "$tmp/tls" "$tmp/nginx" || exit 1
cp -R examples/website/site/. "$tmp/site/" || exit 1
head -c 1048576 /dev/urandom >"$tmp/site/1mib.bin" || exit 1
chmod -R a+rX "$tmp/site"
tar --format=ustar --owner=0 --group=0 --numeric-owner -cf "$tmp/site.tar" \
	-C "$tmp/site" . || exit 1
page=/ big=/1mib.bin
page_size=$(wc -c <"$tmp/site/index.html")
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-days 30 -subj /CN=bench.haze.test -keyout "$tmp/tls/key.pem" \
	-out "$tmp/tls/cert.pem" >/dev/null 2>&1 ||
	die "openssl could not make a P-256 certificate"
tar -C "$tmp/tls" -cf "$tmp/tls.tar" cert.pem key.pem || exit 1
# The clients (wrk, openssl) offer P-256 alone: offered X25519 too, as
# OpenSSL does by default, Haze's TLS picks X25519, and the two servers
# would not do the same key exchange.
cat >"$tmp/client.cnf" <<EOF
openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
Groups = P-256
EOF
export OPENSSL_CONF="$tmp/client.cnf"

# Tuned as a site would tune it (sendfile, open file cache); keep-alive
# as long as Haze's (no request cap); sessions remembered by ID on 443,
# as Haze's, and none on 8443 (full handshakes).
cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	access_log off;
	sendfile on;
	tcp_nopush on;
	tcp_nodelay on;
	open_file_cache max=1000 inactive=60s;
	keepalive_requests 100000000;
	keepalive_timeout 30s;
	client_body_temp_path $tmp/nginx/body;
	proxy_temp_path $tmp/nginx/proxy;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	scgi_temp_path $tmp/nginx/scgi;
	# What both servers share; they differ only in the session cache.
	root $tmp/site;
	index index.html;
	error_page 404 /404.html;
	ssl_certificate $tmp/tls/cert.pem;
	ssl_certificate_key $tmp/tls/key.pem;
	ssl_protocols TLSv1.2;
	ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256;
	ssl_ecdh_curve prime256v1;
	ssl_prefer_server_ciphers on;
	ssl_session_tickets off;
	server {
		listen 80 backlog=1024;
		listen 443 ssl backlog=1024;
		ssl_session_cache shared:SSL:10m;
	}
	server {
		listen 8443 ssl backlog=1024;
		ssl_session_cache off;
	}
}
EOF

# --- the network and the servers ---------------------------------------------
netns_up $nsh $tap 10.93.0.1/24 || die "cannot make the tap's namespace"
ip netns add $nsc && ip netns add $nss &&
	ip link add hzwv$$ netns $nsc type veth peer name hzww$$ netns $nss &&
	ip -n $nsc addr add 10.94.0.1/24 dev hzwv$$ &&
	ip -n $nsc link set hzwv$$ up && ip -n $nsc link set lo up &&
	ip -n $nss addr add $nginx_ip/24 dev hzww$$ &&
	ip -n $nss link set hzww$$ up && ip -n $nss link set lo up ||
	die "cannot make the veth pair's namespaces"
# The clients reuse TIME_WAIT ports: new connections per request would
# otherwise run out of them. The servers' backlogs hold every client.
for ns in $nsh $nsc; do
	ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1 \
		net.ipv4.ip_local_port_range="1024 65000"
done
ip netns exec $nss sysctl -qw net.core.somaxconn=4096

# start_haze OPTION...: starts the website with OPTIONs added; its pid in
# hpid, once it serves.
start_haze() {
	ip netns exec $nsh "$WEBSITE" --mem 512 --net service=tap:$tap \
		--block site="$tmp/site.tar" --block tls="$tmp/tls.tar" -- \
		--stack "direct:service,ip=$haze_ip/24" --http 80 --https 443 \
		--site site --tls tls --quiet --metrics /hz-metrics "$@" \
		>"$tmp/haze.out" 2>&1 &
	hpid=$!
	wait_for "$tmp/haze.out" "HTTP on port" 30 ||
		die "the website did not start: $(cat "$tmp/haze.out")"
}
start_haze
ip netns exec $nss /usr/sbin/nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" \
	-e "$tmp/nginx/error.log" >"$tmp/nginx.out" 2>&1 &
npid=$!
for _ in $(seq 50); do
	nworker=$(pgrep -P "$npid" | head -n 1)
	[ -n "$nworker" ] && break
	sleep 0.1
done
[ -n "$nworker" ] || die "nginx did not start: $(cat "$tmp/nginx.out" \
	"$tmp/nginx/error.log" 2>/dev/null)"

# Both answer every URL of the bench, whole, before anything is measured
# (a broken server would otherwise show as a fast one).
for side in haze nginx; do
	case $side in
	haze) ns=$nsh ip=$haze_ip ;;
	nginx) ns=$nsc ip=$nginx_ip ;;
	esac
	for scheme in http https; do
		for path in $page $big; do
			want=$page_size
			[ "$path" = "$big" ] && want=1048576
			got=$(ip netns exec "$ns" curl -sk --max-time 10 -o /dev/null \
				-w '%{http_code} %{size_download}' "$scheme://$ip$path")
			[ "$got" = "200 $want" ] ||
				die "$side: $scheme://$ip$path gave '$got', not '200 $want'"
		done
	done
done

got=$(ip netns exec $nsc curl -sk --max-time 10 -o /dev/null \
	-w '%{http_code} %{size_download}' "https://$nginx_ip:8443$page")
[ "$got" = "200 $page_size" ] ||
	die "nginx: https://$nginx_ip:8443$page gave '$got', not '200 $page_size'"

# suite NS IP: what an openssl client negotiates with the server at IP:443.
suite() {
	ip netns exec "$1" openssl s_client -connect "$2:443" -brief \
		</dev/null 2>&1 | awk -F': ' '
		/^Protocol version/ { p = $2 }
		/^Ciphersuite/ { c = $2 }
		/^(Server|Peer) Temp Key/ { k = $2 }
		/^Signature type/ { s = $2 }
		/^Hash used/ { h = $2 }
		END { print p ", " c ", key exchange " k ", signed " s " " h }'
}
haze_suite=$(suite $nsh $haze_ip)
nginx_suite=$(suite $nsc $nginx_ip)

# --- measuring -----------------------------------------------------------------
hz=$(getconf CLK_TCK)

# cpu PID: the process's user and system time, in clock ticks.
cpu() {
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# busy: the machine's busy and steal jiffies, and the total, from /proc/stat.
busy() {
	awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i;
		print t - $5 - $6, $9, t }' /proc/stat
}

# one SIDE URL MODE NAME: one wrk run against URL; appends "req/s MB/s p99
# server-CPU-us/req client-CPU-us/req" to $tmp/NAME.SIDE.
one() {
	case $1 in
	haze) ns=$nsh pid=$hpid log=$tmp/haze.out ;;
	nginx) ns=$nsc pid=$nworker log=$tmp/nginx/error.log ;;
	esac
	kill -0 "$pid" 2>/dev/null ||
		die "$1 is no longer running (case $4): $(tail -n 5 "$log")"
	if [ "$3" = close ]; then
		set -- "$1" "$2" "$3" "$4" -H "Connection: close"
	else
		set -- "$1" "$2" "$3" "$4"
	fi
	side=$1 url=$2 name=$4
	shift 4
	perf=""
	if [ -n "$PROFILE" ]; then
		perf record -q -e cpu-clock -p "$pid" \
			-o "$PROFILE/$name.$side.data" >/dev/null 2>&1 &
		perf=$!
	fi
	c0=$(cpu "$pid")
	# The wrapper's cutime/cstime after wait: wrk's CPU, all its threads.
	ip netns exec "$ns" sh -c '"$@"; r=$?; cat /proc/$$/stat >&3; exit $r' \
		sh wrk -t"$THREADS" -c"$CONNS" -d"$SECS"s --timeout 10s --latency \
		-s "$LUA" "$@" "$url" >"$tmp/wrk.out" 2>&1 3>"$tmp/wrk.stat" ||
		die "wrk failed against $side ($name): $(tail -n 3 "$tmp/wrk.out")"
	c1=$(cpu "$pid")
	if [ -n "$perf" ]; then
		kill -INT "$perf"
		wait "$perf"
	fi
	[ -n "$KEEP" ] && { echo "== $side $name"; cat "$tmp/wrk.out"; } >>"$KEEP"
	# shellcheck disable=SC2046 # a line of numbers, split on purpose
	set -- $(grep '^RESULT' "$tmp/wrk.out")
	[ $# -eq 7 ] || die "no figures from wrk against $side ($name): $(cat "$tmp/wrk.out")"
	[ "$7" -gt 0 ] || die "$side ($name): no request completed"
	# Socket errors and statuses other than 2xx/3xx: said, not hidden.
	if [ "$5" -ne 0 ] || [ "$6" -ne 0 ]; then
		say "$side ($name): $5 socket errors, $6 bad statuses in $7 requests"
		echo "$side $name $5 $6 $7" >>"$tmp/errors"
	fi
	wrk_cpu=$(sed 's/.*) //' "$tmp/wrk.stat" | awk '{ print $14 + $15 }')
	awk -v r="$2" -v m="$3" -v p="$4" -v n="$7" -v s="$((c1 - c0))" \
		-v c="$wrk_cpu" -v hz="$hz" 'BEGIN {
		printf "%s %s %s %.1f %.1f\n", r, m, p, s * 1e6 / hz / n,
			c * 1e6 / hz / n }' >>"$tmp/$name.$side"
}

# col FILE N: the median of column N of FILE.
col() {
	awk -v n="$2" '{ print $n }' "$1" | median
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
b0=$(busy)
cases=""
for scheme in http https; do
	for mode in keepalive close; do
		for what in page big; do
			name=$scheme-$mode-$what
			cases="$cases $name"
			path=$page
			[ $what = big ] && path=$big
			for _ in $(seq "$RUNS"); do
				one nginx "$scheme://$nginx_ip$path" $mode "$name"
				one haze "$scheme://$haze_ip$path" $mode "$name"
			done
			say "$name done"
		done
	done
done
# counters: what the website's own counters say went wrong, if anything
# (memory refused, segments dropped, connections reset), and its heap's
# peak, on one line.
counters() {
	ip netns exec $nsh curl -s --max-time 10 "http://$haze_ip/hz-metrics" |
		awk '/^heap_peak / { printf "%s %.0f MiB", $1, $2 / 1048576
				sep = "; " }
			/no_memory|alloc_fail|drop_|reset|peer_error|_timeout/ &&
				$2 > 0 { printf "%s%s %s", sep, $1, $2; sep = ", " }
			END { print "" }'
}
counters_resumed=$(counters)
# Every handshake full: nginx's second server, the website without a
# session cache.
kill "$hpid"
wait "$hpid" 2>/dev/null
start_haze --tls-sessions 0
name=https-full-page
cases="$cases $name"
for _ in $(seq "$RUNS"); do
	one nginx "https://$nginx_ip:8443$page" close "$name"
	one haze "https://$haze_ip$page" close "$name"
done
say "$name done"
counters_full=$(counters)
b1=$(busy)
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the report ----------------------------------------------------------------
echo "bench/http: the website (Haze, unix target, direct stack on a tap)" \
	"and nginx $nginx_version (1 worker, veth), the same files, no access logs"
echo "wrk -t$THREADS -c$CONNS, median of $RUNS runs of $SECS s each;" \
	"page: / ($page_size bytes), 1 MiB: $big"
echo "Haze HTTPS:  $haze_suite"
echo "nginx HTTPS: $nginx_suite"
echo "HTTPS conn/request: resumed handshakes (session caches on, by ID);" \
	"full handshake: none resumed (caches off)"
printf '%-26s %9s %8s %8s %8s | %9s %8s %8s %8s | %6s\n' "" \
	"Haze r/s" "MB/s" "p99 ms" "CPU us" "nginx r/s" "MB/s" "p99 ms" \
	"CPU us" "ratio"
for name in $cases; do
	label=$(echo "$name" | sed 's/-keepalive-/ keep-alive /;
		s/-close-/ conn\/request /; s/-full-/ full handshake /;
		s/big$/1 MiB/')
	h=$tmp/$name.haze n=$tmp/$name.nginx
	printf '%-26s %9s %8s %8s %8s | %9s %8s %8s %8s | %6s\n' "$label" \
		"$(col "$h" 1)" "$(col "$h" 2)" "$(col "$h" 3)" "$(col "$h" 4)" \
		"$(col "$n" 1)" "$(col "$n" 2)" "$(col "$n" 3)" "$(col "$n" 4)" \
		"$(awk -v h="$(col "$h" 1)" -v n="$(col "$n" 1)" \
			'BEGIN { if (n > 0) printf "%.2f", h / n; else print "n/a" }')"
done
echo "CPU us: the server process's CPU time per request (user + system," \
	"/proc/PID/stat)."
echo "wrk's own CPU per request (Haze side / nginx side):"
for name in $cases; do
	printf '  %-26s %8s / %s us\n' "$name" "$(col "$tmp/$name.haze" 5)" \
		"$(col "$tmp/$name.nginx" 5)"
done
# shellcheck disable=SC2086 # two lines of numbers, split on purpose
set -- $b0 $b1
awk -v b="$(($4 - $1))" -v s="$(($5 - $2))" -v t="$(($6 - $3))" \
	-v l0="$load0" -v l1="$load1" -v n="$(nproc)" 'BEGIN {
	printf "machine: %d CPUs, %.0f%% busy (steal %.0f%%) during the runs;" \
		" load average %s before, %s after\n", n, 100 * b / t,
		100 * s / t, l0, l1 }'
for c in "resumed:$counters_resumed" "full handshake:$counters_full"; do
	echo "${c#*:}" | fold -s -w 70 |
		sed "s/ *\$//; 1s/^/Haze counters (${c%%:*} runs): /; 2,\$s/^/  /"
done
if [ -s "$tmp/errors" ]; then
	echo "errors (side case socket-errors bad-statuses requests):"
	sed 's/^/  /' "$tmp/errors"
fi
