#!/bin/sh
# The error discipline, proven by the compiler: a source that discards a
# fallible Haze call's result, or calls a banned function, must fail to
# build, and for that reason; the same code checking its result must build.
# A (void) cast on a must-check call, which clang compiles, must be refused
# by the lint. Uses the unix target's own compiler and flags
# ($O/unix/.flags); tests/build-clang.sh runs it again with clang's.
set -u
. tests/tap.sh

O=${O:-build}
flags_file=$O/unix/.flags
if [ ! -f "$flags_file" ]; then
	not_ok "compiler flags recorded in $flags_file (build the unix target first)"
	done_testing
	exit
fi
# shellcheck disable=SC2046
set -- $(cat "$flags_file")
out=$(mktemp)
trap 'rm -f "$out" "$out.o"' EXIT

# compiles FILE: whether FILE builds with the tree's compiler and flags.
compiles() {
	"$@" -c "$src" -o "$out.o" >"$out" 2>&1
}

src=tests/compile/checked_error.c
if compiles "$@"; then
	ok "$src (the error checked) compiles"
else
	not_ok "$src (the error checked) compiles"
	diag "$(cat "$out")"
fi

# Arguments after the first three are the compiler command line.
expect_failure_with() {
	file=$1 pattern=$2 why=$3
	shift 3
	src=$file
	if "$@" -c "$src" -o "$out.o" >"$out" 2>&1; then
		not_ok "$src is refused ($why): it compiled"
	elif grep -q -- "$pattern" "$out"; then
		ok "$src is refused: $why"
	else
		not_ok "$src is refused for the wrong reason ($why expected)"
		diag "$(cat "$out")"
	fi
}

expect_failure_with tests/compile/ignored_error.c "unused-result" \
	"ignoring a fallible call's error" "$@"
expect_failure_with tests/compile/ignored_alloc.c "unused-result" \
	"ignoring an allocation" "$@"
expect_failure_with tests/compile/banned_strcpy.c "sorry_strcpy_is_banned" \
	"strcpy is banned" "$@"
expect_failure_with tests/compile/banned_sprintf.c "sorry_sprintf_is_banned" \
	"sprintf is banned" "$@"

# A bare (void) cast on a must-check call: gcc refuses it, clang compiles
# it. Either way it must not get through: where the compiler takes it, the
# lint (tests/check-void-casts.py) must refuse it, naming file and line.
src=tests/compile/voided_error.c
lint=$(mktemp)
/usr/bin/python3 tests/check-void-casts.py "$src" >"$lint" 2>&1
lint_rc=$?
if compiles "$@"; then
	if [ "$lint_rc" -ne 0 ] && grep -q "^$src:13: (void) throws away" "$lint"
	then
		ok "$src compiles with $1 (it takes the cast); the lint refuses it"
	else
		not_ok "$src compiles with $1 and the lint lets it through"
		diag "$(cat "$lint")"
	fi
elif grep -q "unused-result" "$out"; then
	ok "$src is refused by $1: a (void) cast does not hide the error"
else
	not_ok "$src is refused for the wrong reason (unused-result expected)"
	diag "$(cat "$out")"
fi
if [ "$lint_rc" -ne 0 ] && grep -q "^$src:13:.*hz_platform_block_flush" "$lint"
then
	ok "$src is refused by the lint, whatever the compiler"
else
	not_ok "$src is refused by the lint, whatever the compiler"
	diag "$(cat "$lint")"
fi
src=tests/compile/voided_with_reason.c
if /usr/bin/python3 tests/check-void-casts.py "$src" >"$lint" 2>&1; then
	ok "$src (the same cast, with a comment saying why) passes the lint"
else
	not_ok "$src (the same cast, with a comment saying why) passes the lint"
	diag "$(cat "$lint")"
fi
rm -f "$lint"
done_testing
