#!/bin/sh
# A fuzz campaign (make fuzz): runs each libFuzzer harness named on the
# command line for FUZZ_SECONDS or FUZZ_RUNS executions, whichever comes
# first, on a copy of its corpus, then merges back into fuzz/corpus/NAME
# only the inputs that reach new coverage (libFuzzer's -merge=1 keeps the
# smallest input for each feature). Prints one line per harness:
#
#   NAME: EXECUTIONS runs in SECONDS s, EDGES edges, FEATURES features,
#         N inputs added
#
# A crash stops the campaign with libFuzzer's report and the crashing
# input saved as fuzz/crash-NAME-*, to be fixed and added to the corpus
# as a regression input. FUZZ_FLAGS adds libFuzzer options to each run
# (-entropic=0 drops the entropic scheduler's bookkeeping, which costs a
# harness with a large corpus half its time).
set -u
O=${O:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_RUNS=${FUZZ_RUNS:--1}
FUZZ_FLAGS=${FUZZ_FLAGS:-}
status=0
for name in "$@"; do
	bin=$O/fuzz/fuzz/fuzz_$name
	corpus=fuzz/corpus/$name
	mkdir -p "$corpus"
	work=$(mktemp -d)
	cp -r "$corpus/." "$work/" 2>/dev/null
	log=$(mktemp)
	before=$(ls "$corpus" | wc -l)
	"$bin" -max_total_time="$FUZZ_SECONDS" -runs="$FUZZ_RUNS" \
		-close_fd_mask=3 -print_final_stats=1 $FUZZ_FLAGS \
		-artifact_prefix="fuzz/crash-$name-" "$work" >"$log" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "$name: FAILED (status $rc); the report:"
		tail -n 40 "$log"
		status=1
		rm -rf "$work" "$log"
		continue
	fi
	"$bin" -merge=1 -close_fd_mask=3 "$corpus" "$work" >/dev/null 2>&1
	after=$(ls "$corpus" | wc -l)
	awk -v name="$name" -v added=$((after - before)) '
		/stat::number_of_executed_units/ { runs = $2 }
		/DONE|INITED/ && /cov:/ {
			for (i = 1; i <= NF; i++) {
				if ($i == "cov:") cov = $(i + 1)
				if ($i == "ft:") ft = $(i + 1)
			}
		}
		/^Done [0-9]+ runs in/ { secs = $(NF - 1) }
		END {
			printf "%s: %d runs in %s s, %s edges, %s features, " \
			    "%d inputs added\n", name, runs, secs, cov, ft, added
		}' "$log"
	rm -rf "$work" "$log"
done
exit $status
