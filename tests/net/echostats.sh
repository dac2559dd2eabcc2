# Reading the echo unikernel's --stats lines: source this file.
#
# `echo --stats SECONDS` prints, every SECONDS, a line
#   echo: stats: open N accepted N fibers N heap_used B heap_peak B ...
# of KEY VALUE pairs (examples/echo/echo.c, print_stats). These helpers
# wait for such a line and read fields from it, for tests/net/conn10k.sh
# and bench/soak/run.sh.
# shellcheck shell=sh

# stats_mark FILE: how many lines FILE has now; a later stats_wait takes
# only lines after it, so that it never reads a figure from before.
stats_mark() {
	wc -l <"$1" 2>/dev/null | tr -d ' '
}

# stats_wait FILE MARK SECONDS COND: waits (at most SECONDS) for a stats
# line after line MARK of FILE whose fields satisfy COND, an awk
# expression over f["KEY"] (f["open"] == 0 && f["tcp_conns"] == 0), and
# prints the first such line; fails if none came.
stats_wait() {
	sw_end=$(($(date +%s) + $3))
	while :; do
		sw_line=$(awk -v mark="$2" '
			NR > mark && $1 == "echo:" && $2 == "stats:" {
				delete f
				for (i = 3; i < NF; i += 2) f[$i] = $(i + 1)
				if ('"$4"') { print; exit }
			}' "$1")
		if [ -n "$sw_line" ]; then
			printf '%s\n' "$sw_line"
			return 0
		fi
		[ "$(date +%s)" -ge "$sw_end" ] && return 1
		sleep 0.2
	done
}

# stats_field LINE KEY: the value of KEY in stats line LINE.
stats_field() {
	printf '%s\n' "$1" | awk -v k="$2" '
		{ for (i = 3; i < NF; i += 2) if ($i == k) print $(i + 1) }'
}
