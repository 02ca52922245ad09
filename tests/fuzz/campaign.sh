#!/bin/sh
# campaign.sh - run one fuzz harness for a while and say how it went.
#
#   tests/fuzz/campaign.sh HARNESS SECONDS FUZZ_OUT [JOBS]
#
# Fuzzes FUZZ_OUT/fuzz_HARNESS on its corpus (FUZZ_OUT/corpus/HARNESS, new
# inputs go there), its seeds and its regression inputs, for SECONDS, with
# JOBS processes (libFuzzer's -fork) when JOBS > 1. Prints one summary
# line: executions, exec/s, coverage (cov/ft), corpus size. Exits non-zero
# on any crash, leak, timeout or out-of-memory (the input is kept in
# FUZZ_OUT/artifacts/HARNESS/), and removes what the fuzzer left in
# /dev/shm when it died.
set -u
h=$1 secs=$2 out=$3 jobs=${4:-1}
here=$(dirname "$0")
bin=$out/fuzz_$h
corpus=$out/corpus/$h
art=$out/artifacts/$h
log=$out/$h.log
mkdir -p "$corpus" "$art"
dirs="$corpus $out/seeds/$h"
[ -d "$here/regressions/$h" ] && dirs="$dirs $here/regressions/$h"
MMSYNC_FUZZ_RUN=${MMSYNC_FUZZ_RUN:-$h$$}
# Library bugs reported and not fixed yet (regressions/KNOWN) do not stop
# the campaign; the replay test of make check reports them.
if [ -z "${MMSYNC_FUZZ_KNOWN+set}" ] && [ -f "$here/regressions/KNOWN" ]; then
	MMSYNC_FUZZ_KNOWN=$(awk '!/^#/ && NF >= 2 { printf "%s%s", s, $2; s = "," }' \
		"$here/regressions/KNOWN")
fi
export MMSYNC_FUZZ_RUN MMSYNC_FUZZ_KNOWN
fork=
[ "$jobs" -gt 1 ] && fork="-fork=$jobs"

# -timeout: an input that takes 30 s hangs (grace periods are <= 2 ms);
# -max_len: 1 template byte and FZ_MAX_RECORDS (96) records of 12 bytes.
start=$(date +%s)
# shellcheck disable=SC2086
"$bin" $fork -max_total_time="$secs" -timeout=30 -rss_limit_mb=4096 \
	-max_len=1153 -print_final_stats=1 -artifact_prefix="$art/" \
	$dirs >"$log" 2>&1
rc=$?
took=$(($(date +%s) - start))
rm -rf /dev/shm/mmsync-fuzz-"$MMSYNC_FUZZ_RUN"-*

# The last status line: "#EXECS <kind> cov: C ft: F corp: N/.. exec/s: E".
last=$(grep -aE '^#[0-9]+[[:space:]]+(INITED|NEW|REDUCE|pulse|DONE|RELOAD)' "$log" | tail -n 1)
execs=$(echo "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
final=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
[ -n "$final" ] && execs=$final
cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
[ -z "$rate" ] && rate=$(echo "$last" | sed -n 's/.* exec\/s: \([0-9]*\).*/\1/p')
files=$(find "$corpus" -type f | wc -l)
status=ok
if [ "$rc" -ne 0 ]; then
	status="FAILED (exit $rc, log $log, inputs in $art/)"
	grep -E 'ERROR|contract violated|SUMMARY|Test unit written' "$log" | head -n 20
fi
echo "fuzz_$h: ${execs:-0} execs in ${took:-$secs} s (${rate:-0} exec/s), cov ${cov:-?} ft ${ft:-?}, corpus $files inputs: $status"
exit "$rc"
