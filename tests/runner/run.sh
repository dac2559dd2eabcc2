#!/bin/sh
# Tests of the test runner: tests/run judges small suites, each broken in
# one way (tests/runner/cases/), and must give the verdict written here: its
# totals line and its exit status, and where it matters the reason it
# names. Then, as root, suites run with a package they need hidden (an
# empty file bound over the program in a mount namespace of their own)
# must fail naming the Debian package, and a suite whose program was not
# built must fail naming the make target. TAP on stdout.
set -u
. tests/tap.sh

cases=tests/runner/cases
# The runner under test; another may be named to see these tests fail it.
run=${TEST_RUNNER:-tests/run}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# verdict DESC TOTALS STATUS PATTERN SUITE...: the runner on SUITEs prints
# TOTALS as its last line, exits STATUS (0, or 1 for a failure), and its
# output contains PATTERN (a fixed string; empty: anything).
verdict() {
	desc=$1 totals=$2 status=$3 pattern=$4
	shift 4
	"$run" "$@" >"$tmp/out" 2>&1
	rc=$?
	last=$(tail -n 1 "$tmp/out")
	if [ "$last" = "$totals" ] && [ "$rc" -eq "$status" ] &&
		{ [ -z "$pattern" ] || grep -qF -- "$pattern" "$tmp/out"; }; then
		ok "$desc: $totals"
	else
		not_ok "$desc: want '$totals', exit $status" \
			"${pattern:+and '$pattern'}; got '$last', exit $rc"
		diag "$(cat "$tmp/out")"
	fi
}

verdict "a good suite passes" "3 passed, 0 failed, 0 skipped" 0 "" \
	$cases/good.sh
verdict "a suite planning 1..0 # SKIP is one skip" \
	"3 passed, 0 failed, 1 skipped" 0 "" $cases/good.sh $cases/skip_suite.sh
verdict "skips alone are not a pass" "0 passed, 0 failed, 1 skipped" 1 "" \
	$cases/skip_suite.sh
verdict "ok N # SKIP and ok N - what # skip are skips" \
	"1 passed, 0 failed, 2 skipped" 0 "" $cases/skip_test.sh
verdict "a suite killed by SIGSEGV fails" "1 passed, 1 failed, 0 skipped" 1 \
	"killed by SIGSEGV" $cases/crash.sh
verdict "fewer results than the plan fail" "2 passed, 1 failed, 0 skipped" 1 \
	"planned 3 tests, reported 2" $cases/short_plan.sh
verdict "more results than the plan fail" "3 passed, 1 failed, 0 skipped" 1 \
	"planned 2 tests, reported 3" $cases/long_plan.sh
verdict "not ok ... # SKIP is a failure" "1 passed, 1 failed, 0 skipped" 1 \
	"a failing line marked # SKIP" $cases/notok_skip.sh
verdict "silence with exit 0 fails" "0 passed, 1 failed, 0 skipped" 1 \
	"printed no result and no plan" $cases/silent.sh
verdict "1..0 without # SKIP fails" "0 passed, 1 failed, 0 skipped" 1 \
	"1..0 without # SKIP" $cases/empty_plan.sh
verdict "lines on stderr that look like passes do not count" \
	"1 passed, 0 failed, 0 skipped" 0 "" $cases/stderr_ok.sh
verdict "TAP on stderr alone is no result, and stderr is shown" \
	"0 passed, 1 failed, 0 skipped" 1 "# ok 2 - from stderr" \
	$cases/stderr_only.sh
verdict "ok lines without a number or out of sequence are failures" \
	"1 passed, 3 failed, 0 skipped" 1 "test 7 out of sequence" \
	$cases/stray_ok.sh
verdict "a non-zero exit without a failing line fails" \
	"1 passed, 1 failed, 0 skipped" 1 "exited with status 3" \
	$cases/exit_status.sh
verdict "# TODO is refused" "1 passed, 1 failed, 0 skipped" 1 \
	"# TODO is refused" $cases/todo.sh
verdict "'# skip' in a description is not a directive" \
	"3 passed, 0 failed, 0 skipped" 0 "" $cases/hash_in_name.sh
verdict "the first unescaped # SKIP is the directive" \
	"0 passed, 0 failed, 1 skipped" 1 "" $cases/directive_first.sh
