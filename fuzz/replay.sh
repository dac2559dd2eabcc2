#!/bin/sh
# Replays every fuzz harness's corpus (fuzz/corpus/NAME) through its
# replayer build ($O/test/fuzz/fuzz_NAME, ASan and UBSan), in TAP: one line
# per harness. A crash or a sanitizer report fails that harness.
set -u
O=${O:-build}
n=0
rc=0
for src in fuzz/fuzz_*.c; do
	[ -e "$src" ] || continue
	name=$(basename "$src" .c)
	corpus=fuzz/corpus/${name#fuzz_}
	n=$((n + 1))
	mkdir -p "$corpus"
	if [ ! -x "$O/test/fuzz/$name" ]; then
		# Built by make test itself: missing is a failure.
		echo "not ok $n - $O/test/fuzz/$name is missing: build it with make O=$O test-build"
		rc=1
	elif out=$("$O/test/fuzz/$name" "$corpus" 2>&1); then
		echo "ok $n - $name replays its corpus ($(ls "$corpus" | wc -l) files)"
	else
		echo "not ok $n - $name replays its corpus"
		printf '%s\n' "$out" | tail -n 40 | sed 's/^/# /'
		rc=1
	fi
done
echo "1..$n"
exit $rc
