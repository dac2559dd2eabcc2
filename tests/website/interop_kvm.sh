#!/bin/sh
# The website against Linux clients under haze-kvm (a tap)
# (tests/website/interop.sh).
exec tests/website/interop.sh kvm
