# follow_lib.sh - what tests/follow_file.sh and tests/follow_etcd.sh share:
# check helpers and the TAP runner. Sourced, not run.
#
# A test script sets $tests (its test names, functions t_NAME) and calls
# follow_main "$@". Each test runs in its own `sh -e` process in a
# directory $T of its own under a private /dev/shm directory, removed at
# the end whatever happens; what a test started with spawn (or listed in
# $T/pids) is killed when it ends, the directories listed in $T/rmdirs
# (outside /dev/shm) are removed, and each test has a time limit.

. "$(dirname "$0")/check_lib.sh" # die, expect_eq, expect_rc, expect_err
# wait_for SECONDS CMD...: poll until CMD succeeds (the test polls, the
# follower does not).
wait_for() {
	n=$(($1 * 50))
	shift
	while ! "$@" 2>/dev/null; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.02
	done
}
# gen_of CHANNEL: its current generation (0: nothing published).
gen_of() {
	"$M" stat --json "$1" 2>/dev/null | grep -o '"gen":[0-9]*' | head -n1 | cut -d: -f2
}
gen_is() { [ "$(gen_of "$1")" = "$2" ]; }
gen_at_least() {
	g=$(gen_of "$1")
	[ "${g:-0}" -ge "$2" ]
}
# holds CHANNEL FILE: the channel's snapshot is FILE's bytes.
holds() { "$M" cat "$1" 2>/dev/null | cmp -s - "$2"; }
# holds_str CHANNEL STRING: the snapshot is STRING (no newline).
holds_str() { [ "$("$M" cat "$1" 2>/dev/null)" = "$2" ]; }
# log_has FILE PATTERN: a line of FILE matches the extended regex.
log_has() { grep -qE -- "$2" "$1"; }
# expect_log FILE PATTERN SECONDS: such a line appears in time.
expect_log() {
	wait_for "${3:-5}" log_has "$1" "$2" || {
		sed 's/^/#   log: /' "$1" >&2
		die "no line matching '$2' in $(basename "$1")"
	}
}
# count_log FILE PATTERN
count_log() { grep -cE -- "$2" "$1" || true; }
alive() { kill -0 "$1" 2>/dev/null; }
# spawn CMD...: start CMD in the background; $bgpid; killed when the
# test ends.
spawn() {
	"$@" &
	bgpid=$!
	echo "$bgpid" >>"$T/pids"
}
# stop PID: SIGTERM, then its exit status in $rc (within 10 s, or fail).
stop() {
	kill -TERM "$1" 2>/dev/null || :
	n=500
	while alive "$1" && [ "$n" -gt 0 ]; do
		sleep 0.02
		n=$((n - 1))
	done
	alive "$1" && die "pid $1 did not exit within 10 s of SIGTERM"
	rc=0
	wait "$1" || rc=$?
}
# wait_exit PID SECONDS: it exits by itself in time; status in $rc.
wait_exit() {
	n=$(($2 * 50))
	while alive "$1" && [ "$n" -gt 0 ]; do
		sleep 0.02
		n=$((n - 1))
	done
	alive "$1" && die "pid $1 still runs after $2 s"
	rc=0
	wait "$1" || rc=$?
}
# idle_no_polling PID: strace the process for 1.5 s; an idle follower
# sleeps in one wait with no timeout, so no wait may time out and no
# sleep may run. Prints SKIP without strace (or ptrace).
idle_no_polling() {
	if ! command -v strace >/dev/null; then
		echo "# no strace: the no-polling check is not done"
		return 0
	fi
	timeout -s INT 1.5 strace -qq -f -p "$1" -e trace=poll,ppoll,epoll_wait,epoll_pwait,select,pselect6,nanosleep,clock_nanosleep \
		-o "$T/strace" 2>"$T/strace.err" || :
	if [ ! -s "$T/strace" ] && [ -s "$T/strace.err" ]; then
		echo "# strace could not attach: $(head -n1 "$T/strace.err")"
		return 0
	fi
	# (A zero timeout is a check, not a sleep: curl makes some.)
	if grep -E 'nanosleep|[1-9][0-9]*\) += 0 \(Timeout\)' "$T/strace" >/dev/null; then
		sed 's/^/#   strace: /' "$T/strace" | head -n 20 >&2
		die "the idle follower wakes up on a timer"
	fi
}
# free_port: a TCP port nothing listens on (nor uses) at the moment.
free_port() {
	while :; do
		p=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000))
		hex=$(printf '%04X' "$p")
		grep -qi ":$hex " /proc/net/tcp /proc/net/tcp6 2>/dev/null || {
			echo "$p"
			return
		}
	done
}

# ---- runner ----------------------------------------------------------------

# follow_main BUILDDIR [--one DIR TEST | TEST...]
follow_main() {
	build=$1
	shift
	M=$(cd "$build" && pwd)/tools/mmsync
	export M
	if [ "${1:-}" = --one ]; then
		T=$2
		export T
		# Not under set -e: a process that is gone already is fine.
		trap 'set +e; for p in $(cat "$T/pids" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; for d in $(cat "$T/rmdirs" 2>/dev/null); do rm -rf "$d"; done' EXIT
		trap 'exit 1' INT TERM
		set -e
		"t_$3"
		exit 0
	fi
	[ $# -gt 0 ] && tests=$*
	run=${MMSYNC_TEST_RUN:-x$$}
	top=$(mktemp -d "/dev/shm/mmsync-test-$run-$suite.XXXXXX")
	trap 'follow_cleanup' EXIT
	trap 'exit 130' INT TERM HUP PIPE
	echo "1..$(echo $tests | wc -w)"
	# The script's own setup (servers for all tests; may set skip_all).
	if [ -x "$M" ] && command -v suite_setup >/dev/null; then
		suite_setup
	fi
	i=0
	failed=0
	for t in $tests; do
		i=$((i + 1))
		if [ ! -x "$M" ]; then
			echo "ok $i $t # SKIP $M not built"
			continue
		fi
		if [ -n "${skip_all:-}" ]; then
			echo "ok $i $t # SKIP $skip_all"
			continue
		fi
		if [ -n "${fail_all:-}" ]; then
			echo "# FAIL: $fail_all"
			echo "not ok $i $t"
			failed=$((failed + 1))
			continue
		fi
		tap_test "$i" "$t" "$top"
	done
	[ "$failed" = 0 ]
}

follow_cleanup() {
	set +e
	# The script's own hook first (servers it started for all tests).
	command -v suite_cleanup >/dev/null && suite_cleanup
	rm -rf "$top"
}
