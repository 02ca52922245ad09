#!/bin/sh
# report.sh - turn a results directory into the markdown summary: the
# headline tables (targets of issues 6 and 10, met or missed, with the numbers),
# then one table per benchmark. Everything is computed from the CSVs of
# that one run.
#
#   bench/report.sh DIR > summary.md
set -eu
dir=$1

# val FILE KEYCOL KEY VALCOL [KEYCOL2 KEY2 [KEYCOL3 KEY3]]: the value in
# the first row whose columns match; empty if none.
val() {
	awk -F, -v kc="$2" -v k="$3" -v vc="$4" -v kc2="${5:-0}" -v k2="${6:-}" \
		-v kc3="${7:-0}" -v k3="${8:-}" \
		'NR > 1 && $kc == k && (kc2 == 0 || $kc2 == k2) && (kc3 == 0 || $kc3 == k3) { print $vc; exit }' \
		"$1"
}
div() {
	awk -v a="$1" -v b="$2" \
		'BEGIN { if (a != "" && b != "" && b != 0) printf "%.3f", a / b }'
}
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 <= b + 0) }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 >= b + 0) }'; }
verdict() { if "$@"; then echo met; else echo "**missed**"; fi; }
f1() { awk -v a="$1" 'BEGIN { if (a != "") printf "%.1f", a; else printf "n/a" }'; }
f2() { awk -v a="$1" 'BEGIN { if (a != "") printf "%.2f", a; else printf "n/a" }'; }

rc="$dir/read_cost.csv" ct="$dir/contend.csv" sc="$dir/scaling.csv"
ps="$dir/publish_size.csv" hp="$dir/hugepage.csv" nt="$dir/notify.csv"

echo "# libmmsync benchmarks"
echo
sed -e 's/^/    /' "$dir/machine.txt"
echo
echo "Every number is a median over repeated runs, and every ratio divides"
echo "two numbers measured in the same run (the cases interleaved), because"
echo "this is a shared 2-vCPU VM with other work running. Reproduce with"
echo "\`make bench\` (as root, for the hugepage part); plots are in"
echo "\`bench/results/*.png\`."
echo

# ---- headline --------------------------------------------------------------
mm=$(val "$rc" 1 mmsync-membarrier 3)
mx=$(val "$rc" 1 mmsync-xchg 3)
ctr=$(val "$rc" 1 counter 3)
floor=$(val "$rc" 1 pin-floor 3)
r_mm=$(div "$mm" "$ctr")
r_mx=$(div "$mx" "$ctr")
c_mm=$(val "$ct" 1 mmsync-membarrier 5)
c_mx=$(val "$ct" 1 mmsync-xchg 5)
c_ctr=$(val "$ct" 1 counter 5)
maxr=$(awk -F, 'NR > 1 && $3 > m { m = $3 } END { print m + 0 }' "$sc")
s_mm=$(val "$sc" 1 mmsync-membarrier 4 3 "$maxr")
s_mx=$(val "$sc" 1 mmsync-xchg 4 3 "$maxr")
s_ctr=$(val "$sc" 1 counter 4 3 "$maxr")
s_mmns=$(div 1000000000 "$s_mm")
s_mxns=$(div 1000000000 "$s_mx")
s_ctrns=$(div 1000000000 "$s_ctr")
t_mm=$(val "$ct" 1 mmsync-membarrier 7)
t_mx=$(val "$ct" 1 mmsync-xchg 7)
t_ctr=$(val "$ct" 1 counter 7)
t_secs=$(val "$ct" 1 counter 14)

# The largest dataset of the run: 4 GiB (full) or 1 GiB (quick).
hbytes=$(awk -F, 'NR > 1 && $1 > m { m = $1 } END { printf "%.0f", m }' "$hp")
hgib=$(awk -v b="$hbytes" 'BEGIN { printf "%.0f", b / 1073741824 }')
h4=$(val "$hp" 2 snapshot-4k 5 1 "$hbytes")
h2=$(val "$hp" 2 snapshot-2m 5 1 "$hbytes")
hsrc="snapshot: tmpfs vs hugetlbfs channel"
if [ -z "$h2" ] || [ "$h2" = 0.00 ]; then
	h4=$(val "$hp" 2 raw-4k 5 1 "$hbytes")
	h2=$(val "$hp" 2 raw-2m 5 1 "$hbytes")
	hsrc="raw mapping, library hugetlb backing pending"
