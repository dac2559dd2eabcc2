#!/bin/sh
# A client that reports its four results, one a skip, and exits 0.
. tests/tap.sh
client_tap "good client" 4 sh -c 'for i in 1 2 3; do echo "ok $i - r$i"; done
	echo "ok 4 - r4 # SKIP not here"'
done_testing
