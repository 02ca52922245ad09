#!/bin/sh
# pub_test.sh - TAP test of the issue-15 benchmark programs (bench/pub.mk
# installs it as $(OUT)/tests/pubbench): a short pass of each, with the
# checks that would make its numbers wrong if they failed.
#
#   bench/pub_test.sh BINDIR SANITIZE
#
# 1 publish_raw: all 27 rows (3 sizes x 9 cases), every median > 0, and
#   the program's own check that the write_raw equivalent's reader sees
#   the bytes, size and hash bits that were written
# 2 copy_hash: every copy-and-hash variant returns XXH3-64 of the source
#   (the program exits 1 otherwise), all rows present
# 3 pace: the writer keeps a 1000/s pace (>= 90 %), libmmsync's readers
#   read and never tear, the counter protocol's reader reads
# 4 strace -c: 10^4 fence-mode publishes of 64 B make fewer than 100
#   syscalls more than a run with none (no syscall per publish)
# 5 strace -c: the same count sees one membarrier() per publish in
#   membarrier mode with a reader open (the count itself works)
# 6 read_instr: both fence modes read
set -u
bin=$1
san=${2:-}
work=$(mktemp -d /dev/shm/mmsync-pubtest.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
n=0
echo "1..6"
ok() { n=$((n + 1)); echo "ok $n $1"; }
notok() { n=$((n + 1)); echo "not ok $n $1"; }
skip() { n=$((n + 1)); echo "ok $n $1 # SKIP $2"; }

# TSan builds run fence mode only (membarrier's fences are invisible to it).
tsan=0
case "$san" in *thread*) tsan=1 ;; esac

# field CSV COLUMN-NAME: print that column of every data row
field() {
	awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
		c { print $c }' "$1"
}

# 1 publish_raw
t=publish_raw
if [ $tsan = 1 ]; then
	skip $t "needs membarrier mode (TSan build)"
elif "$bin/publish_raw" -q -r 1 -d "$work" -o "$work/p.csv" >"$work/p.out" 2>&1; then
	rows=$(field "$work/p.csv" ns_median | awk '$1 > 0' | wc -l)
	if [ "$rows" = 27 ]; then ok $t; else
		echo "# $rows of 27 rows with a median > 0"
		notok $t
	fi
else
	sed 's/^/# /' "$work/p.out"
	notok $t
fi

# 2 copy_hash
t=copy_hash
if "$bin/copy_hash" -q -r 1 -a 262144 -d "$work" -o "$work/c.csv" >"$work/c.out" 2>&1; then
	rows=$(field "$work/c.csv" ns_median | awk '$1 > 0' | wc -l)
	if [ "$rows" -ge 20 ]; then ok $t; else
		echo "# $rows rows"
		notok $t
	fi
else
	sed 's/^/# /' "$work/c.out"
	notok $t
fi

# 3 pace
t=pace
if [ $tsan = 1 ]; then
	skip $t "needs membarrier mode (TSan build), and the peers' fences do not build under TSan"
elif [ ! -x "$bin/pace" ]; then
	skip $t "not built: no liblmdb-dev/liburcu-dev (scripts/deps.sh BUILD bench installs them)"
elif "$bin/pace" -r 1 -t 0.2 -a 1000 -d "$work" -o "$work/r.csv" >"$work/r.out" 2>&1; then
	bad=$(awk -F, 'NR > 1 {
		if ($11 < 0.9 * $1) print $2 ": " $11 " publishes/s of " $1
		if ($17 == 0) print $2 ": no reads"
		if ($2 ~ /^mmsync/ && ($12 != 0 || $15 != 0)) print $2 ": " $12 " torn, " $15 " errors"
	} END { if (NR != 7) print NR - 1 " rows of 6" }' "$work/r.csv")
	if [ -z "$bad" ]; then ok $t; else
		echo "$bad" | sed 's/^/# /'
		notok $t
	fi
else
	sed 's/^/# /' "$work/r.out"
	notok $t
fi

# 4, 5 strace -c
# calls FILE [SYSCALL]: total syscalls (or those of SYSCALL) strace counted
calls() {
	if [ -n "${2:-}" ]; then
		awk -v s="$2" '$NF == s { print ($4 ~ /^[0-9]+$/) ? $4 : $3 }' "$1"
	else
		awk '$NF == "total" { print ($4 ~ /^[0-9]+$/) ? $4 : $3 }' "$1"
	fi
}
if ! command -v strace >/dev/null; then
	skip "strace fence" "no strace"
	skip "strace membarrier" "no strace"
elif ! strace -f -c -o "$work/s0" true 2>/dev/null; then
	skip "strace fence" "strace cannot trace here (ptrace denied)"
	skip "strace membarrier" "strace cannot trace here (ptrace denied)"
else
	# LeakSanitizer cannot run under ptrace: no leak check in these two.
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	export ASAN_OPTIONS
	t="strace fence"
	if strace -f -c -o "$work/s1" "$bin/pub_loop" -a xchg,10000,64 -d "$work" >"$work/s1.out" 2>&1 &&
		strace -f -c -o "$work/s0" "$bin/pub_loop" -a xchg,0,64 -d "$work" >>"$work/s1.out" 2>&1; then
		c=$(calls "$work/s1")
		c0=$(calls "$work/s0")
		if [ -n "$c" ] && [ -n "$c0" ] && [ $((c - c0)) -lt 100 ]; then
			ok "$t ($c syscalls with 10000 publishes, $c0 with none)"
		else
			echo "# $c syscalls with 10000 publishes, $c0 with none"
			notok "$t"
		fi
	else
		sed 's/^/# /' "$work/s1.out"
		notok "$t"
	fi
	t="strace membarrier"
	if [ $tsan = 1 ]; then
		skip "$t" "needs membarrier mode (TSan build)"
	elif strace -f -c -o "$work/s2" "$bin/pub_loop" -a membarrier,2000,64,idle -d "$work" >"$work/s2.out" 2>&1; then
		c=$(calls "$work/s2" membarrier)
		if [ -n "$c" ] && [ "$c" -ge 2000 ]; then ok "$t ($c membarrier calls)"; else
			echo "# ${c:-no} membarrier calls for 2000 publishes"
			notok "$t"
		fi
	elif grep -q "not supported" "$work/s2.out"; then
		skip "$t" "no membarrier here"
	else
		sed 's/^/# /' "$work/s2.out"
		notok "$t"
	fi
fi

# 6 read_instr
t=read_instr
fail=0
out=$("$bin/read_instr" -a xchg,100000,3 -d "$work" 2>&1) || fail=1
echo "$out" | grep -q ns_per_read= || fail=1
if [ $tsan = 0 ]; then
	out2=$("$bin/read_instr" -a membarrier,100000,3 -d "$work" 2>&1) || fail=1
	echo "$out2" | grep -q ns_per_read= || fail=1
	out="$out
$out2"
fi
if [ $fail = 0 ]; then ok $t; else
	echo "$out" | sed 's/^/# /'
	notok $t
fi
