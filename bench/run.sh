#!/bin/sh
# run.sh - run the libmmsync benchmark suite (issue 6), draw the plots and
# print the summary. `make bench` and `make bench-quick` call it.
#
#   bench/run.sh full|quick BINDIR OUTDIR
#
# full:  medians of >= 5 runs; CSV + PNG into OUTDIR, and the headline
#        table into bench/RESULTS.md when OUTDIR is bench/results.
# quick: the same programs with fewer runs, shorter phases and smaller
#        sizes, for a smoke test (< 2 min).
#
# BENCH_STEPS="wake wake_publish ...": run only those steps and keep the
# other results in OUTDIR (a rerun of one part on a quieter machine);
# machine.txt then keeps the full run's lines and gains one saying what
# was rerun when, at which commit and load.
#
# Channel files go to a private directory under /dev/shm, removed at the
# end. The hugepage part runs under bench/hugetlb.sh (root: reserves and
# gives back hugepages, mounts a private hugetlbfs).
set -eu

mode=$1
bin=$2
out=$3
here=$(dirname "$0")

case "$mode" in
full)
	R=5 RC=21 RR=9 TC=0.5 TS=0.3 TN=0.5 TW=2 Q=""
	huge_pages=2064 ;;	# 4 GiB + a few for state files and rounding
quick)
	R=3 RC=7 RR=3 TC=0.2 TS=0.15 TN=0.2 TW=1 Q=-q
	huge_pages=528 ;;	# 1 GiB + a few
*)
	echo "usage: $0 full|quick BINDIR OUTDIR" >&2
	exit 2 ;;
esac

mkdir -p "$out"
work=$(mktemp -d /dev/shm/mmsync-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
t_all=$(now)
only=${BENCH_STEPS:-}
if [ -z "$only" ] || [ ! -s "$out/timings.csv" ]; then
	echo "step,seconds" > "$out/timings.csv"
fi
# wanted NAME: is step NAME part of this run?
wanted() {
	[ -z "$only" ] && return 0
	case " $only " in *" $1 "*) return 0 ;; esac
	return 1
}

# step NAME CMD...: run CMD, keep its output in OUTDIR/NAME.txt, time it.
step() {
	name=$1
	shift
	wanted "$name" || return 0
	echo "== $name"
	# A rerun replaces the step's time.
	sed -i "/^$name,/d" "$out/timings.csv"
	t0=$(now)
	{
		"$@" 2>&1
		echo $? > "$work/rc"
	} | tee "$out/$name.txt"
	if [ "$(cat "$work/rc")" != 0 ]; then
		echo "bench: $name failed" >&2
		exit 1
	fi
	echo "$name,$(since "$t0")" >> "$out/timings.csv"
}

commit=$(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo unknown)
rerun=""
if [ -n "$only" ] && [ -s "$out/machine.txt" ]; then
	rerun="rerun of $only: $(date -u '+%Y-%m-%d %H:%M UTC'), kernel $(uname -r), commit $commit, load at start $(cut -d' ' -f1-3 /proc/loadavg)"
else {
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "mode: $mode"
	echo "kernel: $(uname -r)"
	cpuinfo() { sed -n "s/^$1[[:space:]]*: //p" /proc/cpuinfo | head -n1; }
	echo "cpu: $(cpuinfo 'model name') (family $(cpuinfo 'cpu family')" \
		"model $(cpuinfo model)), $(nproc) CPUs," \
		"$(awk '/MHz/ { printf "%.0f MHz nominal", $4; exit }' /proc/cpuinfo)" \
		"$(grep -q hypervisor /proc/cpuinfo && echo '(virtual machine)')"
	echo "memory: $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "compiler: $(${CC:-cc} --version | head -n1)"
	echo "commit: $commit" \
		"$(git -C "$here/.." status --porcelain -- lib include 2>/dev/null | grep -q . && echo '(lib/include modified in the tree)' || true)"
	echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$out/machine.txt"
fi
cat "$out/machine.txt"
echo

# Many short rounds where the cases are cheap to alternate (RC, RR): a
# burst of someone else's load then spoils a few rounds, not a whole case.
step read_cost "$bin/read_cost" -r $RC -t 0.03 -d "$work" -o "$out/read_cost.csv"
step contend "$bin/contend" -r $RR -t $TC -d "$work" -o "$out/contend.csv"
step scaling "$bin/scaling" -r $RR -t $TS -d "$work" -o "$out/scaling.csv"
step publish_size "$bin/publish_size" -r $R $Q -d "$work" \
	-o "$out/publish_size.csv"
step hugepage "$here/hugetlb.sh" $huge_pages "$bin/hugepage" -r $R $Q \
	-d "$work" -a @HUGETLBFS@ -o "$out/hugepage.csv"
step notify "$bin/notify" -r $R -t $TN $Q -d "$work" -o "$out/notify.csv"
# Diagnostic for the p99 target: the same, with the waiter and the writer
# under SCHED_FIFO, out of reach of the rest of the machine's load.
if [ "$(id -u)" = 0 ] && command -v chrt > /dev/null; then
	step notify_fifo chrt -f 10 "$bin/notify" -r 3 -t 0.1 -q \
		-a 50,100,200,500,1000 -d "$work" -o "$out/notify_fifo.csv"
fi
# Issue 10: wake-up latency and idle CPU of notification against the old
# sleep-polling and a pipe floor; the writer's publish cost with and
# without a waiter; the notifying syscalls by themselves.
step wake "$bin/wake" -r $RR -t $TW $Q -d "$work" -o "$out/wake.csv"
step wake_publish "$bin/wake" -a publish -r $R $Q -d "$work" \
	-o "$out/wake_publish.csv"
step wake_syscalls "$bin/wake" -a syscalls -r $R $Q -d "$work" \
	-o "$out/wake_syscalls.csv"
# Diagnostic for the p99 target, as for notify: waiters and writer under
# SCHED_FIFO, so what is left of the tail is the mechanism's own.
if [ "$(id -u)" = 0 ] && command -v chrt > /dev/null; then
	step wake_fifo chrt -f 10 "$bin/wake" -r 3 -t 0.5 -q -d "$work" \
		-o "$out/wake_fifo.csv"
fi

if [ -n "$rerun" ]; then
	# An earlier rerun of the same steps: its results are gone now.
	grep -vF "rerun of $only: " "$out/machine.txt" > "$work/machine" || :
	cat "$work/machine" > "$out/machine.txt"
	echo "$rerun, at end $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/machine.txt"
else
	echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/machine.txt"
	echo "total,$(since "$t_all")" >> "$out/timings.csv"
fi

"$here/plots.sh" "$out"
md="$out/summary.md"
"$here/report.sh" "$out" > "$md"
echo
cat "$md"
if [ "$mode" = full ] && [ "$(cd "$out" && pwd)" = "$(cd "$here/results" 2>/dev/null && pwd)" ]; then
	cp "$md" "$here/RESULTS.md"
	rm -f "$md"
	echo "bench: wrote $here/RESULTS.md"
fi
