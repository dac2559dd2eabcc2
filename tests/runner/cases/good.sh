#!/bin/sh
# Three passes and a plan: the runner's control case.
echo "1..3"
echo "ok 1 - one"
echo "ok 2 - two"
echo "ok 3 - three # with a comment"
