# check_lib.sh - the check helpers of the shell tests (tests/cli.sh,
# tests/follow_lib.sh). Sourced, not run. A test runs with its own
# directory in $T.

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
