#!/bin/sh
# Plans no test without saying why, exits 0.
echo "1..0"
