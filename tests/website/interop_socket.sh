#!/bin/sh
# The website against Linux clients on the socket stack (unix target)
# (tests/website/interop.sh).
exec tests/website/interop.sh socket
