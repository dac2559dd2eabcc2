# Running examples/dns and NSD for the DNS suites: source this file first.
# It brings in tests/tap.sh and tests/net/lib.sh, sets O and tmp (a
# temporary directory), and stops everything and removes tmp on exit.
#
#   dns_start LOG [UNIX-OPTS --] ARGS  starts the unikernel (unix target,
#                        socket stack, 127.0.0.1:$dns_port), waits for its
#                        "UDP and TCP on port" line; ARGS are the app's
#   dns_stop             stops it (SIGTERM) and waits for it
#   nsd_start ZONEFILE   starts NSD on 127.0.0.1:$nsd_port serving
#                        ZONEFILE as haze.test, from a config of its own
#                        in $tmp/nsd (never the system's, no service, no
#                        chroot, no privilege change, no rate limiting),
#                        and waits until it answers
#   dns_cleanup          stops both; for the caller's EXIT trap
#
# Ports are high ones derived from the shell's pid, so that suites running
# side by side do not collide.
# shellcheck shell=sh
# Its variables are for the suites that source it.
# shellcheck disable=SC2034

. tests/tap.sh
. tests/net/lib.sh

O=${O:-build}
tmp=$(mktemp -d)
trap 'dns_cleanup; rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM PIPE

DNS_BIN=$O/unix/examples/dns/dns
dns_port=$((20000 + $$ % 20000))
nsd_port=$((dns_port + 1))
dns_pid=
nsd_pid=

dns_start() {
	dns_log=$1
	shift
	case " $* " in
	*" -- "*) ;;
	*) set -- -- "$@" ;;
	esac
	"$DNS_BIN" "$@" >"$dns_log" 2>&1 &
	dns_pid=$!
	# The app's own arguments follow the --: the stack and port.
	if ! wait_for "$dns_log" "UDP and TCP on port" 10; then
		return 1
	fi
}

dns_stop() {
	[ -n "$dns_pid" ] || return 0
	kill "$dns_pid" 2>/dev/null
	wait "$dns_pid" 2>/dev/null
	dns_pid=
}

nsd_start() {
	d=$tmp/nsd
	mkdir -p "$d" || return 1
	cp "$1" "$d/haze.test.zone" || return 1
	cat >"$d/nsd.conf" <<NSDEOF
server:
	ip-address: 127.0.0.1@$nsd_port
	server-count: 1
	zonesdir: "$d"
	zonelistfile: "$d/zone.list"
	database: ""
	pidfile: "$d/nsd.pid"
	xfrdfile: "$d/xfrd.state"
	xfrdir: "$d"
	logfile: "$d/nsd.log"
	username: ""
	chroot: ""
	hide-version: yes
	rrl-ratelimit: 0
remote-control:
	control-enable: no
zone:
	name: haze.test
	zonefile: "$d/haze.test.zone"
NSDEOF
	nsd -d -c "$d/nsd.conf" >"$d/out" 2>&1 &
	nsd_pid=$!
	for _ in $(seq 50); do
		if dig @127.0.0.1 -p "$nsd_port" +norec +time=1 +tries=1 \
			+short haze.test SOA 2>/dev/null | grep -q hostmaster; then
			return 0
		fi
		kill -0 "$nsd_pid" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}

dns_cleanup() {
	dns_stop
	if [ -n "$nsd_pid" ]; then
		kill "$nsd_pid" 2>/dev/null
		wait "$nsd_pid" 2>/dev/null
		nsd_pid=
	fi
}
