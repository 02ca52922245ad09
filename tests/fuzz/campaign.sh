#!/bin/sh
# campaign.sh - run one fuzz harness for a while and say how it went.
#
#   tests/fuzz/campaign.sh smoke|long HARNESS SECONDS FUZZ_OUT [JOBS]
#
# Fuzzes FUZZ_OUT/fuzz_HARNESS for SECONDS on its corpus (FUZZ_OUT/corpus/
# HARNESS, where new inputs go), its seeds and its regression inputs.
#   smoke  one process; stops at the first crash, leak, timeout or OOM
#   long   libFuzzer's fork mode with JOBS processes (default 1): every
#          failing input is kept and the campaign goes on; it fails at the
#          end if there was any
# Failing inputs are kept in FUZZ_OUT/artifacts/HARNESS/, the log in
# FUZZ_OUT/HARNESS-MODE.log. Prints one summary line: executions, exec/s,
# coverage (cov/ft), corpus size. Removes what the fuzzer left in /dev/shm
# when it died.
set -u
mode=$1 h=$2 secs=$3 out=$4 jobs=${5:-1}
here=$(dirname "$0")
bin=$out/fuzz_$h
corpus=$out/corpus/$h
art=$out/artifacts/$h
log=$out/$h-$mode.log
mkdir -p "$corpus" "$art"
dirs="$corpus $out/seeds/$h"
[ -d "$here/regressions/$h" ] && dirs="$dirs $here/regressions/$h"
MMSYNC_FUZZ_RUN=${MMSYNC_FUZZ_RUN:-$h$$}
# Library bugs reported and not fixed yet (regressions/KNOWN) do not stop
# a campaign; the replay test of make check reports them.
if [ -z "${MMSYNC_FUZZ_KNOWN+set}" ] && [ -f "$here/regressions/KNOWN" ]; then
	MMSYNC_FUZZ_KNOWN=$(awk '!/^#/ && NF >= 2 { printf "%s%s", s, $2; s = "," }' \
		"$here/regressions/KNOWN")
fi
export MMSYNC_FUZZ_RUN MMSYNC_FUZZ_KNOWN
case $mode in
smoke) how= ;;
long) how="-fork=$jobs -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1" ;;
*) echo "usage: $0 smoke|long HARNESS SECONDS FUZZ_OUT [JOBS]" >&2; exit 2 ;;
esac

# -timeout: an input that takes 30 s hangs (grace periods are <= 2 ms);
# -max_len: 1 template byte and FZ_MAX_RECORDS (96) records of 12 bytes.
start=$(date +%s)
# shellcheck disable=SC2086
"$bin" $how -max_total_time="$secs" -timeout=30 -rss_limit_mb=4096 \
	-max_len=1153 -print_final_stats=1 -artifact_prefix="$art/" \
	$dirs >"$log" 2>&1
rc=$?
took=$(($(date +%s) - start))
rm -rf /dev/shm/mmsync-fuzz-"$MMSYNC_FUZZ_RUN"-*

field() { echo "$last" | sed -n "s/.* $1:* \([0-9]*\).*/\1/p"; }
if [ "$mode" = smoke ]; then
	# "#EXECS <what> cov: C ft: F corp: N/..b ... exec/s: E"
	last=$(grep -aE '^#[0-9]+[[:space:]]+(INITED|NEW|REDUCE|pulse|DONE|RELOAD)' "$log" | tail -n 1)
	failed=0
	[ "$rc" -ne 0 ] && failed=1
else
	# "#EXECS: cov: C ft: F corp: N exec/s E oom/timeout/crash: O/T/C ..."
	last=$(grep -aE '^#[0-9]+: cov:' "$log" | tail -n 1)
	failed=$(echo "$last" | sed -n 's|.*oom/timeout/crash: \([0-9]*\)/\([0-9]*\)/\([0-9]*\).*|\1 \2 \3|p' |
		awk '{ print $1 + $2 + $3 }')
	[ "$rc" -ne 0 ] && [ "${failed:-0}" -eq 0 ] && failed=1
fi
execs=$(echo "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
final=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
[ "$mode" = smoke ] && [ -n "$final" ] && execs=$final
rate=$((${execs:-0} / (took > 0 ? took : 1)))
files=$(find "$corpus" -type f | wc -l)
status=ok
if [ "${failed:-1}" -ne 0 ]; then
	status="FAILED (${failed} failing inputs in $art/, log $log)"
	grep -aE 'ERROR|contract violated|SUMMARY|Test unit written' "$log" | head -n 20
	rc=1
fi
echo "fuzz_$h ($mode): ${execs:-0} execs in $took s ($rate exec/s), cov $(field cov) ft $(field ft), corpus $files inputs: $status"
exit "$rc"
