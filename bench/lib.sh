# What the benchmark scripts share: source this file.
# shellcheck shell=sh

# median: the middle of the numbers on stdin (the mean of the two middle
# ones for an even count).
median() {
	sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
