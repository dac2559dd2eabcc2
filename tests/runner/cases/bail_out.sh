#!/bin/sh
# Bails out after a pass, exit status 0.
echo "1..2"
echo "ok 1 - one"
echo "Bail out! lost the tap"
