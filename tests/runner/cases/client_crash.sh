#!/bin/sh
# A client (as tests/net/interop.sh runs echoclient.py) that reports two of
# its four results and dies by SIGSEGV: client_tap must fail it.
. tests/tap.sh
client_tap "crashing client" 4 \
	sh -c 'echo "ok 1 - a"; echo "ok 2 - b"; kill -SEGV $$'
done_testing
