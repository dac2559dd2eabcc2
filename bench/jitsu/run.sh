#!/bin/sh
# bench/jitsu: how long a client waits for a unikernel haze-jitsu summons.
#
#   bench/jitsu/run.sh                          O=build N=50 KEEP=
#
# One sample is what a browser does: a UDP DNS query for a service's
# name, the A answer, a TCP connect to it, `GET /`, the first byte of the
# response; timed from just before the query's sendto to that byte
# (bench/jitsu/client.py). Three sets, in one run, each of N samples:
#
# - cold: N services, each summoned once, one after the other, each
#   checked stopped (`haze-jitsu --status`) just before. Distinct
#   services rather than one stopped by its idle timeout N times: each
#   sample is then a first boot on a tap that never carried it, and
#   the client's kernel has no neighbour entry for the address (as for a
#   client meeting the name for the first time). Their idle timeout is
#   1 s, and each summon waits until the one before has stopped: no boot
#   shares the machine with another service's boot or exit.
# - warm: one more service, summoned once (not counted), then the same
#   client path N times while it runs.
# - direct: the baseline. The same website binary started by hand on a
#   tap of its own, without haze-jitsu, timed from just before its exec
#   to the first byte; it says ready on --notify as it does to the daemon.
#
# It prints median and p90 of each, the client's own split (DNS answer,
# connected), the ratio of cold to direct, the median of each stage the
# daemon logs in STATE/timings.log for the cold summons (docs/jitsu.md),
# and the issue's goals beside the figures. On the unix target always;
# under haze-kvm too where /dev/kvm is usable.
#
# The daemon runs from a config of our own: its own bridge and /24, a
# state directory in a temp dir, DNS on 127.0.0.1 and a free port, user
# nobody. On any exit it is stopped (SIGTERM), its bridge and taps are
# removed (--teardown) and the temp dir deleted; with KEEP=DIR the raw
# samples, the timings log and the daemon's log are copied there first.
# A benchmark, not a test: it fails only when the setup is broken. Needs
# root.
set -u
. tests/net/lib.sh
. bench/lib.sh

O=${O:-build}
N=${N:-50}
KEEP=${KEEP:-}
JITSU=$O/host/jitsu/haze-jitsu
WEBSITE=$O/unix/examples/website/website
IMAGE=$O/kvm/examples/website/website.hz
TENDER=$O/host/tender/haze-kvm
PY=/usr/bin/python3
CLIENT=bench/jitsu/client.py
ZONE=bench.test
br=hzjb$(($$ % 10000)) dtap=hzjd$(($$ % 10000))
net=10.97.0 dnet=10.98.0
jpid=""
tmp=$(mktemp -d)
conf=$tmp/jitsu.conf

