#!/bin/sh
# Runs the fuzz targets in $BUILD/fuzz/ one at a time, each for SECONDS
# seconds on its seed corpus (`make fuzz FUZZ_SECONDS=N` calls this).
#
#   BUILD=build tests/fuzz/run.sh SECONDS [TARGET...]
#
# TARGET: fuzz_smmlog or smmlog; default every $BUILD/fuzz/fuzz_* binary.
# Per target:
#   $BUILD/fuzz/seeds/T/    seeds the target writes at start-up
#                           (VIGIL_FUZZ_SEED_DIR), plus the unit test's for
#                           fuzz_evlog when $BUILD/tests/test_evlog exists
#   $BUILD/fuzz/corpus/T/   new units (scratch; kept between runs)
#   $BUILD/fuzz/crashes/T/  crash-*, leak-*, timeout-*, oom-* reproducers
#   $FUZZ_LOGDIR/T.log      libFuzzer's output (default $BUILD/fuzz/logs)
# plus the committed corpora (tests/corpus/evlog, mm, pse) and the
# real-world event logs in ../shared/corpus/eventlogs when present.
# Prints one line per target (executions, coverage, wall time, ok or
# CRASH) and exits 1 when any target crashed.
set -u

BUILD=${BUILD:-build}
LOGDIR=${FUZZ_LOGDIR:-$BUILD/fuzz/logs}
if [ $# -lt 1 ]; then
	echo "usage: BUILD=dir $0 SECONDS [TARGET...]" >&2
	exit 2
fi
secs=$1
shift
case $secs in
''|*[!0-9]*) echo "$0: SECONDS must be a number: $secs" >&2; exit 2 ;;
esac

if [ $# -gt 0 ]; then
	targets=
	for t in "$@"; do
		targets="$targets fuzz_${t#fuzz_}"
	done
else
	targets=$(cd "$BUILD/fuzz" 2>/dev/null && ls -d fuzz_* 2>/dev/null)
fi
if [ -z "$targets" ]; then
	echo "$0: no fuzz targets in $BUILD/fuzz (make fuzz first)" >&2
	exit 2
fi

mkdir -p "$LOGDIR"
failed=0
for t in $targets; do
	bin=$BUILD/fuzz/$t
	if [ ! -x "$bin" ]; then
		echo "$t: not built ($bin)"
		failed=1
		continue
	fi
	seeds=$BUILD/fuzz/seeds/$t
	work=$BUILD/fuzz/corpus/$t
	crashes=$BUILD/fuzz/crashes/$t
	log=$LOGDIR/$t.log
	mkdir -p "$seeds" "$work" "$crashes"
	extra=
	case $t in
	fuzz_evlog)
		extra="tests/corpus/evlog"
		[ -d ../shared/corpus/eventlogs ] &&
			extra="$extra ../shared/corpus/eventlogs"
		[ -x "$BUILD/tests/test_evlog" ] &&
			VIGIL_FUZZ_SEED_DIR=$seeds "$BUILD/tests/test_evlog" \
			    >/dev/null 2>&1
		;;
	fuzz_mm) extra="tests/corpus/mm" ;;
	fuzz_pse_msg) extra="tests/corpus/pse" ;;
	esac
	start=$(date +%s)
	# The target writes its seeds at start-up, before libFuzzer reads
	# the corpus directories, so signed seeds verify in this run.
	# TSS2_LOG: libtss2-mu would log every rejected structure.
	VIGIL_FUZZ_SEED_DIR=$seeds TSS2_LOG=all+NONE \
	    "$bin" "$work" "$seeds" $extra -max_total_time="$secs" \
	    -print_final_stats=1 -artifact_prefix="$crashes/" \
	    >"$log" 2>&1
	rc=$?
	wall=$(( $(date +%s) - start ))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
	    tail -n 1)
	[ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' \
	    "$log" | tail -n 1)
	cov=$(sed -n 's/.* cov: \([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
	if [ $rc -eq 0 ]; then
		verdict=ok
	else
		art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" |
		    tail -n 1)
		verdict="CRASH (exit $rc${art:+, reproducer $art})"
		failed=1
	fi
	echo "$t: ${execs:-?} executions, cov ${cov:-?}, ${wall} s, $verdict, log $log"
done
exit $failed
