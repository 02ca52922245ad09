#!/bin/sh
# pub.sh - run the publish benchmarks of issue 15, draw their plots and
# write the summary. `make bench-pub` and `make bench-pub-quick` call it.
#
#   bench/pub.sh full|quick BINDIR OUTDIR
#
# Writes into OUTDIR:
#   pub_machine.txt            machine, commit, load before and after
#   pub_publish.{csv,md,png}   publish_raw: mmsync_publish vs write_raw
#   pub_pace.{csv,md,png}      pace: 1 writer + 1 reader, paced writer
#   pub_copy_hash.{csv,md,png} copy_hash: the 1 MiB publish's parts
#   pub_strace.{csv,txt}       strace -c of N small publishes
#   pub_scan.csv               a small publish with one idle reader, by
#                              reader-table size (fence mode)
#   pub_readcost.{csv,md,png}  idle read cost vs the commit before
#                              state format 2: callgrind and the clock
#   pub_summary.md             the targets, met or missed, then the above
#
# The old tree's programs ($BINDIR/read_instr_old, the old read_cost) come
# from `make bench-pub-old`; without them that part says n/a.
set -eu

mode=$1
bin=$2
out=$3
here=$(dirname "$0")

case "$mode" in
full)
	RP=9 RR=7 TT=0.3 RC=15 RI=9 RH=3 STN=100000 CGN=200000 Q="" ;;
quick)
	RP=1 RR=1 TT=0.1 RC=3 RI=3 RH=1 STN=10000 CGN=20000 Q=-q ;;
*)
	echo "usage: $0 full|quick BINDIR OUTDIR" >&2
	exit 2 ;;
esac

