#!/bin/sh
# Style enforced by tools: clang-format over every tracked C file, no line
# of C wider than 80 columns (clang-format does not reflow comments), a
# comment above every public function of include/haze, the layer rule on
# every #include (and a wrong one refused), and no must-check result
# thrown away by a bare (void) cast.
set -u
. tests/tap.sh

files=$(git ls-files '*.c' '*.h' 2>/dev/null | grep -v '^tests/compile/')
if ! command -v clang-format >/dev/null 2>&1; then
	not_ok "clang-format is installed"
elif [ -z "$files" ]; then
	skip "clang-format" "not a git checkout"
else
	# shellcheck disable=SC2086
	bad=$(clang-format --dry-run $files 2>&1 | sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: warning.*/\1/p' | sort -u)
	if [ -z "$bad" ]; then
		ok "every C file is formatted as .clang-format says"
	else
		not_ok "every C file is formatted as .clang-format says (make format)"
		diag "$bad"
	fi
fi
if [ -n "$files" ]; then
	# Columns with tabs expanded to stops of 8, as an editor shows them.
	# shellcheck disable=SC2086
	wide=$(for f in $files; do
		expand -t 8 "$f" | awk -v f="$f" \
			'length > 80 { print f ":" NR ": " length " columns" }'
	done)
	if [ -z "$wide" ]; then
		ok "no line of C is wider than 80 columns"
	else
		not_ok "no line of C is wider than 80 columns"
		diag "$wide"
	fi
fi
if /usr/bin/python3 tests/check-comments.py >"${TMPDIR:-/tmp}/haze-comments.$$" 2>&1; then
	ok "every public function has a comment"
else
	not_ok "every public function has a comment"
	grep '^#' "${TMPDIR:-/tmp}/haze-comments.$$"
fi
rm -f "${TMPDIR:-/tmp}/haze-comments.$$"

# The layer rule (mk/layers.mk, docs/architecture.md) on every #include.
log=$(mktemp)
fixture=$(mktemp -d)
trap 'rm -rf "$log" "$fixture"' EXIT
if /usr/bin/python3 tests/check-layers.py >"$log" 2>&1; then
	ok "no #include crosses a layer the wrong way (mk/layers.mk)"
else
	not_ok "no #include crosses a layer the wrong way (mk/layers.mk)"
	diag "$(cat "$log")"
fi

# ...and the check fails on a wrong include, naming file, line and rule:
# run on a copy of the tree with one include added to src/core/timer.c.
# wrong_include WHAT INCLUDE EXPECTED: the copy fails, saying EXPECTED.
cp -R mk include src platform tender examples docs "$fixture" 2>/dev/null
mkdir -p "$fixture/fuzz" && cp fuzz/*.h "$fixture/fuzz"
core=$fixture/src/core/timer.c
cp "$core" "$core.orig"
wrong_include() {
	what=$1 inc=$2 expected=$3
	cp "$core.orig" "$core"
	echo "#include $inc" >>"$core"
	line=$(wc -l <"$core")
	if /usr/bin/python3 tests/check-layers.py "$fixture" >"$log" 2>&1; then
		not_ok "the layer check refuses $what: it passed"
	elif grep -F "src/core/timer.c:$line: #include $inc crosses layers: $expected" "$log" |
		grep -qF "core uses nothing: it may include its own headers (src/core/); the public headers of core (mk/layers.mk)"; then
		ok "the layer check refuses $what, naming file, line and rule"
	else
		not_ok "the layer check refuses $what, naming file, line and rule"
		diag "$(cat "$log")"
	fi
}
wrong_include "the core including net's private header" '"net/inet.h"' \
	"src/net/inet.h is private to net"
wrong_include "the core including TLS's public header" '<haze/tls.h>' \
	"include/haze/tls.h is tls's"
wrong_include "the core including BearSSL" '<bearssl.h>' \
	"<bearssl.h> is BearSSL's"
wrong_include "the core including Nettle" '<nettle/ecc.h>' \
	"<nettle/ecc.h> is Nettle's"
wrong_include "the core including GMP" '<gmp.h>' "<gmp.h> is Nettle's"
wrong_include "the core including a fuzz harness's header" \
	'"fuzz/fuzz_heap.h"' "fuzz/fuzz_heap.h is not part of any layer"

# No must-check result thrown away by a bare (void) cast (clang allows it).
if /usr/bin/python3 tests/check-void-casts.py >"$log" 2>&1; then
	ok "no (void) cast drops a must-check result without saying why"
else
	not_ok "no (void) cast drops a must-check result without saying why"
	diag "$(cat "$log")"
fi
done_testing
