#!/bin/sh
# bench/dns: examples/dns against NSD, the same zone, in the same run.
#
#   bench/dns/run.sh                 RUNS=5 SECS=5 CLIENTS=1 OUTSTANDING=100
#   NAMES=50000 bench/dns/run.sh     the zone grown by 50,000 host names
#
# Both serve examples/dns/haze.test.zone on 127.0.0.1: Haze's unikernel on
# the unix target's socket stack, and NSD (Debian's) with one server
# process (server-count 1), from a config of our own in a temp dir
# (never the system's service). Neither limits its response rate (Haze's
# --rrl off, NSD's rrl-ratelimit 0): the bench measures answering, and
# one client address would otherwise be limited at once. Under haze-kvm
# too, on a tap in a network namespace, where /dev/kvm is usable (and
# said to be skipped where it is not).
#
# With NAMES=N, N more names (hI.haze.test A) are appended to a copy of
# the zone, which Haze then reads from a block device (--zone) and NSD
# from its file, and the queries ask for some of them: the cost of a
# large zone (Haze looks names up in a hash index, docs/dns.md).
#
# dnsperf (Debian's) sends a query file that mixes names that exist (A,
# AAAA, MX, TXT, SRV, CNAME chains), NXDOMAIN and NODATA, with
# OUTSTANDING queries in flight from CLIENTS sockets, for SECS seconds;
# the runs of the servers alternate, so load from elsewhere falls on
# both alike. It prints each server's median queries per second over
# RUNS runs, its lost queries, its CPU time per query (from /proc), and
# the ratio Haze / NSD. With PROFILE=DIR, Haze is sampled during its
# runs (perf record -e cpu-clock) into DIR/haze.data; those runs are
# slowed by the sampling. A benchmark, not a test: not in `make test`.
set -u
. tests/net/lib.sh
. bench/lib.sh

O=${O:-build}
RUNS=${RUNS:-5}
SECS=${SECS:-5}
CLIENTS=${CLIENTS:-1}
OUTSTANDING=${OUTSTANDING:-100}
PROFILE=${PROFILE:-}
NAMES=${NAMES:-0}
DNS=$O/unix/examples/dns/dns
IMAGE=$O/kvm/examples/dns/dns.hz
TENDER=$O/host/tender/haze-kvm
ZONE=examples/dns/haze.test.zone
hport=$((20000 + $$ % 20000))
nport=$((hport + 1))
hpid="" npid="" kpid="" kns=hzdk$$ ktap=hzdt$$
tmp=$(mktemp -d)

say() { printf 'bench/dns: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}

stop() {
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null || return 0
	for _ in $(seq 30); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null
}

cleanup() {
	stop "$hpid"
	stop "$npid"
	stop "$kpid"
	[ -n "$kpid" ] && netns_down $kns
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$DNS" ] || die "$DNS is missing: run make O=$O unix first"
for t in dnsperf:dnsperf nsd:nsd dig:bind9-dnsutils; do
	command -v "${t%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${t%%:*}" ] ||
		die "${t%%:*} is missing: install the Debian package ${t#*:}" \
			"(make deps does)"
done
PATH=$PATH:/usr/sbin

# --- the queries ---------------------------------------------------------------
# 60% names that exist, 20% NXDOMAIN, 20% NODATA: what an authoritative
# server sees, roughly, and every path of the answer code.
{
	for n in 1 2 3; do
		echo "haze.test A"
		echo "host.haze.test A"
		echo "host.haze.test AAAA"
		echo "haze.test MX"
		echo "www.haze.test A"
		echo "ns1.haze.test A"
		echo "_http._tcp.haze.test SRV"
		echo "haze.test TXT"
		echo "nothere$n.haze.test A"
		echo "x$n.host.haze.test AAAA"
		echo "ns2.haze.test AAAA"
		echo "b.c.deep.haze.test A"
	done
	echo "mail2.haze.test AAAA"
	echo "ftp.haze.test A"
	if [ "$NAMES" -gt 0 ]; then
		for i in 0 1 2 3 4 5; do
			echo "h$((NAMES - 1 - i * NAMES / 7)).haze.test A"
		done
	fi
} >"$tmp/queries"
zone_args=""
if [ "$NAMES" -gt 0 ]; then
	{
		cat "$ZONE"
		awk -v n="$NAMES" 'BEGIN { for (i = 0; i < n; i++)
			printf "h%d.haze.test. A 10.%d.%d.%d\n", i,
			    i / 65536 % 256,
			    i / 256 % 256, i % 256 }'
	} >"$tmp/big.zone"
	ZONE=$tmp/big.zone
	# The device: the text padded with NULs to whole 512-byte sectors.
	cp "$ZONE" "$tmp/big.blk"
	truncate -s $(($(stat -c %s "$ZONE") / 512 * 512 + 512)) "$tmp/big.blk"
	zone_args="--block zone=$tmp/big.blk"
	say "the zone has $(grep -c . "$ZONE") lines ($NAMES names added)"
