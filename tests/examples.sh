#!/bin/sh
# examples.sh - the example programs end to end, as TAP for tests/run.sh:
# examples/epoll_reader follows generations that examples/writer publishes,
# through its notification fd in epoll and through the sleep-polling
# fallback, and ticks while nothing happens.
#
#   tests/examples.sh BUILDDIR [TEST...]
#
# Channels live in a private directory under /dev/shm (MMSYNC_DIR), removed
# at the end whatever happens; each test runs in its own `sh -e` process,
# and the background processes it starts are killed when it ends.
set -u
build=$1
shift
self=$0
E=$(cd "$build" && pwd)/examples
export E

# ---- helpers (also used inside the per-test processes) -----------------

. "$(dirname "$self")/check_lib.sh" # die, tap_test
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# within MS CMD...: poll CMD every 10 ms until it succeeds; 1 after MS.
within() {
	end=$(($(now_ms) + $1))
	shift
	until "$@" 2>/dev/null; do
		[ "$(now_ms)" -lt "$end" ] || return 1
		sleep 0.01
	done
}
has_line() { grep -q -- "$2" "$1"; }
spawn() {
	"$@" &
	echo $! >>"$T/pids"
}
publish() {
	"$E/writer" >"$T/writer.out" 2>&1 || {
		sed 's/^/#   writer: /' "$T/writer.out" >&2
		die "examples/writer failed"
	}
}
# follow N FLAGS: start epoll_reader -c N FLAGS on a channel at generation
# 1, publish generations 2..N+1 one at a time, each once the reader
# printed the one before, and check it printed each within 700 ms: less
# than its 1 s tick, so a reader that only looked at each tick would miss
# that on most of N generations (the chance that all of 10 uniform delays
# in 0..1 s come under 0.7 s is 3 %).
follow() {
	n=$1
	shift
	publish
	spawn "$E/epoll_reader" -c "$n" "$@" >"$T/out" 2>"$T/err"
	pid=$(tail -n 1 "$T/pids")
	within 10000 has_line "$T/out" '^epoll_reader: generation 1, 56 bytes' ||
		die "no first snapshot: $(cat "$T/out" "$T/err")"
	within 10000 has_line "$T/out" "$want_mode" ||
		die "not in the expected mode ($want_mode): $(cat "$T/out")"
	g=1
	while [ "$g" -le "$n" ]; do
		g=$((g + 1))
		publish
		within 700 has_line "$T/out" "^epoll_reader: generation $g, " ||
			die "generation $g not seen within 700 ms: $(cat "$T/out")"
	done
	within 5000 sh -c "! kill -0 $pid" || die "epoll_reader -c $n did not exit"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" = 0 ] || die "epoll_reader exited $rc: $(cat "$T/err")"
	# Every generation once, in order, with the writer's message.
	grep '^epoll_reader: generation' "$T/out" |
		sed 's/^epoll_reader: generation \([0-9]*\), 56 bytes, version 7: Hello World !$/\1/' \
			>"$T/gens"
	seq 1 $((n + 1)) | cmp -s - "$T/gens" ||
		die "generations printed: $(tr '\n' ' ' <"$T/gens")"
	[ ! -s "$T/err" ] || die "stderr: $(cat "$T/err")"
}

# ---- the tests ------------------------------------------------------------

# The notification fd in epoll: ten generations, each within 700 ms.
t_epoll_follows_writer() {
	want_mode='^epoll_reader: in epoll on notification fd [0-9]'
	follow 10
}

# -p (MMSYNC_READ_NO_NOTIFY): the fallback says why, then follows the
# writer by sleep-polling in mmsync_wait().
t_fallback_follows_writer() {
	want_mode='^epoll_reader: no notification fd (Operation not supported): mmsync_wait() sleep-polls instead$'
	follow 10 -p
}

# Nothing published for 2.5 s: both loops tick once a second, then exit
# on the next generation.
t_ticks_while_idle() {
	publish
	spawn "$E/epoll_reader" -c 1 >"$T/out.fd" 2>&1
	spawn "$E/epoll_reader" -c 1 -p >"$T/out.poll" 2>&1
	within 10000 has_line "$T/out.fd" 'in epoll on notification fd' ||
		die "epoll reader: $(cat "$T/out.fd")"
	within 10000 has_line "$T/out.poll" 'no notification fd' ||
		die "fallback reader: $(cat "$T/out.poll")"
	sleep 2.5
	for o in "$T/out.fd" "$T/out.poll"; do
		ticks=$(grep -c '^epoll_reader: still alive$' "$o" || :)
		[ "$ticks" -ge 2 ] && [ "$ticks" -le 3 ] ||
			die "$ticks ticks in 2.5 s: $(cat "$o")"
	done
	publish
	for o in "$T/out.fd" "$T/out.poll"; do
		within 5000 has_line "$o" '^epoll_reader: generation 2, ' ||
			die "generation 2 not seen: $(cat "$o")"
	done
	for p in $(cat "$T/pids"); do
		within 5000 sh -c "! kill -0 $p" || die "a reader did not exit"
	done
}

# A channel that does not exist: a clear error, exit 1, no hang.
t_no_channel() {
	rc=0
	timeout 10 "$E/epoll_reader" "$T/nosuch" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" = 1 ] || die "exited $rc, want 1"
	grep -q '^epoll_reader: open: No such file or directory$' "$T/err" ||
		die "stderr: $(cat "$T/err")"
	rc=0
	"$E/epoll_reader" -x >/dev/null 2>"$T/err" || rc=$?
	[ "$rc" = 2 ] || die "a bad option exited $rc, want 2"
	grep -q '^usage: ' "$T/err" || die "no usage line: $(cat "$T/err")"
}

# ---- runner -----------------------------------------------------------------

tests="epoll_follows_writer fallback_follows_writer ticks_while_idle no_channel"

if [ "${1:-}" = --one ]; then
	# One test, in its own process: set -e ends it at the first failure.
	T=$2
	MMSYNC_DIR=$T
	export T MMSYNC_DIR
	trap 'set +e; for p in $(cat "$T/pids" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done' EXIT
	trap 'exit 1' INT TERM
	set -e
	"t_$3"
	exit 0
fi

[ $# -gt 0 ] && tests=$*
top=$(mktemp -d "/dev/shm/mmsync-test-${MMSYNC_TEST_RUN:+$MMSYNC_TEST_RUN-}examples.XXXXXX")
trap 'rm -rf "$top"' EXIT
trap 'exit 130' INT TERM
echo "1..$(echo $tests | wc -w)"
i=0
failed=0
for t in $tests; do
	i=$((i + 1))
	if [ ! -x "$E/epoll_reader" ] || [ ! -x "$E/writer" ]; then
		echo "ok $i $t # SKIP $E/epoll_reader or writer not built (make examples)"
		continue
	fi
	tap_test "$i" "$t" "$top"
done
[ "$failed" = 0 ]
