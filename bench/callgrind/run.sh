#!/bin/sh
# bench/callgrind: the instructions Haze's process runs per MiB echoed,
# plain and TLS, counted by valgrind's callgrind, for each build named.
#
#   bench/callgrind/run.sh [BUILD...]     (root: a namespace and a tap)
#
# On a machine whose CPU time moves by a tenth from run to run (other
# load, a nested hypervisor) and that has no hardware counters for
# `perf stat`, an instruction count is the figure that repeats: the same
# binary and input give the same count whatever else runs. For each build
# tree (default: $O, else build) the echo and tls-echo examples run on
# the direct stack behind a tap under callgrind while the bench client
# (bench/client/client.c) echoes SMALL then LARGE MiB through them; the
# difference of the two runs' counts over LARGE - SMALL is the cost of a
# MiB echoed (in and out), start-up and handshake left out. Printed per
# build: all instructions and memcpy's (libc's copies, the figure that
# zero-copy work moves), in M per MiB, and the ratio to the first build.
# Only user space is counted: the kernel's share (the tap's system calls)
# is not, so this measures Haze's own work, not the whole cost.
# docs/perf.md keeps figures from it.
set -u
. tests/net/lib.sh
. bench/lib.sh

SMALL=${SMALL:-2}
LARGE=${LARGE:-18}
[ $# -gt 0 ] || set -- "${O:-build}"
ns=hzcg$$ tap=hzcgt$$
tmp=$(mktemp -d)
trap 'netns_down $ns; rm -rf "$tmp"' EXIT

command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null || {
	echo "bench/callgrind: needs valgrind (Debian's valgrind)" >&2
	exit 1
}
netns_usable || {
	echo "bench/callgrind: needs root, /dev/net/tun and namespaces" >&2
	exit 1
}
make --no-print-directory O="$1" bench-client >"$tmp/build" 2>&1 || {
	echo "bench/callgrind: cannot build the client:" >&2
	cat "$tmp/build" >&2
	exit 1
}
client=$1/bench/bench/client/client
netns_up $ns $tap 10.77.0.1/24 || exit 1

# count BUILD APP PORT MIB: runs APP of BUILD under callgrind while MIB
# MiB are echoed; prints its total instructions and memcpy's (memmove's
# included). Fails, saying why, if the app or the client does.
count() {
	out=$tmp/cg.out
	rm -f "$out"
	ip netns exec $ns valgrind --tool=callgrind --callgrind-out-file="$out" \
		"$1/unix/examples/$2/$2" --mem 512 --net service=tap:$tap -- \
		--stack direct:service,ip=10.77.0.2/24 --quiet \
		>"$tmp/app.log" 2>&1 &
	pid=$!
	wait_for "$tmp/app.log" serving 60 || {
		echo "bench/callgrind: $2 did not start: $(cat "$tmp/app.log")" >&2
		kill $pid 2>/dev/null
		return 1
	}
	ca=
	[ "$2" = tls-echo ] && ca=$1/gen/tls/certs/ca.pem
	# shellcheck disable=SC2086 # no CA file for plain echo
	ip netns exec $ns "$client" echo 10.77.0.2 "$3" "$4" $ca >/dev/null || {
		echo "bench/callgrind: the client failed against $2" >&2
		kill $pid 2>/dev/null
		return 1
	}
	kill $pid # callgrind writes its counts as the program ends
	wait $pid 2>/dev/null
	callgrind_annotate "$out" 2>/dev/null | awk '
		/PROGRAM TOTALS/ { gsub(",", "", $1); all = $1 }
		/__mem(cpy|move)_[a-z_]*erms / && $0 !~ /=>/ {
			gsub(",", "", $1); mc += $1 }
		END { print all, mc + 0 }'
}

# per_mib BUILD APP PORT: instructions and memcpy's per MiB, in M.
per_mib() {
	small=$(count "$1" "$2" "$3" "$SMALL") || return 1
	large=$(count "$1" "$2" "$3" "$LARGE") || return 1
	echo "$small $large" | awk -v n=$((LARGE - SMALL)) \
		'{ printf "%.2f %.2f\n", ($3 - $1) / n / 1e6, ($4 - $2) / n / 1e6 }'
}

echo "bench/callgrind: instructions of Haze's process per MiB echoed (M), $SMALL and $LARGE MiB runs"
printf '%-28s %10s %10s %10s %10s\n' build "plain" "memcpy" "TLS" "memcpy"
first_plain= first_tls=
for b in "$@"; do
	plain=$(per_mib "$b" echo 7) || exit 1
	tls=$(per_mib "$b" tls-echo 4433) || exit 1
	set -- $plain $tls
	printf '%-28s %10s %10s %10s %10s' "$b" "$1" "$2" "$3" "$4"
	if [ -z "$first_plain" ]; then
		first_plain=$1 first_tls=$3
		echo
	else
		awk -v a="$1" -v b="$first_plain" -v c="$3" -v d="$first_tls" \
			'BEGIN { printf "   (%.2f, %.2f of the first)\n", a / b, c / d }'
	fi
done