fi
[ "$h2" = 0.00 ] && h2=""
hup=$(div "$h4" "$h2")

cpu_worst=$(awk -F, 'NR > 1 && $2 == "mmsync" && $6 > w { w = $6; i = $1 }
	END { if (i != "") printf "%.2f at %s us", w, i }' "$nt")
cpu_worst_v=${cpu_worst%% *}
p99_ok=$(awk -F, 'NR > 1 && $2 == "mmsync" { n++; ok += $8 } END { printf "%d of %d", ok, n }' "$nt")
p99_bare_ok=$(awk -F, 'NR > 1 && $2 == "nanosleep" { n++; ok += $8 } END { printf "%d of %d", ok, n }' "$nt")
p99_fail=$(awk -F, 'NR > 1 && $2 == "mmsync" && !$8 { printf "%s%s us (p99 %s vs %s)", s, $1, $5, $7; s = ", " }' "$nt")
# The default: the shortest interval whose idle waiter costs <= 2 % of a
# core (50 idle waiters per core).
rec=$(awk -F, 'NR > 1 && $2 == "mmsync" && $3 <= 2.0 {
	if (r == "" || $1 + 0 < r + 0) r = $1 } END { print r }' "$nt")
rec_cpu=$(val "$nt" 1 "$rec" 3 2 mmsync)
rec_p50=$(val "$nt" 1 "$rec" 4 2 mmsync)
rec_p99=$(val "$nt" 1 "$rec" 5 2 mmsync)

echo "## Headline (targets of issue 6)"
echo
echo "| Measure | libmmsync | Baseline, same run | Ratio | Target | |"
echo "|---|---|---|---|---|---|"
echo "| Read cost, 1 reader, idle writer (membarrier) | $(f2 "$mm") ns | shared counter $(f2 "$ctr") ns | $(f2 "$r_mm")x | <= 0.2x | $(verdict le "$r_mm" 0.2) |"
echo "| Read cost, 1 reader, idle writer (fence/xchg) | $(f2 "$mx") ns | shared counter $(f2 "$ctr") ns | $(f2 "$r_mx")x | <= 0.2x | $(verdict le "$r_mx" 0.2) |"
echo "| Read cost, 1 writer publishing + 1 reader (membarrier / xchg) | $(f2 "$c_mm") / $(f2 "$c_mx") ns | shared counter $(f2 "$c_ctr") ns | $(f2 "$(div "$c_mm" "$c_ctr")")x / $(f2 "$(div "$c_mx" "$c_ctr")")x | (context) | |"
echo "| Read cost, $maxr readers, idle writer (membarrier / xchg) | $(f2 "$s_mmns") / $(f2 "$s_mxns") ns | shared counter $(f2 "$s_ctrns") ns | $(f2 "$(div "$s_mmns" "$s_ctrns")")x / $(f2 "$(div "$s_mxns" "$s_ctrns")")x | (context) | |"
echo "| Torn reads, 1 writer + 1 reader, $(f1 "$t_secs") s each (membarrier / xchg) | $t_mm / $t_mx | shared counter: $t_ctr | | 0 | $(verdict [ "$t_mm" = 0 -a "$t_mx" = 0 ]) |"
echo "| 2 MiB vs 4 KiB pages, $hgib GiB random lookups ($hsrc) | $(f1 "$h2") ns | 4 KiB: $(f1 "$h4") ns | $(f2 "$hup")x faster | >= 1.3x | $(verdict ge "$hup" 1.3) |"
echo "| mmsync_wait CPU per idle waiter, worst interval | | bare nanosleep loop | ${cpu_worst:-n/a} | <= 1.2x at every interval | $(verdict le "$cpu_worst_v" 1.2) |"
echo "| mmsync_wait p99 <= 1.5 x interval + 100 us | $p99_ok intervals | bare loop: $p99_bare_ok | | every interval | $(verdict [ "${p99_ok%% *}" = "${p99_ok##* }" ]) |"
echo "| Default poll interval | ${rec:-none} us: $(f2 "$rec_cpu") % of a core idle, p50 $(f1 "$rec_p50") us, p99 $(f1 "$rec_p99") us | library default: $(($(sed -n "s/^#define MMSYNC_DEFAULT_POLL_NS \([0-9]*\)ll.*/\1/p" lib/internal.h) / 1000)) us | | chosen from the curve | |"
echo

# ---- notes on what missed -------------------------------------------------
echo "### Why targets were missed, with the numbers"
echo
any=0
if ! le "$r_mm" 0.2 || ! le "$r_mx" 0.2; then
	any=1
	r_one=$(val "$sc" 1 counter 6 3 "$maxr")
	echo "- **Read cost vs the shared counter.** With one reader and an idle"
	echo "  writer the counter's cache line never leaves the reader's core, and"
	echo "  on this CPU two uncontended locked read-modify-writes cost"
	echo "  $(f2 "$ctr") ns in all, where the 0.2x target assumed the 14-15 ns"
	echo "  measured on the machine of ANCHORS.md. Even a bare pin/unpin with"
	echo "  nothing else (the floor row: load, store, compiler barrier, load;"
	echo "  store) costs $(f2 "$floor") ns = $(f2 "$(div "$floor" "$ctr")")x the counter here, so 0.2x"
	echo "  cannot be met by any per-reader pin on this CPU. libmmsync's inline"
	echo "  read_begin/read_end costs $(f2 "$mm") ns (membarrier) and $(f2 "$mx") ns"
	echo "  (xchg): $(f2 "$(div "$mm" "$floor")")x the floor. The difference is not the fence (xchg"
	echo "  costs the same as the plain store) but the inline path's bookkeeping:"
	echo "  filling five view fields and checking the handle, the open view, the"
	echo "  flags, the probe semaphore, the slot generation and the mapped size"
	echo "  on every read. The"
	echo "  counter's cost is contention, and it shows as soon as a second"
	echo "  party touches its line: with $maxr readers each counter reader keeps"
	echo "  $(f2 "$r_one")x of its single-reader rate, and a libmmsync read costs"
	echo "  $(f2 "$(div "$s_mmns" "$s_ctrns")")x a counter read (membarrier)."
fi
if ! ge "$hup" 1.3; then
	any=1
	echo "- **Hugepages.** 2 MiB pages gave $(f2 "$hup")x at $hgib GiB ($hsrc)."
fi
if ! le "$cpu_worst_v" 1.2; then
	any=1
	echo "- **Idle CPU.** mmsync_wait's worst ratio to the bare loop was"
	echo "  $cpu_worst. Per interval (mmsync / bare, % of a core):"
	awk -F, 'NR > 1 { c[$1, $2] = $3; if (!($1 in seen)) { seen[$1]; o[n++] = $1 } }
		END { for (i = 0; i < n; i++) printf "  %s us: %.2f / %.2f;", o[i], c[o[i], "mmsync"], c[o[i], "nanosleep"]; print "" }' "$nt"
fi
if [ "${p99_ok%% *}" != "${p99_ok##* }" ]; then
	any=1
	echo "- **Wait p99.** Missed at $p99_fail. The bare nanosleep loop met the"
	echo "  target at $p99_bare_ok intervals in the same run. The tail is the wait"
	echo "  for a CPU: the waiter wakes on time but queues behind other jobs on"
	echo "  this shared 2-vCPU machine (load $(sed -n 's/^load at start: //p' "$dir/machine.txt") at the start)."
	if [ -s "$dir/notify_fifo.csv" ]; then
		echo "  With the waiter and writer under SCHED_FIFO (a diagnostic run, 3"
		echo "  runs) the p99s were, mmsync_wait / bare loop:"
		awk -F, 'NR > 1 { p[$1, $2] = $5; ok[$1, $2] = $8; if (!($1 in s)) { s[$1]; o[n++] = $1 } }
			END { for (i = 0; i < n; i++) printf "  %s us: %s / %s%s;", o[i], p[o[i], "mmsync"], p[o[i], "nanosleep"], ok[o[i], "mmsync"] ? "" : " (missed)"; print "" }' "$dir/notify_fifo.csv"
		echo "  so the loop itself meets the target where the scheduler lets it."
	fi
fi
[ $any = 0 ] && echo "- None: every target was met in this run."
echo

# ---- issue 10: notification --------------------------------------------------
wk="$dir/wake.csv" wp="$dir/wake_publish.csv" wsc="$dir/wake_syscalls.csv"
if [ -s "$wk" ] && [ -s "$wp" ]; then
	n50=$(val "$wk" 1 notify 2) n99=$(val "$wk" 1 notify 3)
	e50=$(val "$wk" 1 epoll 2) e99=$(val "$wk" 1 epoll 3)
	o50=$(val "$wk" 1 poll 2) o99=$(val "$wk" 1 poll 3)
	f50=$(val "$wk" 1 pipe 2) f99=$(val "$wk" 1 pipe 3)
	nx=$(val "$wk" 1 notify 5) ex=$(val "$wk" 1 epoll 5) fx=$(val "$wk" 1 pipe 5)
	cn=$(val "$wk" 1 notify 6) ce=$(val "$wk" 1 epoll 6)
	co=$(val "$wk" 1 poll 6) cf=$(val "$wk" 1 pipe 6)
	nn=$(val "$wk" 1 notify 9) ne=$(val "$wk" 1 epoll 9) no=$(val "$wk" 1 poll 9)
	f4() { awk -v a="$1" 'BEGIN { if (a != "") printf "%.4f", a; else printf "n/a" }'; }
	# Medians of each run's ratio to the floor of that run.
	r_n50=$(val "$wk" 1 notify 7) r_e50=$(val "$wk" 1 epoll 7)
	r_n99=$(val "$wk" 1 notify 8) r_e99=$(val "$wk" 1 epoll 8)
	# wake_publish.csv: 3 burst ns, 4 burst CPU ns, 5 spaced ns, 6-8 the
	# same as medians of per-round ratios to no reader.
	pv() { val "$wp" 1 "$1" "$2" 2 "$3"; }
	pm_none=$(pv membarrier 3 none) pm_idle=$(pv membarrier 3 idle) pm_wait=$(pv membarrier 3 waiter)
	px_none=$(pv xchg 3 none) px_idle=$(pv xchg 3 idle) px_wait=$(pv xchg 3 waiter)
	cm_none=$(pv membarrier 4 none) cm_idle=$(pv membarrier 4 idle) cm_wait=$(pv membarrier 4 waiter)
	cx_none=$(pv xchg 4 none) cx_idle=$(pv xchg 4 idle) cx_wait=$(pv xchg 4 waiter)
	sm_none=$(pv membarrier 5 none) sm_idle=$(pv membarrier 5 idle) sm_wait=$(pv membarrier 5 waiter)
	sx_none=$(pv xchg 5 none) sx_idle=$(pv xchg 5 idle) sx_wait=$(pv xchg 5 waiter)
	# The target's ratio: CPU time, within each round.
	r_pm=$(pv membarrier 7 idle) r_px=$(pv xchg 7 idle)
	w_pm=$(pv membarrier 6 idle) w_px=$(pv xchg 6 idle)
	lat_ok() { le "$1" 50 && le "$2" 1.5 && le "$3" 1000 && le "$4" 1.5; }
	# The load while these ran: a rerun's own line, else the full run's.
	wload=$(sed -n 's/^rerun of \(.* \)\{0,1\}wake\( [^:]*\)\{0,1\}: .*load at start \(.*\)$/\3/p' "$dir/machine.txt" | tail -n 1)
	[ -n "$wload" ] || wload="$(sed -n 's/^load at start: //p' "$dir/machine.txt") at the start"

	echo "## Headline (targets of issue 10: notification)"
	echo
	echo "Waiter in its own process on CPU 1, writer on CPU 0; the pipe floor is"
	echo "a process blocked in poll() woken by a 1-byte pipe write, measured in the"
	echo "same run with the same random publish timing; medians over runs."
	echo
	echo "| Measure | mmsync_wait (notify) | fd in epoll | Floor, same run | Ratio to floor (median of runs) | Target | |"
	echo "|---|---|---|---|---|---|---|"
	echo "| Wake-up p50 | $(f1 "$n50") us | $(f1 "$e50") us | pipe $(f1 "$f50") us | $(f2 "$r_n50")x / $(f2 "$r_e50")x | <= 50 us, <= 1.5x floor | $(verdict lat_ok "$n50" "$r_n50" 0 0) / $(verdict lat_ok "$e50" "$r_e50" 0 0) |"
	echo "| Wake-up p99 | $(f1 "$n99") us | $(f1 "$e99") us | pipe $(f1 "$f99") us | $(f2 "$r_n99")x / $(f2 "$r_e99")x | <= 1 ms, <= 1.5x floor | $(verdict lat_ok 0 0 "$n99" "$r_n99") / $(verdict lat_ok 0 0 "$e99" "$r_e99") |"
	echo "| Wake-up max (worst run) | $(f1 "$nx") us | $(f1 "$ex") us | pipe $(f1 "$fx") us | | (context) | |"
	echo "| Idle CPU per waiter | $(f4 "$cn") % | $(f4 "$ce") % | pipe $(f4 "$cf") % | | <= 0.1 % of a core | $(verdict le "$cn" 0.1) / $(verdict le "$ce" 0.1) |"
	echo "| Old sleep-polling path (2 ms), p50 / p99 / idle CPU | $(f1 "$o50") / $(f1 "$o99") us / $(f4 "$co") % | | | | (context) | |"
	echo "| Publishes that notified (notify / epoll / old path) | $nn | $ne | old path: $no | | 1 / 1 / 0 | $(verdict [ "$nn" = 1.000 -a "$ne" = 1.000 -a "$no" = 0.000 ]) |"
	echo
	echo "| Writer: 64 B publish, back to back (CPU time; clock in brackets) | membarrier channel | fence (xchg) channel | Target | |"
	echo "|---|---|---|---|---|"
	echo "| No reader at all | $(f1 "$cm_none") ns ($(f1 "$pm_none")) | $(f1 "$cx_none") ns ($(f1 "$px_none")) | baseline | |"
	echo "| 1 reader, nobody waiting | $(f1 "$cm_idle") ns ($(f1 "$pm_idle")): $(f2 "$r_pm")x ($(f2 "$w_pm")x) | $(f1 "$cx_idle") ns ($(f1 "$px_idle")): $(f2 "$r_px")x ($(f2 "$w_px")x) | <= 1.05x no reader | $(verdict le "$r_pm" 1.05) / $(verdict le "$r_px" 1.05) |"
	echo "| 1 waiter blocked (the notifying syscall) | $(f1 "$cm_wait") ns ($(f1 "$pm_wait")) | $(f1 "$cx_wait") ns ($(f1 "$px_wait")) | (context) | |"
	echo "| Spaced 200 us apart (clock): none / nobody waiting / waiter | $(f1 "$sm_none") / $(f1 "$sm_idle") / $(f1 "$sm_wait") ns | $(f1 "$sx_none") / $(f1 "$sx_idle") / $(f1 "$sx_wait") ns | (context) | |"
	echo
	echo "Ratios are medians of each round's ratio to the no-reader case of that"
	echo "round."
	echo
	echo "### Why targets of issue 10 were missed, with the numbers"
	echo
	any=0
	if ! le "$r_pm" 1.05 || ! le "$r_px" 1.05; then
		any=1
		echo "- **Publish, nobody waiting vs no reader.** The notification code runs"
		echo "  the same way in both cases (the waiters count is 0: one seq_cst"
		echo "  exchange of the generation, one load of the count, no syscall: the"
		echo "  notify counter moved $(pv xchg 9 idle) times per publish). What an attached reader"
		echo "  adds is the grace protocol of issue 2, older than notification: with the"
		echo "  claimed count above 0 the writer cannot skip the full fence and the"
		echo "  table scan, so it pays $(f1 "$(awk -v a="$cx_idle" -v b="$cx_none" 'BEGIN { print a - b }')") ns more on a fence channel and"
		echo "  $(f1 "$(awk -v a="$cm_idle" -v b="$cm_none" 'BEGIN { print a - b }')") ns more on a membarrier channel (the membarrier() syscall)."
		echo "  Only a reader that waits adds the notifying syscall (the waiter rows)."
		ab="$dir/lib_ab.csv"
		if [ -s "$ab" ]; then
			prev=$(awk -F, 'NR > 1 && $1 != "this build" && $1 !~ /aligned/ { print $1; exit }' "$ab")
			inv() { f2 "$(div 1 "$(val "$ab" 1 "$prev" 7 2 "$1" 3 "$2")")"; }
			echo "  Against the library before notification ($prev, table 7d: both in one"
			echo "  process, interleaved) this build's publish costs $(inv xchg none)x / $(inv membarrier none)x"
			echo "  with no reader (fence / membarrier channel) and $(inv xchg idle)x / $(inv membarrier idle)x with a reader"
			echo "  that does not wait (CPU time)."
			if grep -q '^this tree aligned,' "$ab"; then
				al() { f2 "$(div "$(val "$ab" 1 "this tree aligned" 7 2 "$1" 3 "$2")" "$(val "$ab" 1 "$prev aligned" 7 2 "$1" 3 "$2")")"; }
				echo "  Both rebuilt with 64-byte code alignment, the same comparison gives"
				echo "  $(al xchg none)x / $(al membarrier none)x and $(al xchg idle)x / $(al membarrier idle)x: what is left"
				echo "  once the placement of the code no longer differs."
			fi
		fi
	fi
	if ! lat_ok "$n50" "$r_n50" "$n99" "$r_n99" || ! lat_ok "$e50" "$r_e50" "$e99" "$r_e99"; then
		any=1
		echo "- **Wake-up latency.** notify p50/p99 $(f1 "$n50")/$(f1 "$n99") us, epoll $(f1 "$e50")/$(f1 "$e99") us against the"
		echo "  pipe floor's $(f1 "$f50")/$(f1 "$f99") us in the same run (load $wload)."
		if ! le "$f99" 1000; then
			echo "  The floor itself is above 1 ms at p99: the tail is the wait for a CPU"
			echo "  on this shared machine, which a pipe wake-up meets as well."
		fi
		wf="$dir/wake_fifo.csv"
		if [ -s "$wf" ]; then
			echo "  With waiters and writer under SCHED_FIFO (a diagnostic run, out of"
			echo "  reach of the other load), p50/p99: notify $(f1 "$(val "$wf" 1 notify 2)")/$(f1 "$(val "$wf" 1 notify 3)") us,"
			echo "  epoll $(f1 "$(val "$wf" 1 epoll 2)")/$(f1 "$(val "$wf" 1 epoll 3)") us, pipe $(f1 "$(val "$wf" 1 pipe 2)")/$(f1 "$(val "$wf" 1 pipe 3)") us (p99 $(f2 "$(val "$wf" 1 notify 8)")x / $(f2 "$(val "$wf" 1 epoll 8)")x the floor)."
		fi
		if [ -s "$wsc" ]; then
			echo "  The notifying syscall by itself (table 7c): futimens() waking a"
			echo "  poll()er $(f1 "$(val "$wsc" 1 futimens_wakes 2)") ns, a pipe write waking one $(f1 "$(val "$wsc" 1 pipe_wakes 2)") ns."
		fi
	fi
	[ $any = 0 ] && echo "- None: every target was met in this run."
	echo
fi

# ---- tables ----------------------------------------------------------------
echo "## 1. Read cost (ns per read, one reader pinned to one CPU)"
echo
echo "| Protocol | ns/read | min | max | x shared counter |"
echo "|---|---|---|---|---|"
awk -F, 'NR > 1 { printf "| %s | %s | %s | %s | %s |\n", $2, $3, $4, $5, $7 }' "$rc"
echo
echo "## 2. One writer + one reader process (writer on CPU 0, reader on CPU 1)"
echo
echo "| Protocol | reads/s | publishes/s | ns/read | x counter | torn | went backwards | retries | reads checked |"
echo "|---|---|---|---|---|---|---|---|---|"
awk -F, 'NR > 1 { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $2, $3, $4, $5, $6, $7, $8, $10, $12 }' "$ct"
echo
echo "Torn: a read whose payload words disagreed with each other or with the"
echo "generation the protocol's metadata announced, checked before the"
echo "unpin. Went backwards: a read that returned an older generation than"
echo "the read before it. The shared-counter protocol does both because its"
echo "reader never re-checks the version after its fetch_add; the seqlock's"
echo "retries are reads it had to redo while the writer wrote."
echo
echo "## 3. Reader scaling (reads/s per reader; idle writer)"
echo
echo "| Protocol | readers | reads/s per reader | total | vs 1 reader | x counter |"
echo "|---|---|---|---|---|---|"
awk -F, 'NR > 1 { printf "| %s | %s | %s | %s | %s | %s |\n", $2, $3, $4, $5, $6, $7 }' "$sc"
echo
echo "'vs 1 reader' is the rate of each reader with $maxr readers over the rate"
echo "of a lone reader. Readers that write only their own cache line"
echo "(libmmsync's table entry, LMDB's reader slot) or nothing (seqlock)"
echo "should stay near 1.0, and what they lose is other load on the second"
echo "CPU. The shared counter and the rwlock's reader count bounce one cache"
echo "line between all readers. Only this 2-CPU machine was available."
echo
echo "## 4. Publish latency by size (us per publish, writer only)"
echo
awk -F, 'NR > 1 { if (!($1 in s)) { s[$1]; sz[n++] = $1 } ; if (!($2 in m)) { m[$2]; mo[k++] = $2 }
		v[$1, $2] = ($3 == "" ? "TODO" : $3); r[$1, $2] = $7 }
	function h(b) { return b >= 1073741824 ? b / 1073741824 " GiB" : b >= 1048576 ? b / 1048576 " MiB" : b >= 1024 ? b / 1024 " KiB" : b " B" }
	END {
		printf "| size |"; for (j = 0; j < k; j++) printf " %s |", mo[j]; print ""
		printf "|---|"; for (j = 0; j < k; j++) printf "---|"; print ""
		for (i = 0; i < n; i++) {
			printf "| %s |", h(sz[i])
			for (j = 0; j < k; j++) {
				x = v[sz[i], mo[j]]
				if (x == "") printf " - |"
				else if (x == "TODO" || mo[j] == "memcpy") printf " %s |", x
				else printf " %s (%.2fx) |", x, r[sz[i], mo[j]]
			}
			print ""
		}
	}' "$ps"
echo
echo "In parentheses: the ratio to memcpy() of the same bytes, same round."
echo "publish = copy + XXH3 hash + the grace wait (+ one membarrier() on a"
echo "membarrier channel: the floor of small publishes; a fence/xchg channel"
echo "has no syscall). reserve_commit_nofill is the library's own cost when"
echo "the caller serializes in place. publish_xchg stops at 1 MiB."
awk -F, 'NR > 1 && $2 == "publish_fd" && $3 == "" { gsub(/"/, "", $9); print "\n" $9; exit }' "$ps"
echo
echo "## 5. Hugepages: random dependent 8-byte lookups"
echo
echo "| Dataset | pages | held in | ns/lookup | min | max | speedup vs 4 KiB | note |"
echo "|---|---|---|---|---|---|---|---|"
awk -F, 'NR > 1 { gsub(/"/, "", $10); printf "| %.0f GiB | %s | %s | %s | %s | %s | %s | %s |\n", $1 / 1073741824, $3, $4, ($5 == 0 ? "n/a" : $5), $6, $7, ($9 == 0 ? "" : $9 "x"), $10 }' "$hp"
echo
echo "## 6. Notification: mmsync_wait vs a bare nanosleep loop"
echo
echo "| interval | waiter | CPU, % of a core (idle) | x bare | p50 us | p99 us | p99 target us | |"
echo "|---|---|---|---|---|---|---|---|"
awk -F, 'NR > 1 { printf "| %s us | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $6, $4, $5, $7, ($8 ? "ok" : "**missed**") }' "$nt"
echo
if [ -n "$rec" ]; then
	echo "Recommended default poll interval: **$rec us** - the shortest interval"
	echo "at which one idle waiter costs at most 2 % of a core, so that 50 idle"
	echo "waiters fit in one core; its p50 is $(f1 "$rec_p50") us and p99 $(f1 "$rec_p99") us. Each wake"
	echo "costs about the same CPU, so every halving of the interval roughly"
	echo "doubles the idle cost, to save half an interval of median latency;"
	echo "callers that need less latency set poll_ns themselves."
else
	echo "No interval kept an idle waiter under 2 % of a core in this run."
fi
echo
if [ -s "$wk" ]; then
	echo "## 7. Notification (issue 10): waking a reader"
	echo
	echo "### 7a. Wake-up latency and idle CPU per waiter"
	echo
	echo "| waiter | p50 us | p99 us | max us (median run) | max us (worst run) | idle CPU, % of a core | p50 x pipe | p99 x pipe | notifies per publish |"
	echo "|---|---|---|---|---|---|---|---|---|"
	awk -F, 'NR > 1 { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' "$wk"
	echo
	awk -F, 'NR == 2 { printf "%s samples per waiter and run, %s runs; idle CPU over %s s per run, all four waiters at once.\n", $10, $11, $12 }' "$wk"
	echo "notify: mmsync_wait() blocking; epoll: mmsync_reader_fd() in epoll, then"
	echo "mmsync_wait(r, last, 0); poll: MMSYNC_READ_NO_NOTIFY (the old 2 ms"
	echo "sleep-polling); pipe: the floor. Latency runs from just before the"
	echo "writer makes the generation visible (mmsync_commit(), after the grace"
	echo "wait of mmsync_reserve()) or writes the pipe, to the return of the wait."
	echo
fi
if [ -s "$wp" ]; then
	echo "### 7b. Writer: 64 B publish (ns)"
	echo
	echo "| fence | case | back to back | CPU time | spaced 200 us | x none | x none (CPU) | x none (spaced) | notifies per publish |"
	echo "|---|---|---|---|---|---|---|---|---|"
	awk -F, 'NR > 1 { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' "$wp"
	echo
	awk -F, 'NR == 2 { printf "Medians of %s rounds, the cases interleaved in every round; x none:\n", $10 }' "$wp"
	echo "medians of each round's ratio to no reader on the same channel."
	echo "none: no reader; idle: one reader process with the channel open and"
	echo "a read done, not waiting; waiter: one reader blocked in mmsync_wait()"
	echo "for a generation that never comes, so every publish notifies and, when"
	echo "spaced, wakes it."
	echo
fi
if [ -s "$wsc" ]; then
	echo "### 7c. The notifying syscall by itself (ns per call, calls 100 us apart, tmpfs)"
	echo
	echo "| call | ns | x futimens, no watch |"
	echo "|---|---|---|"
	awk -F, 'NR > 1 { printf "| %s | %s | %s |\n", $1, $2, $3 }' "$wsc"
	echo
fi
if [ -s "$dir/lib_ab.csv" ]; then
	echo "### 7d. This build against the library before notification (ns per 64 B publish, back to back)"
	echo
	sed -n '1s/^/    /p' "$dir/lib_ab.txt" 2>/dev/null || :
	echo
	echo "| library | fence | case | ns | CPU ns | x this build | x this build (CPU) |"
	echo "|---|---|---|---|---|---|---|"
	awk -F, 'NR > 1 { printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7 }' "$dir/lib_ab.csv"
	echo
	echo "\`make bench-lib-ab\` (bench/lib_ab.sh): every build loaded with dlmopen()"
	echo "into one process, the cases interleaved in every round. \"aligned\": the"
	echo "same sources built with -falign-functions=64 -falign-loops=64, to tell"
	echo "code placement from code."
	echo
fi
echo "## Runtimes (s)"
echo
echo "| step | seconds |"
echo "|---|---|"
awk -F, 'NR > 1 { printf "| %s | %s |\n", $1, $2 }' "$dir/timings.csv"
# Issue 15's publish benchmarks (make bench-pub), when they have run here.
if [ -s "$dir/pub_summary.md" ]; then
	echo
	sed -e '/^## 1\. /,$d' -e 's/^#/##/' "$dir/pub_summary.md"
	echo "Every table of that run: \`bench/results/pub_summary.md\` (\`make bench-pub\`)."
fi