say() { printf 'bench/jitsu: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}

cleanup() {
	if [ -n "$KEEP" ] && mkdir -p "$KEEP"; then
		cp "$tmp"/cold.* "$tmp"/warm.* "$tmp"/direct "$tmp/jitsu.log" \
			"$tmp/state/timings.log" "$conf" "$KEEP/" 2>/dev/null
	fi
	if [ -n "$jpid" ] && kill -TERM "$jpid" 2>/dev/null; then
		# It stops every service first (SIGKILL after 2 s each).
		for _ in $(seq 100); do
			kill -0 "$jpid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -KILL "$jpid" 2>/dev/null; then
			say "haze-jitsu did not stop on SIGTERM: killed," \
				"and the services it left with it"
			awk '$3 > 0 { print $3 }' "$tmp/state/services" \
				2>/dev/null | xargs -r kill -KILL 2>/dev/null
		fi
	fi
	[ -f "$conf" ] && "$JITSU" --teardown "$conf"
	ip link del "$dtap" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] || die "needs root (haze-jitsu sets up a bridge)"
[ -c /dev/net/tun ] || die "needs /dev/net/tun"
for f in "$JITSU" "$WEBSITE"; do
	[ -x "$f" ] || die "$f is missing: build it with make O=$O $f"
done
[ -x "$PY" ] || die "$PY is missing: install the Debian package python3"
command -v ip >/dev/null 2>&1 ||
	die "ip is missing: install the Debian package iproute2"
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	for f in "$IMAGE" "$TENDER"; do
		[ -e "$f" ] || die "$f is missing: build it with make O=$O $f"
	done
	targets="unix kvm"
else
	targets=unix
fi

# A port free on 127.0.0.1 for both UDP and TCP.
port=$($PY -c '
import socket
for p in range(30000 + __import__("os").getpid() % 20000, 65535):
    try:
        for t in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            s = socket.socket(socket.AF_INET, t)
            s.bind(("127.0.0.1", p))
            s.close()
        print(p)
        break
    except OSError:
        pass
') || die "no free port"

# --- the configuration ---------------------------------------------------------
# The daemon becomes nobody: the state directory under $tmp must be
# reachable, and the images (absolute paths) executable, by it.
chmod 755 "$tmp"
abs() { printf '%s/%s' "$(cd "$(dirname "$1")" && pwd)" "$(basename "$1")"; }
# service NAME TARGET ADDRESS-HOST-PART
service() {
	if [ "$2" = kvm ]; then
		img=$(abs "$IMAGE")
	else
		img=$(abs "$WEBSITE")
	fi
	cat <<EOF
service $1
    target  $2
    image   $img
    address $net.$3
    mem     32
    idle    1
    args    --stack direct:service,ip={address}/{prefix},gw={gateway} --http 80
EOF
}
{
	cat <<EOF
# bench/jitsu's own: removed at the end of the run.
zone        $ZONE
dns         127.0.0.1:$port
bridge      $br $net.1/24
state       $tmp/state
user        nobody
max-running 64
rate-limit  1000000
EOF
	case $targets in
	*kvm*) echo "tender      $(abs "$TENDER")" ;;
	esac
	base=10
	for t in $targets; do
		service "${t}w" "$t" $((base - 1))
		for i in $(seq 0 $((N - 1))); do
			service "$t$i" "$t" $((base + i))
		done
		base=$((base + N + 20))
	done
} >"$conf"
[ $((10 + 2 * (N + 20))) -lt 255 ] || die "N=$N: too many for one /24"
"$JITSU" --check "$conf" >/dev/null || die "haze-jitsu refused $conf"

"$JITSU" "$conf" >"$tmp/jitsu.log" 2>&1 &
jpid=$!
wait_for "$tmp/jitsu.log" "serving $ZONE" 30 ||
	die "haze-jitsu did not start: $(cat "$tmp/jitsu.log")"

# --- measuring -----------------------------------------------------------------
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for t in $targets; do
	names=""
	for i in $(seq 0 $((N - 1))); do
		names="$names $t$i.$ZONE"
	done
	say "$t: $N cold summons"
	# shellcheck disable=SC2086 # the names, split on purpose
	$PY "$CLIENT" cold "127.0.0.1:$port" "$JITSU" "$conf" $names \
		>"$tmp/cold.$t" || die "$t: cold summons failed; daemon:" \
		"$(tail -n 5 "$tmp/jitsu.log")"
	say "$t: $N warm"
	$PY "$CLIENT" warm "127.0.0.1:$port" "${t}w.$ZONE" 1 >/dev/null ||
		die "$t: ${t}w did not answer; daemon: $(tail -n 5 "$tmp/jitsu.log")"
	"$JITSU" --status "$conf" | grep -q "^${t}w\.$ZONE  *ready " ||
		die "$t: ${t}w is not ready after its summon"
	$PY "$CLIENT" warm "127.0.0.1:$port" "${t}w.$ZONE" "$N" \
		>"$tmp/warm.$t" || die "$t: warm samples failed"
done

say "direct: $N starts of the website without haze-jitsu"
if ! { ip tuntap add dev "$dtap" mode tap &&
	ip addr add "$dnet.1/24" dev "$dtap" && ip link set "$dtap" up; }; then
	die "cannot make the tap $dtap"
fi
# As haze-jitsu does on its taps: no IPv6 solicitations in the way.
echo 1 >"/proc/sys/net/ipv6/conf/$dtap/disable_ipv6"
$PY "$CLIENT" direct "$WEBSITE" "$dtap" "$dnet.2" "$N" >"$tmp/direct" ||
	die "direct starts failed"
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# The daemon logs a summon once its first response is seen: give the
# last one a moment.
sleep 0.5
cp "$tmp/state/timings.log" "$tmp/timings" 2>/dev/null ||
	die "no $tmp/state/timings.log"

# --- the report ----------------------------------------------------------------
# p90: the 90th percentile of the numbers on stdin (nearest rank).
p90() {
	sort -n | awk '{ v[NR] = $1 } END {
		i = int(NR * 0.9 + 0.999999); if (i < 1) i = 1; print v[i] }'
}

