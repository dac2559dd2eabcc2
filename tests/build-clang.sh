#!/bin/sh
# The tree builds with clang as well as gcc: when the suite runs under gcc,
# build everything again with clang into its own directory, then run the
# clang-built unit tests (clang's ASan and UBSan catch other things) and
# the compile test against clang's flags. The runs add about 40 s on
# two cores (the build itself takes longer).
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
		built=yes
	else
		not_ok "the whole tree builds with clang"
		diag "$(tail -n 30 "$O/clang-build.log")"
	fi
fi
if [ -n "${built:-}" ]; then
	log=$O/clang-test.log
	for t in "$O"/clang/test/tests/unit/test_*; do
		name=${t##*/}
		case $name in *.*) continue ;; esac
		if "$t" >"$log" 2>&1; then
			ok "$name built with clang passes"
		else
			not_ok "$name built with clang passes"
			diag "$(grep -v '^ok' "$log" | tail -n 20)"
		fi
	done
	if O="$O/clang" CC=clang tests/compile/run.sh >"$O/clang-compile.log" 2>&1
	then
		ok "the compile test passes with clang's flags"
	else
		not_ok "the compile test passes with clang's flags"
		diag "$(grep -v '^ok' "$O/clang-compile.log")"
	fi
fi
done_testing