fi

# --- the servers ---------------------------------------------------------------
"$DNS" --mem 64 $zone_args -- --stack socket --port "$hport" --rrl off \
	${zone_args:+--zone zone} >"$tmp/haze.out" 2>&1 &
hpid=$!
mkdir -p "$tmp/nsd" && cp "$ZONE" "$tmp/nsd/haze.test.zone"
cat >"$tmp/nsd/nsd.conf" <<NSDEOF
server:
	ip-address: 127.0.0.1@$nport
	server-count: 1
	zonesdir: "$tmp/nsd"
	zonelistfile: "$tmp/nsd/zone.list"
	database: ""
	pidfile: "$tmp/nsd/nsd.pid"
	xfrdfile: "$tmp/nsd/xfrd.state"
	xfrdir: "$tmp/nsd"
	logfile: "$tmp/nsd/nsd.log"
	username: ""
	chroot: ""
	hide-version: yes
	rrl-ratelimit: 0
	verbosity: 0
remote-control:
	control-enable: no
zone:
	name: haze.test
	zonefile: "$tmp/nsd/haze.test.zone"
NSDEOF
nsd -d -c "$tmp/nsd/nsd.conf" >"$tmp/nsd.out" 2>&1 &
npid=$!
wait_for "$tmp/haze.out" "UDP and TCP on port" 10 ||
	die "the unikernel did not start: $(cat "$tmp/haze.out")"

# answers PORT [NS]: both serve the zone right before anything is timed
# (a broken server would otherwise show as a fast one).
answers() {
	${2:+ip netns exec "$2"} dig @"${3:-127.0.0.1}" -p "$1" +norec +time=1 \
		+tries=1 +short ftp.haze.test A 2>/dev/null | tail -n 1
}
for _ in $(seq 50); do
	[ "$(answers $nport)" = 192.0.2.80 ] && break
	sleep 0.1
done
[ "$(answers $hport)" = 192.0.2.80 ] || die "Haze does not answer right"
[ "$(answers $nport)" = 192.0.2.80 ] ||
	die "NSD does not answer right: $(cat "$tmp/nsd.out")"

hz=$(getconf CLK_TCK)
cpu() {
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}
# tree PID: PID and every process below it.
tree() {
	echo "$1"
	for c in $(pgrep -P "$1"); do
		tree "$c"
	done
}
# nsd_cpu: the CPU of all of NSD's processes (the one started becomes
# xfrd, its child main, and main's child the server that answers).
nsd_cpu() {
	t=0
	for p in $(tree "$npid"); do
		t=$((t + $(cpu "$p")))
	done
	echo $t
}

# one SIDE PORT [NS ADDR]: one dnsperf run; appends "qps lost cpu-us/q".
one() {
	side=$1 port=$2 ns=${3:-} addr=${4:-127.0.0.1}
	case $side in
	haze) c0=$(cpu "$hpid") ;;
	nsd) c0=$(nsd_cpu) ;;
	kvm) c0=$(cpu "$kpid") ;;
	esac
	perf=""
	if [ -n "$PROFILE" ] && [ "$side" = haze ]; then
		perf record -q -e cpu-clock -p "$hpid" \
			-o "$PROFILE/haze.data" >/dev/null 2>&1 &
		perf=$!
	fi
	${ns:+ip netns exec "$ns"} dnsperf -s "$addr" -p "$port" \
		-d "$tmp/queries" -l "$SECS" -c "$CLIENTS" -T 1 \
		-q "$OUTSTANDING" >"$tmp/perf.out" 2>&1 ||
		die "dnsperf failed against $side: $(tail -n 3 "$tmp/perf.out")"
	[ -n "$perf" ] && { kill -INT "$perf"; wait "$perf"; }
	case $side in
	haze) c1=$(cpu "$hpid") ;;
	nsd) c1=$(nsd_cpu) ;;
	kvm) c1=$(cpu "$kpid") ;;
	esac
	awk -v c="$((c1 - c0))" -v hz="$hz" '
		/Queries completed:/ { done = $3 }
		/Queries lost:/ { lost = $3 }
		/Queries per second:/ { qps = $4 }
		/NOERROR/ { rc = $0 }
		END { printf "%s %s %.2f\n", qps, lost, \
			(done > 0 ? c * 1e6 / hz / done : 0) }' "$tmp/perf.out" \
		>>"$tmp/res.$side"
	grep -q "NOERROR" "$tmp/perf.out" ||
		die "$side: no NOERROR answer: $(cat "$tmp/perf.out")"
}

