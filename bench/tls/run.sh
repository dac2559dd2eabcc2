#!/bin/sh
# bench/tls: TLS against plain TCP through the same unikernel stack, in the
# same run.
#
#   bench/tls/run.sh [unix|kvm]     (root: a namespace and a tap)
#
# The echo and tls-echo examples run on Haze's direct stack behind a tap;
# a Linux client pushes MIB MiB through each and the ratio TLS / plain is
# printed (AES-128-GCM, TLS 1.2). The client is bench/client/client.c
# (built here by `make bench-client`; BearSSL's engine on a nonblocking
# socket, sending and receiving at once, with the vector AES-GCM Haze
# uses, as a peer on OpenSSL would have its own). Full handshakes per
# second come from openssl s_time against tls-echo, and resumed ones (the
# session cache, s_time -reuse). Each figure is the median of RUNS. On a
# 2-core machine the client, not Haze, can bound the MB/s (6 December:
# the client took 95 % of a core in both echoes, Haze about 60 %), so the
# CPU per MiB echoed of the server (from /proc) and of the client (the
# shell's `times`), over all RUNS, are printed for both, and the
# server's ratio plain / TLS compares what each costs Haze whatever
# bounds the MB/s.
#
# The tap segments TCP bursts (TSO: the unix target's, and haze-kvm's
# since its ABI version 5); the pair is run a second time with tso=off,
# where TCP cuts every segment itself, so both are printed.
set -u
. tests/net/lib.sh
. bench/lib.sh

O=${O:-build}
TARGET=${1:-unix}
RUNS=${RUNS:-5}
MIB=${MIB:-256}
ns=hzts$$ tap=hztt$$
tmp=$(mktemp -d)
trap 'netns_down $ns; rm -rf "$tmp"' EXIT

if ! netns_usable; then
	echo "bench/tls: needs root, /dev/net/tun and network namespaces" >&2
	exit 1
fi
make --no-print-directory O="$O" bench-client >"$tmp/build" 2>&1 || {
	echo "bench/tls: cannot build the client:" >&2
	cat "$tmp/build" >&2
	exit 1
}
client=$O/bench/bench/client/client

# serve APP PORT-PATTERN: starts example APP on the direct stack.
serve() {
	case $TARGET in
	unix)
		ip netns exec $ns "$O/unix/examples/$1/$1" --mem 512 \
			--net service=tap:$tap -- --stack "$spec" --quiet \
			>"$tmp/$1.out" 2>&1 &
		;;
	kvm)
		ip netns exec $ns "$O/host/tender/haze-kvm" --mem 512 \
			--net service=tap:$tap "$O/kvm/examples/$1/$1.hz" \
			--stack "$spec" --quiet >"$tmp/$1.out" 2>&1 &
		;;
	esac
	pid=$!
	wait_for "$tmp/$1.out" serving 10 && return 0
	echo "bench/tls: $1 did not start: $(cat "$tmp/$1.out")" >&2
	exit 1
}

netns_up $ns $tap 10.77.0.1/24 || exit 1
spec="direct:service,ip=10.77.0.2/24"
ca=$O/gen/tls/certs/ca.pem

# runs NAME CLIENT-ARGS...: RUNS client runs into $tmp/NAME.runs, their
# median into $tmp/NAME; a failed run stops the benchmark.
runs() {
	name=$1
	shift
	cpu0=$(cpu_ticks)
	# In a subshell, whose `times` then gives the clients' CPU alone
	# (its second line: children's user and system time, as 0m1.23s).
	(
		for _ in $(seq "$RUNS"); do
			ip netns exec $ns "$client" "$@" || {
				echo "bench/tls: a $name run failed" >&2
				exit 1
			}
		done >"$tmp/$name.runs"
		times >"$tmp/$name.times"
	) || exit 1
	median <"$tmp/$name.runs" >"$tmp/$name"
	# The server's CPU (user and system, guest time included) per MiB
	# echoed, in ms: what the pair costs Haze whoever bounds the rate.
	awk -v a="$cpu0" -v b="$(cpu_ticks)" -v hz="$(getconf CLK_TCK)" \
		-v mib=$((RUNS * MIB)) \
		'BEGIN { printf "%.2f", (b - a) * 1000 / hz / mib }' \
		>"$tmp/$name.cpu"
	# The client's, likewise: near the run's whole time, it bounds it.
	awk -v mib=$((RUNS * MIB)) '
		function secs(t) { split(t, p, "m"); return p[1] * 60 + p[2] }
		NR == 2 { printf "%.2f", (secs($1) + secs($2)) * 1000 / mib }' \
		"$tmp/$name.times" >"$tmp/$name.ccpu"
}

