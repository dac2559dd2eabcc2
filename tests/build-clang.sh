#!/bin/sh
# The tree builds with clang as well as gcc: when the suite runs under gcc,
# build everything again with clang into its own directory.
set -u
. tests/tap.sh

O=${O:-build}
CC=${CC:-cc}
if $CC --version 2>/dev/null | grep -q clang; then
	skip "build with clang" "this run already uses clang"
elif ! command -v clang >/dev/null 2>&1; then
	not_ok "build with clang: clang is not installed"
else
	if make --no-print-directory -j2 O="$O/clang" CC=clang all test-build \
		>"$O/clang-build.log" 2>&1; then
		ok "the whole tree and its tests build with clang (-Werror)"
	else
		not_ok "the whole tree builds with clang"
		diag "$(tail -n 30 "$O/clang-build.log")"
	fi
fi
done_testing
