#!/bin/sh
# Interop with Linux on the kvm target, under haze-kvm (tests/net/interop.sh).
exec tests/net/interop.sh kvm
