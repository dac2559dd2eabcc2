#!/bin/sh
# Style enforced by tools: clang-format over every tracked C file, no line
# of C wider than 80 columns (clang-format does not reflow comments), and a
# comment above every public function of include/haze.
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
done_testing
