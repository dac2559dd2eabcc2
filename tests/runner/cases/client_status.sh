#!/bin/sh
# A client that reports all four results as passes but exits 1: its exit
# status is a result too.
. tests/tap.sh
client_tap "lying client" 4 \
	sh -c 'for i in 1 2 3 4; do echo "ok $i - r$i"; done; exit 1'
done_testing
