#!/bin/sh
# A TODO hides a failure in TAP; Haze refuses it.
echo "1..2"
echo "ok 1 - one"
echo "not ok 2 - broken # TODO fix later"
