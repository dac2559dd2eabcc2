#!/bin/sh
# hello on the unix target, judged by what it prints and how long it takes:
# a greeting, three sleeps of 100 ms each measured within [100, 150) ms,
# exit status 0. Also the command line's refusals. A sleep must never end
# early; the upper bound only catches gross lateness, with room for a
# loaded two-core machine running other suites (a 10 ms bound flaked).
set -u
. tests/tap.sh

O=${O:-build}
hello=$O/unix/examples/hello/hello
out=$(mktemp)
trap 'rm -f "$out"' EXIT
built "$hello"
end_if_missing

"$hello" world >"$out" 2>&1
rc=$?
check "hello exits 0" [ "$rc" -eq 0 ]
check "hello greets with its argument" grep -q "^Hello from Haze! (world)$" "$out"
check "hello sleeps three times" [ "$(grep -c '^tick [123]: slept' "$out")" -eq 3 ]
if awk '/^tick/ { ms = $4 + 0; if (ms < 100 || ms >= 150) bad = 1; n++ }
	END { exit !(n == 3 && !bad) }' "$out"; then
	ok "each 100 ms sleep measures 100 ms to 150 ms"
else
	not_ok "each 100 ms sleep measures 100 ms to 150 ms"
	diag "$(cat "$out")"
fi
check "hello says goodbye last" [ "$(tail -n 1 "$out")" = "Goodbye." ]

# refused COMMAND... / PATTERN: the command exits 2 naming the problem.
refused() {
	desc=$1 pattern=$2
	shift 2
	"$@" >"$out" 2>&1
	rc=$?
	if [ "$rc" -eq 2 ] && grep -q -- "$pattern" "$out"; then
		ok "$desc"
	else
		not_ok "$desc (exit $rc)"
		diag "$(cat "$out")"
	fi
}

refused "a binding for an undeclared device is refused" \
	"declares no net device 'svc'" "$hello" --net svc=tap:hz0
refused "a net binding that is not a tap is refused" \
	"supports tap:IFACE" "$hello" --net svc=user
refused "a binding without NAME= is refused" "wants NAME=" "$hello" --block disk
refused "--mem out of range is refused" "from 1 to 65536" "$hello" --mem 0
refused "--mem without a value is refused" "wants a value" "$hello" --mem
refused "an unknown option before -- is refused, naming it" \
	"unknown option --verbose" "$hello" --verbose world
refused "an unknown option after the runtime's is refused" \
	"unknown option --quiet" "$hello" --log=debug --quiet
"$hello" --mem 16 --log=debug -- world >"$out" 2>&1
if grep -q "runtime: target unix, heap 16384 KiB" "$out" &&
	grep -q "^Hello from Haze! (world)$" "$out"; then
	ok "--log= among the target's options reaches the runtime, not hello"
else
	not_ok "--log= among the target's options reaches the runtime, not hello"
	diag "$(cat "$out")"
fi
"$hello" --log=loud >"$out" 2>&1
rc=$?
if [ "$rc" -ne 0 ] && grep -q "bad --log at 'loud'" "$out"; then
	ok "a bad --log level is refused"
else
	not_ok "a bad --log level is refused (exit $rc)"
fi
"$hello" --log=debug >"$out" 2>&1
check "--log=debug shows the runtime's debug line" grep -q "runtime: target unix" "$out"
done_testing
