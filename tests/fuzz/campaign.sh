#!/bin/sh
# campaign.sh - run one fuzz harness for a while and say how it went.
#
#   tests/fuzz/campaign.sh smoke|long HARNESS SECONDS FUZZ_OUT
#
# Fuzzes FUZZ_OUT/fuzz_HARNESS for SECONDS on its corpus (FUZZ_OUT/corpus/
# HARNESS, where new inputs go), its seeds and its regression inputs.
#   smoke  stops at the first crash, leak, timeout or OOM
#   long   starts again after one (the failing input is kept), until the
#          time is spent; fails at the end if there was any. (libFuzzer's
#          -fork mode does the same, at a third of the speed here: every
#          job loads the corpus and builds the templates again.)
# Failing inputs are kept in FUZZ_OUT/artifacts/HARNESS/, the log in
# FUZZ_OUT/HARNESS-MODE.log. Prints one summary line: executions, exec/s,
# coverage (cov/ft), corpus size. Removes what the fuzzer left in /dev/shm
# when it died.
set -u
mode=$1 h=$2 secs=$3 out=$4
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
case $mode in smoke | long) ;; *)
	echo "usage: $0 smoke|long HARNESS SECONDS FUZZ_OUT" >&2
	exit 2
	;;
esac

# One run of libFuzzer for $1 seconds, appended to the log; sets rc, n
# (executions) and last (its last status line).
# -timeout: an input that takes 30 s hangs (grace periods are <= 200 us);
# -max_len: 1 template byte and FZ_MAX_RECORDS (96) records of 12 bytes.
run() {
	echo "==== $(date -u +%FT%TZ) $h for $1 s" >>"$log"
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$1" -timeout=30 -rss_limit_mb=4096 \
		-max_len=1153 -print_final_stats=1 -artifact_prefix="$art/" \
		$dirs >"$log.run" 2>&1
	rc=$?
	cat "$log.run" >>"$log"
	rm -rf /dev/shm/mmsync-fuzz-"$MMSYNC_FUZZ_RUN"-*
	# "#EXECS <what> cov: C ft: F corp: N/..b ... exec/s: E"
	last=$(grep -aE '^#[0-9]+[[:space:]]+(INITED|NEW|REDUCE|pulse|DONE|RELOAD)' "$log.run" | tail -n 1)
	n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log.run" | tail -n 1)
	[ -z "$n" ] && n=$(echo "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
	n=${n:-0}
	if [ "$rc" -ne 0 ]; then
		grep -aE 'ERROR|contract violated|SUMMARY|Test unit written' "$log.run" | head -n 20
	fi
	rm -f "$log.run"
}

: >"$log"
start=$(date +%s)
total=0 failed=0
while :; do
	now=$(date +%s)
	left=$((start + secs - now))
	[ "$left" -gt 0 ] || break
	t0=$now
	run "$left"
	total=$((total + n))
	[ "$rc" -eq 0 ] && break # its time is over
	failed=$((failed + 1))
	# Smoke stops here; so does a run that fails at once (a corpus input).
	[ "$mode" = smoke ] && break
	[ $(($(date +%s) - t0)) -lt 10 ] && break
done
took=$(($(date +%s) - start))
field() { echo "$last" | sed -n "s/.* $1: \([0-9]*\).*/\1/p"; }
files=$(find "$corpus" -type f | wc -l)
status=ok
[ "$failed" -ne 0 ] && status="FAILED ($failed failing runs, inputs in $art/, log $log)"
echo "fuzz_$h ($mode): $total execs in $took s ($((total / (took > 0 ? took : 1))) exec/s), cov $(field cov) ft $(field ft), corpus $files inputs: $status"
[ "$failed" -eq 0 ]
