# TAP helpers for the shell suites: source this file, then call
# ok/not_ok/skip and finally done_testing (which prints the plan and fails
# if anything failed). tests/run reads only stdout, strictly (see
# docs/testing.md).
#
# A missing dependency is a failure, not a skip: `make test` installs every
# Debian package the suites use (scripts/deps.sh) and builds every program
# they run, so a suite checks them with need and built, then
# end_if_missing. Only what a machine cannot have (root, /dev/net/tun,
# network namespaces, /dev/kvm) may be reported with skip.
# shellcheck shell=sh

tap_n=0
tap_failed=0
tap_missing=0

# tap_desc TEXT: TEXT as a description on one line, "#" and "\" escaped,
# so that only skip (below) ever writes a directive: "ok 3 - ping # skip
# is off" would otherwise be read as a skip.
tap_desc() {
	printf '%s\n' "$*" | tr '\n' ' ' | sed 's/ $//; s/\\/\\\\/g; s/#/\\#/g'
}

# ok DESCRIPTION: reports a passing check.
ok() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $(tap_desc "$*")"
}

# not_ok DESCRIPTION: reports a failing check.
not_ok() {
	tap_n=$((tap_n + 1))
	tap_failed=$((tap_failed + 1))
	echo "not ok $tap_n - $(tap_desc "$*")"
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
	echo "ok $tap_n - $(tap_desc "$1") # SKIP $(tap_desc "$2")"
}

# need TOOL PACKAGE: TOOL (a command, or an absolute path) is installed,
# else a failure naming the Debian package that `make deps` installs. A
# tool found only in /usr/sbin or /sbin (not on a user's PATH) puts those
# on PATH.
need() {
	case $1 in
	/*) [ -x "$1" ] && return 0 ;;
	*)
		command -v "$1" >/dev/null 2>&1 && return 0
		if [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; then
			PATH=$PATH:/usr/sbin:/sbin
			return 0
		fi
		;;
	esac
	tap_missing=$((tap_missing + 1))
	not_ok "$1 is missing: install the Debian package $2 (make deps does)"
	return 1
}

# built FILE: FILE, which `make test-build` makes, exists; else a failure
# naming the make target.
built() {
	[ -e "$1" ] && return 0
	tap_missing=$((tap_missing + 1))
	not_ok "$1 is missing: build it with make O=${O:-build} test-build"
	return 1
}

# end_if_missing: ends the suite as failed if need or built found anything
# missing, before any test that would fail less clearly for it.
end_if_missing() {
	[ "$tap_missing" -eq 0 ] && return 0
	done_testing
	exit 1
}

# client_tap LABEL COUNT COMMAND...: runs COMMAND, a client that judges a
# server and prints one TAP line per check (numbered from 1, no plan), and
# reports each line as one of ours, prefixed by LABEL. The client must
# report exactly COUNT results, in order, and exit 0 exactly when none
# failed: a client that crashes, stops early or exits non-zero is a
# failure even if every line it printed passed. Its stderr is shown when
# anything is wrong.
client_tap() {
	ct_label=$1 ct_want=$2
	shift 2
	ct_out=$(mktemp)
	"$@" >"$ct_out" 2>"$ct_out.err"
	ct_rc=$?
	ct_got=0
	ct_bad=0
	while IFS= read -r ct_line; do
		case $ct_line in
		"ok "* | "not ok "*) ;;
		*)
			printf '# %s\n' "$ct_line"
			continue
			;;
		esac
		ct_got=$((ct_got + 1))
		ct_status=${ct_line%%ok *}ok
		ct_rest=${ct_line#"$ct_status" }
		ct_num=${ct_rest%%[!0-9]*}
		ct_desc=${ct_rest#"$ct_num"}
		ct_desc=${ct_desc# }
		ct_desc=${ct_desc#- }
		# The client's own text goes through as it is, so that its
		# directives (# SKIP) keep their meaning.
		if [ "$ct_num" != "$ct_got" ]; then
			not_ok "$ct_label: result $ct_got of the client, out of order: $ct_line"
			ct_bad=$((ct_bad + 1))
		elif [ "$ct_status" = ok ]; then
			tap_n=$((tap_n + 1))
			echo "ok $tap_n - $ct_label: $ct_desc"
		else
			tap_n=$((tap_n + 1))
			tap_failed=$((tap_failed + 1))
			echo "not ok $tap_n - $ct_label: $ct_desc"
			ct_bad=$((ct_bad + 1))
		fi
	done <"$ct_out"
	if [ "$ct_got" -ne "$ct_want" ]; then
		not_ok "$ct_label: $ct_want results from the client" \
			"(got $ct_got, exit $ct_rc)"
		ct_bad=$((ct_bad + 1))
	elif [ "$ct_rc" -ne 0 ] && [ "$ct_bad" -eq 0 ]; then
		not_ok "$ct_label: the client exited with status $ct_rc"
		ct_bad=$((ct_bad + 1))
	elif [ "$ct_rc" -eq 0 ] && [ "$ct_bad" -ne 0 ]; then
		not_ok "$ct_label: the client exited 0 after a failure"
	fi
	[ "$ct_bad" -ne 0 ] && [ -s "$ct_out.err" ] && diag "$(cat "$ct_out.err")"
	rm -f "$ct_out" "$ct_out.err"
	[ "$ct_bad" -eq 0 ]
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
