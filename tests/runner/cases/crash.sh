#!/bin/sh
# Dies by a real SIGSEGV (a read of address 0) after one pass, before its
# plan is met.
echo "1..2"
echo "ok 1 - before the crash"
exec /usr/bin/python3 -c 'import ctypes; ctypes.string_at(0)'
