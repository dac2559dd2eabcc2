#!/bin/sh
# --notify and tapfd: on the unix target, without root. The website on the
# socket stack writes start, guest, main and ready on an inherited pipe, in
# order, and its HTTP port takes a connection the moment ready arrives; a
# reader that goes away does not kill it (tests/notify/notify.py); one
# that fails before its first wait writes no ready. Bad
# --notify and tapfd descriptors are refused with one line, exit 2, before
# anything is opened. The inherited tap itself is tests/notify/tapfd.sh.
set -u
. tests/tap.sh

O=${O:-build}
site=$O/unix/examples/website/website
hello=$O/unix/tests/kvm/guests/hello/hello
out=$(mktemp)
trap 'rm -f "$out" "$out.file"' EXIT
: >"$out.file"
need /usr/bin/python3 python3
built "$site"
built "$hello"
end_if_missing

port=$(/usr/bin/python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
client_tap "notify" 5 /usr/bin/python3 tests/notify/notify.py 127.0.0.1 \
	"$port" "$site" --notify NOTIFY_FD -- --stack socket --http "$port"

# events PROG ARGS...: runs PROG --notify 3 ARGS...; its status in rc, the
# events it wrote in got, on one line.
events() {
	ev_bin=$1
	shift
	"$ev_bin" --notify 3 "$@" 3>"$out.file" >"$out" 2>&1
	rc=$?
	got=$(cut -d' ' -f1 "$out.file" | tr '\n' ' ')
}
events "$site" -- --stack bogus
if [ "$rc" -eq 1 ] && [ "$got" = "start guest main " ]; then
	ok "a unikernel failing before its first wait writes no ready ($got)"
else
	not_ok "a unikernel failing before its first wait writes no ready (exit $rc, events: $got)"
	diag "$(cat "$out")"
fi
events "$hello"
if [ "$rc" -eq 0 ] && [ "$got" = "start guest main ready " ]; then
	ok "one returning 0 without a wait writes ready as it returns ($got)"
else
	not_ok "one returning 0 without a wait writes ready (exit $rc, events: $got)"
	diag "$(cat "$out")"
fi
: >"$out.file"

# refused DESC PATTERN COMMAND...: exit 2 and one line holding PATTERN.
refused() {
	desc=$1 pattern=$2
	shift 2
	"$@" >"$out" 2>&1
	rc=$?
	if [ "$rc" -eq 2 ] && [ "$(wc -l <"$out")" -eq 1 ] &&
		grep -q -- "$pattern" "$out"; then
		ok "$desc"
	else
		not_ok "$desc (exit $rc)"
		diag "$(cat "$out")"
	fi
}

refused "--notify without a number is refused" \
	"--notify x: expected a descriptor number" "$site" --notify x
refused "--notify on a descriptor not open is refused" \
	"--notify 97: descriptor 97 is not open" "$site" --notify 97
refused "--notify on a descriptor open only for reading is refused" \
	"descriptor 0 is not open for writing" "$site" --notify 0 </dev/null
refused "tapfd: on a descriptor not open is refused, naming the binding" \
	"--net service=tapfd:97: descriptor 97 is not open" \
	"$site" --net service=tapfd:97
refused "tapfd: on a regular file is refused" \
	"--net service=tapfd:5: descriptor 5 is not /dev/net/tun (a regular file)" \
	"$site" --net service=tapfd:5 5<"$out.file"
# shellcheck disable=SC2016 # $0 is the inner shell's
refused "tapfd: on a pipe is refused" \
	"descriptor 0 is not /dev/net/tun (a pipe)" \
	sh -c 'echo | "$0" --net service=tapfd:0' "$site"
refused "tapfd: without a number is refused" \
	"--net service=tapfd:x: expected tapfd:FD, a descriptor number" \
	"$site" --net service=tapfd:x
# A bad tap is refused before any device is opened: the block device,
# bound first and missing, would otherwise be the complaint.
refused "a bad tapfd is refused before anything is opened" \
	"descriptor 97 is not open" \
	"$site" --block site="$out.missing" --net service=tapfd:97
done_testing