# fig FILE COLUMN: "median p90" of COLUMN of FILE, in ms.
fig() {
	printf '%8.2f %8.2f' "$(awk -v c="$2" '{ print $c }' "$1" | median)" \
		"$(awk -v c="$2" '{ print $c }' "$1" | p90)"
}

# med FILE COLUMN: the median of COLUMN of FILE.
med() {
	awk -v c="$2" '{ print $c }' "$1" | median
}

# verdict VALUE GOAL: met or not met.
verdict() {
	awk -v v="$1" -v g="$2" 'BEGIN { print (v <= g) ? "met" : "not met" }'
}

echo "bench/jitsu: examples/website summoned by haze-jitsu, $N samples" \
	"each; $(nproc) CPUs, $(date -u +%Y-%m-%d)"
echo "a sample: UDP DNS query -> A answer -> TCP connect -> GET / ->" \
	"first response byte (ms from the query's sendto)"
printf '%-22s %8s %8s   %s\n' "" median p90 \
	"client split, medians: DNS answer / connected"
for t in $targets; do
	for set in cold warm; do
		f=$tmp/$set.$t
		printf '%-22s %s   %.2f / %.2f\n' "$set ($t)" "$(fig "$f" 2)" \
			"$(med "$f" 3)" "$(med "$f" 4)"
	done
done
printf '%-22s %s   %s\n' "direct start (unix)" "$(fig "$tmp/direct" 2)" \
	"$(printf 'main began %.2f / ready %.2f / connected %.2f' \
		"$(med "$tmp/direct" 5)" "$(med "$tmp/direct" 3)" \
		"$(med "$tmp/direct" 4)")"
echo "direct start: the website run by hand on a tap, from just before" \
	"its exec to the first byte, no DNS"
for t in $targets; do
	awk -v c="$(med "$tmp/cold.$t" 2)" -v d="$(med "$tmp/direct" 2)" \
		-v t="$t" 'BEGIN { printf "cold (%s) / direct start, medians:" \
		" %.2f\n", t, c / d }'
done

echo "stages of the cold summons, from STATE/timings.log (median ms from" \
	"the query):"
for t in $targets; do
	grep "^${t}[0-9]*\.$ZONE " "$tmp/timings" >"$tmp/stages.$t"
	logged=$(wc -l <"$tmp/stages.$t")
	[ "$logged" -eq "$N" ] ||
		say "$t: the daemon logged $logged summons of $N cold ones"
	printf '  %-5s' "$t"
	for stage in query spawn start guest main ready request response; do
		v=$(sed -n "s/.* $stage=\\([0-9.]*\\) .*/\\1/p" \
			"$tmp/stages.$t" | median)
		printf ' %s %s' "$stage" "${v:--}"
	done
	echo
done

echo "goals (issue 11):"
if echo "$targets" | grep -q kvm; then
	c=$(med "$tmp/cold.kvm" 2)
	printf '  cold <= 10 ms under haze-kvm: median %.2f ms: %s\n' "$c" \
		"$(verdict "$c" 10)"
else
	c=$(med "$tmp/cold.unix" 2)
	echo "  cold <= 10 ms under haze-kvm: kvm: skipped (no /dev/kvm);" \
		"not measured"
	printf '  (the same bound on the unix target: median %.2f ms: %s)\n' \
		"$c" "$(verdict "$c" 10)"
fi
for t in $targets; do
	w=$(med "$tmp/warm.$t" 2)
	w9=$(awk '{ print $2 }' "$tmp/warm.$t" | p90)
	printf '  warm <= 1 ms (%s): median %.2f ms: %s; p90 %.2f ms: %s\n' \
		"$t" "$w" "$(verdict "$w" 1)" "$w9" "$(verdict "$w9" 1)"
done
echo "machine: load average $load0 before, $load1 after"
