# plots.gp - the plots of `make bench`. plots.sh calls it with dir (the
# results directory) and term (the terminal line) set.
set datafile separator ','
set terminal @term noenhanced
set grid ytics
set key top left noautotitle
set style fill solid 0.8 border -1
set boxwidth 0.7

# The rows of CSV file f whose column c equals v (header dropped).
sel(f, c, v) = sprintf("< awk -F, 'NR > 1 && $%d == \"%s\"' %s", c, v, f)

# ---- 1. read cost ---------------------------------------------------------
set output dir.'/read_cost.png'
set title 'Read cost: pin + one cache line + unpin, 1 reader, idle writer (median)'
set ylabel 'ns per read'
set xtics rotate by -30 left
set yrange [0:*]
plot dir.'/read_cost.csv' using 0:3:xtic(2) skip 1 with boxes lc rgb '#4477aa', \
     '' using 0:3:(sprintf('%.1f', $3)) skip 1 with labels offset 0,0.7

# ---- 2. one writer + one reader -------------------------------------------
set output dir.'/contend.png'
set title '1 writer + 1 reader process (2 CPUs): throughput; torn reads above the bars'
set ylabel 'operations per second'
set logscale y
set yrange [1e3:*]
set key top right
set style data histogram
set style histogram clustered gap 1
plot dir.'/contend.csv' using 3:xtic(2) skip 1 title 'reads/s' lc rgb '#4477aa', \
     '' using 4 skip 1 title 'publishes/s' lc rgb '#ee6677', \
     '' using ($0 - 0.15):($3 * 1.6):(sprintf('torn %d', $7)) skip 1 with labels notitle
unset logscale y
set style data lines

# ---- 3. reader scaling ----------------------------------------------------
set output dir.'/scaling.png'
set title 'Reader scaling: reads/s per reader, one reader process per CPU, idle writer'
set xlabel 'reader processes'
set ylabel 'reads/s per reader'
set xtics norotate 1
set yrange [0:*]
set key top right
plot for [p in 'mmsync-membarrier mmsync-xchg counter rwlock seqlock lmdb'] \
     sel(dir.'/scaling.csv', 1, p) using 3:4 with linespoints lw 2 title p
unset xlabel

# ---- 4. publish latency by size -------------------------------------------
set output dir.'/publish_size.png'
set title 'Publish latency by payload size (writer only, median)'
set xlabel 'payload'
set ylabel 'microseconds per operation'
set logscale x 2
set logscale y 10
set xtics ('64 B' 64, '1 KiB' 1024, '16 KiB' 16384, '256 KiB' 262144, \
	   '4 MiB' 4194304, '64 MiB' 67108864, '1 GiB' 1073741824)
set format y '%g'
set autoscale xfix
set yrange [*:*]
set key top left
plot for [m in 'memcpy publish publish_xchg reserve_commit reserve_commit_nofill publish_fd'] \
     sel(dir.'/publish_size.csv', 2, m) using 1:($3 > 0 ? $3 : NaN) \
     with linespoints lw 2 title m
unset logscale
set autoscale x
set xtics auto
unset xlabel

# ---- 5. hugepages ---------------------------------------------------------
set output dir.'/hugepage.png'
set title 'Random dependent 8-byte lookups (median ns per lookup; n/a rows are 0)'
set ylabel 'ns per lookup'
set xtics rotate by -30 left
set yrange [0:*]
set key noautotitle
plot dir.'/hugepage.csv' using 0:5:xtic(sprintf('%.0f GiB %s %s', $1 / 1073741824, strcol(3), strcol(4))) \
     skip 1 with boxes lc rgb '#228833', \
     '' using 0:5:(sprintf('%.0f', $5)) skip 1 with labels offset 0,0.7
set xtics norotate

# ---- 6. notification ------------------------------------------------------
set output dir.'/notify.png'
nt = dir.'/notify.csv'
set multiplot layout 1,2 title 'mmsync_wait vs a bare nanosleep loop, by poll interval (medians of runs)'
set logscale xy
set xlabel 'poll interval (us)'
set xrange [30:8000]
set xtics auto
set key top left
set title 'p50 and p99 latency, publish -> return'
set ylabel 'microseconds'
plot sel(nt, 2, 'mmsync') using 1:5 with linespoints lw 2 title 'mmsync_wait p99', \
     sel(nt, 2, 'nanosleep') using 1:5 with linespoints lw 2 dt 2 title 'bare loop p99', \
     sel(nt, 2, 'mmsync') using 1:4 with linespoints lw 2 title 'mmsync_wait p50', \
     sel(nt, 2, 'nanosleep') using 1:4 with linespoints lw 2 dt 2 title 'bare loop p50', \
     sel(nt, 2, 'mmsync') using 1:7 with lines lc rgb 'gray' title 'p99 target'
set title 'CPU of one idle waiter'
set ylabel '% of one core'
set key top right
plot sel(nt, 2, 'mmsync') using 1:3 with linespoints lw 2 title 'mmsync_wait', \
     sel(nt, 2, 'nanosleep') using 1:3 with linespoints lw 2 dt 2 title 'bare nanosleep loop'
unset multiplot

# ---- 7. wake-up (issue 10) -------------------------------------------------
wk = dir.'/wake.csv'
wp = dir.'/wake_publish.csv'
if (system('test -s '.wk.' && test -s '.wp.' && echo 1') eq '1') {
	set output dir.'/wake.png'
	unset logscale
	unset xlabel
	set xtics auto
	set multiplot layout 1,3 title 'Waking a reader after a publish (medians of runs; writer CPU 0, waiter CPU 1)'
	set style data histogram
	set style histogram clustered gap 1
	set style fill solid 0.8 border -1
	set logscale y
	set xtics rotate by -30 left
	set xrange [*:*]
	set key top left
	set title 'Wake-up latency, publish -> return'
	set ylabel 'microseconds'
	set yrange [5:*]
	set arrow 1 from graph 0, first 50 to graph 1, first 50 nohead dt 2 lc rgb 'gray'
	set arrow 2 from graph 0, first 1000 to graph 1, first 1000 nohead dt 2 lc rgb 'gray'
	plot wk using 2:xtic(1) skip 1 title 'p50' lc rgb '#4477aa', \
	     '' using 3 skip 1 title 'p99' lc rgb '#ee6677', \
	     '' using 4 skip 1 title 'max' lc rgb '#bbbbbb'
	unset arrow 1
	unset arrow 2
	set title 'CPU of one idle waiter (target <= 0.1 %)'
	set ylabel '% of one core'
	set yrange [0.0001:*]
	set arrow 3 from graph 0, first 0.1 to graph 1, first 0.1 nohead dt 2 lc rgb 'gray'
	plot wk using ($6 > 0.0001 ? $6 : 0.0001):xtic(1) skip 1 notitle lc rgb '#228833'
	unset arrow 3
	set title 'Writer: one 64 B publish'
	set ylabel 'ns per publish'
	set yrange [100:*]
	plot wp using 4:xtic(strcol(1).' '.strcol(2)) skip 1 title 'back to back (CPU time)' lc rgb '#4477aa', \
	     '' using 5 skip 1 title 'spaced 200 us' lc rgb '#ee6677'
	unset multiplot
	unset logscale y
	set style data lines
	set xtics norotate
}