mkdir -p "$out"
work=$(mktemp -d /dev/shm/mmsync-pubbench.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
old_instr=$bin/read_instr_old
old_lib=$bin/old/src/build/default
old_rc=$old_lib/bench/read_cost

load() { cut -d' ' -f1-3 /proc/loadavg; }

{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "mode: $mode"
	echo "kernel: $(uname -r)"
	cpuinfo() { sed -n "s/^$1[[:space:]]*: //p" /proc/cpuinfo | head -n1; }
	echo "cpu: $(cpuinfo 'model name') (family $(cpuinfo 'cpu family')" \
		"model $(cpuinfo model)), $(nproc) CPUs" \
		"$(grep -q hypervisor /proc/cpuinfo && echo '(virtual machine)')"
	echo "compiler: $(${CC:-cc} --version | head -n1)"
	echo "commit: $(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo unknown)"
	echo "old tree: $( [ -x "$old_instr" ] && echo 18a6b00 || echo 'not built')"
	# Hardware counters decide how the 1 MiB publish is taken apart.
	if ! command -v perf > /dev/null; then
		echo "perf: not installed (the parts are timed one by one)"
	elif perf stat -e instructions true 2>&1 | grep -q "not supported"; then
		echo "perf: no hardware counters (perf stat -e instructions true: <not supported>); the parts are timed one by one"
	else
		echo "perf: hardware counters work"
	fi
	echo "load at start: $(load)"
} > "$out/pub_machine.txt"
cat "$out/pub_machine.txt"

step() {
	name=$1
	shift
	echo "== $name (load $(load))"
	"$@"
}

# ---- 1. publish vs write_raw ------------------------------------------------
step publish_raw "$bin/publish_raw" -r $RP $Q -d "$work" \
	-o "$out/pub_publish.csv"

# ---- 2. paced writer, 1 reader ---------------------------------------------
if [ -x "$bin/pace" ]; then
	step pace "$bin/pace" -r $RR -t $TT -d "$work" -o "$out/pub_pace.csv"
fi

# ---- 3. the parts of a 1 MiB publish ----------------------------------------
step copy_hash "$bin/copy_hash" -r $RC $Q -d "$work" \
	-o "$out/pub_copy_hash.csv"

# ---- 4. strace -c of N small publishes -------------------------------------
# count FILE [SYSCALL]: calls strace counted in all (or of SYSCALL)
count() {
	awk -v s="${2:-total}" '$NF == s { print ($4 ~ /^[0-9]+$/) ? $4 : $3; exit }' "$1"
}
echo "== strace (load $(load))"
echo "library,mode,reader,publishes,syscalls,setup_syscalls,per_publish,membarrier,newfstatat,fstat" \
	> "$out/pub_strace.csv"
: > "$out/pub_strace.txt"
if command -v strace > /dev/null; then
	for cfg in new,xchg,none new,membarrier,none new,xchg,idle \
		new,membarrier,idle old,xchg,none old,membarrier,none; do
		lib=${cfg%%,*} rest=${cfg#*,}
		m=${rest%,*} rd=${rest#*,}
		if [ $lib = old ]; then
			[ -d "$old_lib" ] || continue
			env="LD_LIBRARY_PATH=$old_lib"
		else
			env=""
		fi
		f=$work/strace-$lib-$m-$rd
		env $env strace -f -c -o "$f" "$bin/pub_loop" -a "$m,$STN,64,$rd" \
			-d "$work" > /dev/null
		# The same with no publish in the loop: what setup costs.
		env $env strace -f -c -o "$f.0" "$bin/pub_loop" -a "$m,0,64,$rd" \
			-d "$work" > /dev/null
		{
			echo "### $lib library ($([ $lib = old ] && echo 18a6b00 || echo this tree)), $m mode, reader $rd: strace -f -c of $STN publishes of 64 B (setup included)"
			echo
			sed 's/^/    /' "$f"
			echo
		} >> "$out/pub_strace.txt"
		tot=$(count "$f")
		tot0=$(count "$f.0")
		echo "$lib,$m,$rd,$STN,$tot,$tot0,$(awk -v a="$tot" -v z="$tot0" -v b=$STN 'BEGIN { printf "%.4f", (a - z) / b }'),$(count "$f" membarrier),$(count "$f" newfstatat),$(count "$f" fstat)" \
			>> "$out/pub_strace.csv"
	done
	cat "$out/pub_strace.csv"
else
	echo "no strace: pub_strace left empty"
fi

# ---- 4b. what one idle reader costs a small publish, by table size ---------
# Fence mode: the fence and the scan of the whole reader table.
echo "== table scan (load $(load))"
echo "max_readers,mode,ns_median,ns_mean" > "$out/pub_scan.csv"
for mr in 16 64 256 1024 4096; do
	"$bin/pub_loop" -a "xchg,$((STN / 5)),64,idle,$mr" -d "$work" |
		sed -n "s/.*ns_per_publish=\([0-9.]*\) ns_median=\([0-9.]*\).*/$mr,xchg,\2,\1/p" \
		>> "$out/pub_scan.csv"
done
"$bin/pub_loop" -a "xchg,$((STN / 5)),64,none" -d "$work" |
	sed -n "s/.*ns_per_publish=\([0-9.]*\) ns_median=\([0-9.]*\).*/none,xchg,\2,\1/p" \
	>> "$out/pub_scan.csv"
cat "$out/pub_scan.csv"

# ---- 5. idle read cost: this tree vs the commit before format 2 ------------
echo "== read cost (load $(load))"
echo "impl,mode,instr_per_read,ns_median,ns_min,runs" > "$work/rc.csv"
# instr BIN MODE: instructions per read (callgrind; n/a without valgrind)
instr() {
	command -v valgrind > /dev/null || { echo n/a; return; }
	valgrind --tool=callgrind --toggle-collect=read_loop \
		--callgrind-out-file="$work/cg" "$1" -a "$2,$CGN,1" -d "$work" \
		> "$work/cg.out" 2> "$work/cg.err" || { echo n/a; return; }
	reads=$(sed -n 's/.*reads_in_loop=\([0-9]*\).*/\1/p' "$work/cg.out")
	sed -n 's/^\(summary\|totals\): *\([0-9]*\).*/\2/p' "$work/cg" | head -n1 |
		awk -v n="$reads" '{ printf "%.2f", $1 / n }'
}
impls="new"
[ -x "$old_instr" ] && impls="new old"
for m in membarrier xchg; do
	for impl in $impls; do
		b=$bin/read_instr
		[ $impl = old ] && b=$old_instr
		echo "$impl $m $(instr "$b" $m)" >> "$work/instr"
	done
done
# The clock: the builds alternate, RI times, each the median of 15 loops.
i=0
while [ $i -lt $RI ]; do
	for m in membarrier xchg; do
		for impl in $impls; do
			b=$bin/read_instr
			[ $impl = old ] && b=$old_instr
			"$b" -a "$m,2000000,15" -d "$work" |
				sed -n "s/.*ns_per_read=\([0-9.]*\) ns_min=\([0-9.]*\).*/$impl $m \1 \2/p" \
				>> "$work/ns"
		done
	done
	i=$((i + 1))
done
for m in membarrier xchg; do
	for impl in $impls; do
		ins=$(awk -v i=$impl -v m=$m '$1 == i && $2 == m { print $3 }' "$work/instr")
		awk -v i=$impl -v m=$m -v ins="$ins" -v r=$RI '
			$1 == i && $2 == m { v[n++] = $3; if (lo == "" || $4 < lo) lo = $4 }
			END {
				for (a = 0; a < n; a++) for (b = a + 1; b < n; b++)
					if (v[b] < v[a]) { t = v[a]; v[a] = v[b]; v[b] = t }
				med = n % 2 ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2
				printf "%s,%s,%s,%.3f,%.3f,%d\n", i, m, ins, med, lo, r
			}' "$work/ns" >> "$work/rc.csv"
	done
done
# bench/read_cost (issue 6) of both trees, alternating RH times: the
# harness's own read cost, its libmmsync rows.
if [ -x "$bin/read_cost" ]; then
	i=0
	while [ $i -lt $RH ]; do
		"$bin/read_cost" -r 21 -t 0.03 -d "$work" -o "$work/rcn$i.csv" > /dev/null
		[ -x "$old_rc" ] && "$old_rc" -r 21 -t 0.03 -d "$work" \
			-o "$work/rco$i.csv" > /dev/null
		i=$((i + 1))
	done
	for m in membarrier xchg; do
		for impl in $impls; do
			f=rcn
			[ $impl = old ] && f=rco
			cat "$work/$f"*.csv | awk -F, -v p="mmsync-$m" -v i=$impl -v m=$m -v r=$RH '
				$1 == p { v[n++] = $3; if (lo == "" || $4 < lo) lo = $4 }
				END {
					for (a = 0; a < n; a++) for (b = a + 1; b < n; b++)
						if (v[b] < v[a]) { t = v[a]; v[a] = v[b]; v[b] = t }
					med = n % 2 ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2
					printf "%s-read_cost,%s,,%.3f,%.3f,%d\n", i, m, med, lo, r
				}' >> "$work/rc.csv"
		done
	done
fi
cp "$work/rc.csv" "$out/pub_readcost.csv"
cat "$out/pub_readcost.csv"

echo "load at end: $(load)" >> "$out/pub_machine.txt"

# ---- plots, summary ---------------------------------------------------------
"$here/plots.sh" "$out" pub_plots.gp || echo "pub: plots failed" >&2
"$here/pub_report.sh" "$out" > "$out/pub_summary.md"
echo
cat "$out/pub_summary.md"
