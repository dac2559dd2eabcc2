#!/bin/sh
# crunch (tools/crunch/crunch.py), the compiled KV store's host tool: its
# output depends only on the files (not on where the directory is, nor on
# the order its entries were made in), SOURCE_DATE_EPOCH caps the times,
# awkward names come out as C that compiles and spells them exactly,
# links inside the directory are followed, and everything it must refuse
# is refused with a line naming the file, leaving no output behind.
set -u
. tests/tap.sh

CC=${CC:-cc}
PYTHON=${PYTHON:-python3}
crunch() { "$PYTHON" tools/crunch/crunch.py "$@"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- deterministic output ---------------------------------------------------

crunch -n fixture tests/kv/fixture >"$tmp/a.h" 2>"$tmp/err"
check "crunch turns tests/kv/fixture into C" [ -s "$tmp/a.h" ]
crunch -n fixture tests/kv/fixture >"$tmp/b.h"
check "crunch's output is the same run after run" cmp -s "$tmp/a.h" "$tmp/b.h"

# The same files, copied in the reverse order to another place: the
# directory lists them in another order, and its path differs.
mkdir "$tmp/copy"
(cd tests/kv/fixture && find . -type d) | sort | while read -r d; do
	mkdir -p "$tmp/copy/$d"
done
(cd tests/kv/fixture && find . -type f) | sort -r | while read -r f; do
	cp -p "tests/kv/fixture/$f" "$tmp/copy/$f"
done
crunch -n fixture "$tmp/copy" >"$tmp/c.h"
check "crunch's output does not depend on the directory's path or order" \
	cmp -s "$tmp/a.h" "$tmp/c.h"
n=$(grep -c '^		\.key = ' "$tmp/a.h")
check "every file of the fixture is in the store ($n)" \
	[ "$n" -eq "$(find tests/kv/fixture -type f | wc -l)" ]
keys=$(sed -n 's/^		\.key = "\(.*\)",$/\1/p' "$tmp/a.h")
check "keys are sorted bytewise" \
	[ "$keys" = "$(printf '%s\n' "$keys" | LC_ALL=C sort)" ]

SOURCE_DATE_EPOCH=1000 crunch -n fixture tests/kv/fixture >"$tmp/d.h"
check "SOURCE_DATE_EPOCH caps every time" \
	[ "$(grep -c '^		\.mtime = 1000,$' "$tmp/d.h")" -eq "$n" ]

# -o replaces the file only when its content changes.
crunch -n fixture -o "$tmp/o.h" tests/kv/fixture
touch -d @0 "$tmp/o.h"
crunch -n fixture -o "$tmp/o.h" tests/kv/fixture
check "-o leaves an unchanged output alone (make rebuilds nothing)" \
	[ "$(stat -c %Y "$tmp/o.h")" -eq 0 ]
echo changed >"$tmp/copy/tiny.txt"
crunch -n fixture -o "$tmp/o.h" "$tmp/copy"
check "-o rewrites an output whose content changed" \
	[ "$(stat -c %Y "$tmp/o.h")" -ne 0 ]

# --- awkward names, links inside ---------------------------------------------

d=$tmp/odd
mkdir -p "$d/sub dir"
printf 'quote' >"$d/a\"b.txt"
printf 'backslash' >"$d/back\\slash"
printf 'trigraph' >"$d/what??=.txt"
printf 'space' >"$d/sub dir/spaced name.html"
printf 'utf8' >"$d/$(printf '\303\251t\303\251.css')"
printf 'percent %%s %%n' >"$d/100%.txt"
ln -s "sub dir/spaced name.html" "$d/link.html"
mkdir "$d/real"
printf 'in real' >"$d/real/x.txt"
ln -s real "$d/alias"
if crunch -n odd "$d" >"$tmp/odd.h" 2>"$tmp/err"; then
	cat >"$tmp/odd.c" <<'EOF'
#include <stdio.h>
#include "odd.h"
int main(void)
{
	for (size_t i = 0; i < odd_kv.count; i++)
		printf("%s\t%.*s\t%s\n", odd_kv.files[i].key,
		       (int)odd_kv.files[i].size,
		       (const char *)odd_kv.files[i].data,
		       odd_kv.files[i].content_type);
	return 0;
}
EOF
	if $CC -std=c11 -Wall -Wextra -Werror -Iinclude -I"$tmp" \
		-o "$tmp/odd.bin" "$tmp/odd.c" 2>"$tmp/err"; then
		ok "crunch's C for awkward names compiles (-std=c11 -Werror)"
		"$tmp/odd.bin" >"$tmp/odd.out"
		cat >"$tmp/odd.want" <<EOF
100%.txt	percent %s %n	text/plain; charset=utf-8
a"b.txt	quote	text/plain; charset=utf-8
alias/x.txt	in real	text/plain; charset=utf-8
back\\slash	backslash	application/octet-stream
link.html	space	text/html; charset=utf-8
real/x.txt	in real	text/plain; charset=utf-8
sub dir/spaced name.html	space	text/html; charset=utf-8
what??=.txt	trigraph	text/plain; charset=utf-8
$(printf '\303\251t\303\251.css')	utf8	text/css; charset=utf-8
EOF
		if cmp -s "$tmp/odd.out" "$tmp/odd.want"; then
			ok "keys and bytes come out exactly; links inside are followed"
		else
			not_ok "keys and bytes come out exactly"
			diag "$(diff "$tmp/odd.want" "$tmp/odd.out")"
		fi
	else
		not_ok "crunch's C for awkward names compiles"
		diag "$(head -20 "$tmp/err")"
	fi
else
	not_ok "crunch takes awkward names"
	diag "$(cat "$tmp/err")"
fi

# --- refusals -------------------------------------------------------------

# refused DESC PATTERN DIR: crunch -o exits 1, says PATTERN, writes nothing.
refused() {
	rm -f "$tmp/out.h"
	if crunch -o "$tmp/out.h" "$3" >/dev/null 2>"$tmp/err"; then
		not_ok "$1 (crunch succeeded)"
	elif [ -e "$tmp/out.h" ]; then
		not_ok "$1 (an output was written)"
	elif grep -q "^crunch: .*$2" "$tmp/err"; then
		ok "$1"
	else
		not_ok "$1"
		diag "$(cat "$tmp/err")"
	fi
}

r=$tmp/r
fresh() { rm -rf "$r" && mkdir -p "$r" && echo ok >"$r/fine.txt"; }

fresh
ln -s /etc/passwd "$r/passwd"
refused "a link to a file outside the directory" \
	"r/passwd: symbolic link to /etc/passwd leads outside" "$r"
fresh
mkdir "$r/sub"
ln -s ../../.. "$r/sub/up"
refused "a relative link out of the directory" \
	"sub/up: symbolic link to ../../.. leads outside" "$r"
fresh
ln -s nowhere "$r/dangling"
refused "a broken link" "dangling: broken symbolic link" "$r"
fresh
mkdir "$r/loop"
ln -s .. "$r/loop/again"
refused "a link loop" "loop/again: symbolic link loop" "$r"
fresh
printf x >"$r/$(printf 'bad\001name')"
refused "a name with a control character" \
	'bad\\x01name: name has a control character' "$r"
fresh
printf x >"$r/$(printf 'new\nline')"
refused "a name with a newline" 'new\\nline: name has a control character' "$r"
fresh
mkfifo "$r/fifo"
refused "a FIFO" "fifo: not a regular file or directory" "$r"
fresh
long=$(printf 'x%.0s' $(seq 1 200))
mkdir "$r/$long"
printf x >"$r/$long/$(printf 'y%.0s' $(seq 1 60))"
refused "a key longer than 255 bytes" "key of 261 bytes (at most 255)" "$r"
refused "a directory that is not there" "nope: not a directory" "$tmp/nope"
if crunch -n 'not valid' tests/kv/fixture >/dev/null 2>"$tmp/err" ||
	! grep -q "not a C identifier" "$tmp/err"; then
	not_ok "a store name that is not a C identifier is refused"
else
	ok "a store name that is not a C identifier is refused"
fi
fresh
ln -s /etc/passwd "$r/passwd"
printf x >"$r/$(printf 'ctl\002')"
crunch "$r" >/dev/null 2>"$tmp/err"
check "every refusal is named, not just the first" \
	[ "$(grep -c '^crunch: ' "$tmp/err")" -eq 2 ]

done_testing
