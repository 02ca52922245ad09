# check_lib.sh - the check helpers of the shell tests (tests/cli.sh,
# tests/examples.sh, tests/follow_lib.sh) and the part of their TAP
# runner they share. Sourced, not run. A test runs with its own directory
# in $T.

# die MESSAGE: fail the current test.
die() {
	echo "# FAIL: $*" >&2
	exit 1
}
# expect_eq GOT WANT WHAT
expect_eq() {
	[ "$1" = "$2" ] || die "$3: got '$1', want '$2'"
}
# expect_rc WANT CMD...: run CMD with stdout/stderr in $T/out, $T/err.
expect_rc() {
	want=$1
	shift
	rc=0
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" = "$want" ] || {
		sed 's/^/#   stderr: /' "$T/err" >&2
		die "'$*' exited $rc, want $want"
	}
}
# expect_err PATTERN: $T/err is exactly one line and matches PATTERN.
expect_err() {
	lines=$(wc -l <"$T/err")
	[ "$lines" = 1 ] || {
		sed 's/^/#   stderr: /' "$T/err" >&2
		die "stderr has $lines lines, want 1"
	}
	grep -qE -- "$1" "$T/err" || die "stderr '$(cat "$T/err")' does not match '$1'"
}

# tap_test I TEST TOP: run t_TEST as test number I in a process of its own
# (sh $self $build --one TOP/TEST TEST: the suite's --one half, which
# cleans up after the test), for ${limit:-60} s at most, and print its TAP
# line and the "#" lines it printed. A test that printed "SKIP: why" and
# passed is a skip; a failing one shows its last 40 lines. Failures are
# counted in $failed.
tap_test() {
	mkdir "$3/$2"
	rc=0
	timeout -k 5 "${limit:-60}" sh "$self" "$build" --one "$3/$2" "$2" >"$3/$2.log" 2>&1 || rc=$?
	[ "$rc" != 124 ] || echo "# FAIL: timed out after ${limit:-60} s" >>"$3/$2.log"
	grep '^#' "$3/$2.log" | grep -v '^# FAIL' || :
	if [ "$rc" = 0 ] && grep -q '^SKIP: ' "$3/$2.log"; then
		echo "ok $1 $2 # $(grep -m1 '^SKIP: ' "$3/$2.log")"
	elif [ "$rc" = 0 ]; then
		echo "ok $1 $2"
	else
		failed=$((failed + 1))
		sed 's/^/#   | /' "$3/$2.log" | tail -n 40
		echo "not ok $1 $2"
	fi
	rm -rf "${3:?}/$2"
}
