#!/bin/sh
# The website against Linux clients on the direct stack (unix target, a tap)
# (tests/website/interop.sh).
exec tests/website/interop.sh direct