verdict "two plans fail" "1 passed, 1 failed, 0 skipped" 1 \
	"more than one plan" $cases/two_plans.sh
verdict "tests after a closing plan fail" "2 passed, 1 failed, 0 skipped" 1 \
	"test lines after the closing plan" $cases/after_plan.sh
verdict "Bail out! fails" "1 passed, 1 failed, 0 skipped" 1 "bailed out" \
	$cases/bail_out.sh
SUITE_TIMEOUT=2 verdict "a suite past SUITE_TIMEOUT fails" \
	"1 passed, 1 failed, 0 skipped" 1 "ran past SUITE_TIMEOUT" $cases/hang.sh
verdict "a suite that does not exist fails" "0 passed, 1 failed, 0 skipped" \
	1 "exited with status 127" $cases/no_such_suite.sh
verdict "suites after a crash still run, and the totals add up" \
	"7 passed, 1 failed, 0 skipped" 1 \
	"# failed suites: $cases/crash.sh" \
	$cases/good.sh $cases/crash.sh $cases/good.sh
verdict "an interop client that crashes fails" \
	"2 passed, 1 failed, 0 skipped" 1 "4 results from the client (got 2" \
	$cases/client_crash.sh
verdict "an interop client that exits non-zero fails" \
	"4 passed, 1 failed, 0 skipped" 1 "the client exited with status 1" \
	$cases/client_status.sh
verdict "an interop client that reports everything passes" \
	"3 passed, 0 failed, 1 skipped" 0 "" $cases/client_good.sh

# --- missing dependencies are failures, not skips ----------------------------

O=$tmp/unbuilt verdict \
	"a program make test builds, missing, fails naming the target" \
	"0 passed, 1 failed, 0 skipped" 1 \
	"build it with make O=$tmp/unbuilt test-build" tests/examples/hello.sh

# hidden "PROGRAMS" DESC PACKAGE SUITE: with each of PROGRAMS (commands)
# made an empty file without execute permission, SUITE fails at once naming
# PACKAGE. The mount namespace is private: nothing outside it changes.
: >"$tmp/blank"
chmod 644 "$tmp/blank"
hidden() {
	progs=$1 desc=$2 pkg=$3 suite=$4
	paths=
	for p in $progs; do
		case $p in
		/*) path=$p ;;
		*) path=$(command -v "$p" || ls /usr/sbin/"$p" 2>/dev/null) ;;
		esac
		paths="$paths $(readlink -f "$path")"
	done
	# shellcheck disable=SC2016
	unshare -m sh -c 'blank=$1 paths=$2; shift 2
		for p in $paths; do mount --bind "$blank" "$p" || exit 99; done
		exec "$@"' sh "$tmp/blank" "$paths" \
		"$run" "$suite" >"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" -eq 1 ] &&
		tail -n 1 "$tmp/out" | grep -q "^0 passed, [1-9][0-9]* failed" &&
		grep -q "^not ok .*install the Debian package $pkg " "$tmp/out" &&
		! grep -qi "# skip" "$tmp/out"; then
		ok "$desc: $(grep -m1 '^not ok' "$tmp/out" | sed 's/^not ok [0-9]* - //')"
	else
		not_ok "$desc: $suite fails naming $pkg (exit $rc)"
		diag "$(cat "$tmp/out")"
	fi
}

if [ "$(id -u)" -ne 0 ]; then
	skip "a suite fails naming the package of a program hidden from it" \
		"needs root (a mount namespace)"
else
	need unshare util-linux
	end_if_missing
	hidden dnsmasq "conduit without dnsmasq" dnsmasq-base \
		tests/conduit/interop.sh
	hidden curl "TLS interop without curl" curl tests/tls/interop.sh
	hidden ip "net interop without ip" iproute2 tests/net/interop_unix.sh
	hidden nft "net interop without nft" nftables tests/net/interop_unix.sh
	hidden ping "net interop without ping" iputils-ping \
		tests/net/interop_kvm.sh
	hidden /usr/bin/python3 "echo on sockets without python3" python3 \
		tests/examples/echo_socket.sh
	hidden ip "apps without ip" iproute2 tests/apps/run.sh
fi
done_testing
