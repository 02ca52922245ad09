#!/bin/sh
# run.sh - run every kselftest binary in DIR, each under a timeout, and
# print "N passed, N failed, N skipped" as the last line.
#
#   tests/run.sh DIR [--sanitize=LIST] [TEST...]
#
# A binary that crashes or times out before reporting all of its tests has
# the missing ones counted as failed.
set -u
dir=$1; shift
note=""
case "${1:-}" in --sanitize=*) note=${1#--sanitize=}; shift ;; esac
limit=${MMSYNC_TEST_TIMEOUT:-400}

case "$note" in
*thread*) echo "# SANITIZE=thread: channels run in fence (xchg) mode only; TSan cannot see membarrier()'s fences" ;;
esac

pass=0 fail=0 skip=0
# Test directories are /dev/shm/mmsync-test-$MMSYNC_TEST_RUN-*: this run's
# own, whatever other runs on the machine do (tests/helpers.c, tdir_make).
MMSYNC_TEST_RUN=${MMSYNC_TEST_RUN:-r$$}
export MMSYNC_TEST_RUN
# This run's test directories, by name.
test_dirs() {
	ls /dev/shm 2>/dev/null | grep "^mmsync-test-$MMSYNC_TEST_RUN-" | sort
}
# What the tests must leave as they found it.
snapshot() {
	test_dirs
	cat /proc/sys/vm/nr_hugepages 2>/dev/null
	cat /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages 2>/dev/null
	grep -c hugetlbfs /proc/mounts
	ls /sys/fs/bpf 2>/dev/null | grep '^mmsync-test-' | sort
}
# bpffs pins of test processes that no longer exist (tests/trace.c pins
# under /sys/fs/bpf/mmsync-test-PID; a run killed with SIGKILL never reached
# its teardown): removed before the snapshot, so that this run is judged
# on what it leaves itself.
for p in /sys/fs/bpf/mmsync-test-*; do
	[ -d "$p" ] || continue
	pid=${p##*-}
	case "$pid" in '' | *[!0-9]*) continue ;; esac
	kill -0 "$pid" 2>/dev/null || rm -rf "$p"
done
before=$(snapshot)
if [ $# -gt 0 ]; then
	tests=$*
else
	tests=$(cd "$dir" && for f in *; do [ -f "$f" ] && [ -x "$f" ] && echo "$f"; done)
fi
for t in $tests; do
	bin="$dir/$t"
	case "$t" in *.log) continue ;; esac
	if [ ! -x "$bin" ]; then
		echo "  $t: no such test binary"
		fail=$((fail + 1))
		continue
	fi
	log="$dir/$t.log"
	echo "# ---- $t"
	timeout -k 10 "$limit" "$bin" >"$log" 2>&1
	rc=$?
	grep -E '^(not )?ok [0-9]+ |^# (SKIP|PASSED|FAILED|Totals)|^#  *(torture|measured)' "$log" | sed 's/^/  /'
	p=$(grep -cE '^ok [0-9]+ ' "$log")
	s=$(grep -cE '^ok [0-9]+ .*# SKIP' "$log")
	f=$(grep -cE '^not ok [0-9]+ ' "$log")
	planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$log" | head -n1)
	p=$((p - s))
	seen=$((p + s + f))
	if [ -n "$planned" ] && [ "$seen" -lt "$planned" ]; then
		echo "  $t: exited $rc after $seen of $planned tests"
		tail -n 20 "$log" | sed 's/^/    | /'
		f=$((f + planned - seen))
	elif [ -z "$planned" ]; then
		echo "  $t: exited $rc without a test plan"
		tail -n 20 "$log" | sed 's/^/    | /'
		f=$((f + 1))
	elif [ "$f" -gt 0 ]; then
		grep -B30 -E '^not ok ' "$log" | grep -vE '^ok ' | tail -n 40 | sed 's/^/    | /'
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done
after=$(snapshot)
if [ "$before" != "$after" ]; then
	echo "# tests left something behind (test dirs in /dev/shm, huge pages, hugetlbfs mounts, bpffs pins):"
	echo "$before" | sed 's/^/#   before: /'
	echo "$after" | sed 's/^/#   after:  /'
	fail=$((fail + 1))
	# Counted as a failure above; then leave the machine as this run
	# found it where it can: this run's own test directories (a test
	# that failed in a forked child, past its cleanup) are removed.
	test_dirs | while read -r d; do rm -rf "/dev/shm/$d"; done
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
