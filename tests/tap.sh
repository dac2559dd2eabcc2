# TAP helpers for the shell suites: source this file, then call
# ok/not_ok/skip and finally done (which exits 1 if anything failed).
# shellcheck shell=sh

tap_n=0
tap_failed=0

# ok DESCRIPTION: reports a passing check.
ok() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $*"
}

# not_ok DESCRIPTION: reports a failing check.
not_ok() {
	tap_n=$((tap_n + 1))
	tap_failed=$((tap_failed + 1))
	echo "not ok $tap_n - $*"
}

# check DESCRIPTION COMMAND...: ok if COMMAND succeeds, else not ok.
check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# skip DESCRIPTION REASON: reports a check that cannot run here.
skip() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $1 # SKIP $2"
}

# diag TEXT: a comment line for the reader.
diag() {
	printf '%s\n' "$*" | sed 's/^/# /'
}

# done: ends the suite.
done_testing() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}