col() {
	awk -v n="$2" '{ print $n }' "$1" | median
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq "$RUNS"); do
	one nsd $nport
	one haze $hport
	say "run $i of $RUNS done"
done

# --- haze-kvm, where it can run ---------------------------------------------------
kvm_note=""
if ! { [ -r /dev/kvm ] && [ -w /dev/kvm ]; }; then
	kvm_note="skipped: /dev/kvm is not usable on this machine"
elif ! netns_usable; then
	kvm_note="skipped: needs root, /dev/net/tun and network namespaces"
elif ! [ -x "$TENDER" ] || ! [ -f "$IMAGE" ]; then
	kvm_note="skipped: $TENDER or $IMAGE is missing (make O=$O kvm)"
else
	netns_up $kns $ktap 10.95.0.1/24 || die "cannot make the tap's namespace"
	ip netns exec $kns "$TENDER" --mem 64 --net service=tap:$ktap \
		$zone_args "$IMAGE" --stack "direct:service,ip=10.95.0.2/24" \
		--port 53 --rrl off ${zone_args:+--zone zone} \
		>"$tmp/kvm.out" 2>&1 &
	kpid=$!
	wait_for "$tmp/kvm.out" "UDP and TCP on port" 20 ||
		die "the image did not start: $(cat "$tmp/kvm.out")"
	for _ in $(seq 30); do
		[ "$(answers 53 $kns 10.95.0.2)" = 192.0.2.80 ] && break
		sleep 0.2
	done
	[ "$(answers 53 $kns 10.95.0.2)" = 192.0.2.80 ] ||
		die "the image does not answer right"
	for i in $(seq "$RUNS"); do
		one kvm 53 $kns 10.95.0.2
	done
fi
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the report ----------------------------------------------------------------------
echo "bench/dns: examples/dns (Haze, unix target, socket stack) and NSD" \
	"$(nsd -v 2>&1 | sed -n 's/^NSD version //p') (server-count 1)," \
	"$(wc -l <"$tmp/queries") queries of examples/dns/haze.test.zone," \
	"no rate limiting"
echo "dnsperf -c $CLIENTS -q $OUTSTANDING on 127.0.0.1, median of $RUNS" \
	"runs of $SECS s, alternating"
printf '%-26s %10s %8s %12s\n' "" "queries/s" "lost" "CPU us/query"
for side in haze nsd kvm; do
	[ -s "$tmp/res.$side" ] || continue
	case $side in
	haze) label="Haze (unix, socket)" ;;
	nsd) label="NSD" ;;
	kvm) label="Haze (haze-kvm, tap)" ;;
	esac
	printf '%-26s %10s %8s %12s\n' "$label" "$(col "$tmp/res.$side" 1)" \
		"$(col "$tmp/res.$side" 2)" "$(col "$tmp/res.$side" 3)"
done
[ -n "$kvm_note" ] && echo "haze-kvm: $kvm_note"
awk -v h="$(col "$tmp/res.haze" 1)" -v n="$(col "$tmp/res.nsd" 1)" 'BEGIN {
	printf "ratio Haze / NSD (queries/s): %.2f\n", (n > 0 ? h / n : 0) }'
echo "runs (qps lost cpu-us): Haze $(awk '{ printf "%s%s", s, $1; s = ", " }' \
	"$tmp/res.haze"); NSD $(awk '{ printf "%s%s", s, $1; s = ", " }' "$tmp/res.nsd")"
echo "machine: $(nproc) CPUs; load average $load0 before, $load1 after"