# cpu_ticks: the server's CPU time so far, in clock ticks.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$pid/stat"
}

# pair SUFFIX: plain then TLS echo into $tmp/plainSUFFIX, $tmp/tlsSUFFIX.
pair() {
	serve echo
	runs plain$1 echo 10.77.0.2 7 "$MIB"
	kill $pid
	wait $pid 2>/dev/null
	serve tls-echo
	runs tls$1 echo 10.77.0.2 4433 "$MIB" "$ca"
}

spec="$spec,tso=off"
pair _notso
kill $pid
wait $pid 2>/dev/null
spec="direct:service,ip=10.77.0.2/24"
pair ""
# handshakes -new|-reuse: the median over RUNS of s_time's connections
# per second, each a full handshake (-new) or a resumed session (-reuse).
handshakes() {
	for _ in $(seq "$RUNS"); do
		ip netns exec $ns openssl s_time -connect 10.77.0.2:4433 "$1" \
			-time 2 -CAfile "$ca" \
			-cipher ECDHE-ECDSA-AES128-GCM-SHA256 2>/dev/null |
			sed -n 's/^\([0-9]*\) connections in [0-9.]*s; \([0-9.]*\) connections\/user sec.*/\1/p' |
			head -n 1 | awk '{ print $1 / 2 }'
	done | median
}
hs=$(handshakes -new)
hs_reuse=$(handshakes -reuse)
kill $pid
wait $pid 2>/dev/null

# report SUFFIX LABEL: the pair's figures and their ratio.
report() {
	printf '%-40s %10s\n' "plain TCP echo$2 (MB/s)" "$(cat "$tmp/plain$1")"
	printf '%-40s %10s\n' "TLS 1.2 AES-128-GCM echo$2 (MB/s)" \
		"$(cat "$tmp/tls$1")"
	printf '%-40s %10s   (goal: 0.80 or more)\n' "TLS / plain$2" \
		"$(awk -v t="$(cat "$tmp/tls$1")" -v p="$(cat "$tmp/plain$1")" \
			'BEGIN { printf "%.2f", t / p }')"
	printf '%-40s %10s\n' "server CPU per MiB, plain$2 (ms)" \
		"$(cat "$tmp/plain$1.cpu")"
	printf '%-40s %10s\n' "server CPU per MiB, TLS$2 (ms)" \
		"$(cat "$tmp/tls$1.cpu")"
	printf '%-40s %10s\n' "client CPU per MiB, plain$2 (ms)" \
		"$(cat "$tmp/plain$1.ccpu")"
	printf '%-40s %10s\n' "client CPU per MiB, TLS$2 (ms)" \
		"$(cat "$tmp/tls$1.ccpu")"
	printf '%-40s %10s\n' "plain / TLS server CPU per MiB$2" \
		"$(awk -v t="$(cat "$tmp/tls$1.cpu")" \
			-v p="$(cat "$tmp/plain$1.cpu")" \
			'BEGIN { if (t > 0) printf "%.2f", p / t; else print "n/a" }')"
}

echo "bench/tls ($TARGET target, direct stack, median of $RUNS, $MIB MiB echoed)"
report "" ""
report _notso ", tso=off"
printf '%-40s %10s\n' "full handshakes per second" "$hs"
printf '%-40s %10s\n' "resumed handshakes per second" "$hs_reuse"
