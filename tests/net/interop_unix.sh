#!/bin/sh
# Interop with Linux on the unix target (tests/net/interop.sh).
exec tests/net/interop.sh unix
