# pub_plots.gp - the plots of `make bench-pub`. `plots.sh DIR pub_plots.gp`
# calls it with dir (the results directory) and term (the terminal line) set.
set datafile separator ','
set terminal @term noenhanced
set grid ytics
set style fill solid 0.8 border -1

# Rows of CSV file f whose column c equals v (header dropped).
sel(f, c, v) = sprintf("< awk -F, 'NR > 1 && $%d == \"%s\"' %s", c, v, f)

# ---- 1. publish vs write_raw ------------------------------------------------
# One cluster per size, one bar per case: ns per publish (log scale).
pf = dir.'/pub_publish.csv'
wide = sprintf("< awk -F, 'NR > 1 { if (!($1 in seen)) { seen[$1] = 1; s[n++] = $1 } v[$1, $2] = $5 } END { split(\"raw xchg mb raw_idle xchg_idle mb_idle raw_read xchg_read mb_read\", k, \" \"); for (i = 0; i < n; i++) { l = s[i] >= 1048576 ? s[i] / 1048576 \" MiB\" : s[i] >= 1024 ? s[i] / 1024 \" KiB\" : s[i] \" B\"; printf \"%%s\", l; for (j = 1; j <= 9; j++) printf \",%%s\", v[s[i], k[j]]; printf \"\\n\" } }' %s", pf)
set output dir.'/pub_publish.png'
set title 'mmsync_publish vs the write_raw equivalent: ns per publish (median), same run'
set ylabel 'ns per publish'
set logscale y
set format y '%g'
set yrange [10:*]
set style data histogram
set style histogram clustered gap 1
set key top left
plot wide using 2:xtic(1) title 'write_raw' lc rgb '#bbbbbb', \
     '' using 3 title 'fence/xchg' lc rgb '#4477aa', \
     '' using 4 title 'membarrier' lc rgb '#66ccee', \
     '' using 5 title 'write_raw, idle reader' lc rgb '#999999', \
     '' using 6 title 'fence/xchg, idle reader' lc rgb '#228833', \
     '' using 7 title 'membarrier, idle reader' lc rgb '#ccbb44', \
     '' using 8 title 'write_raw, reader reading' lc rgb '#666666', \
     '' using 9 title 'fence/xchg, reader reading' lc rgb '#ee6677', \
     '' using 10 title 'membarrier, reader reading' lc rgb '#aa3377'
unset logscale y
set style data lines

# ---- 2. paced writer -------------------------------------------------------
pc = dir.'/pub_pace.csv'
if (system('test -s '.pc.' && echo 1') eq '1') {
	set output dir.'/pub_pace.png'
	set multiplot layout 1,2 title '1 writer paced + 1 reader reading (64 B), medians of rounds'
	set logscale x
	set xrange [500:200000]
	set xlabel 'publishes per second (asked)'
	set key top left
	set title 'reader: CPU ns per read'
	set ylabel 'ns per read'
	set yrange [0:*]
	plot for [p in 'mmsync-membarrier mmsync-xchg counter pin-floor pin-floor-xchg no-pin-floor'] sel(pc, 2, p) \
	     using 1:4 with linespoints lw 2 title p
	set title 'writer: ns per publish (median)'
	set ylabel 'ns per publish'
	set logscale y
	set yrange [*:*]
	plot for [p in 'mmsync-membarrier mmsync-xchg counter'] sel(pc, 2, p) \
	     using 1:9 with linespoints lw 2 title p
	unset multiplot
	unset logscale
	unset xlabel
	set xrange [*:*]
}

# ---- 3. the parts of a 1 MiB publish ----------------------------------------
# Horizontal bars, one per case, the label on the left.
set output dir.'/pub_copy_hash.png'
set title 'Where a 1 MiB publish spends its time: us per operation (median)'
set xlabel 'microseconds'
unset ylabel
set yrange [*:*] reverse
set xrange [0:*]
set ytics font ',8'
set grid xtics noytics
set key noautotitle
set lmargin 48
plot dir.'/pub_copy_hash.csv' using ($5 / 2000):0:($5 / 2000):(0.35):ytic(3) skip 1 with boxxyerrorbars lc rgb '#4477aa', \
     '' using ($5 / 1000):0:(sprintf(' %.1f', $5 / 1000)) skip 1 with labels left font ',8'
set lmargin
set ytics font ''
set yrange [*:*] noreverse
set xrange [*:*]
set grid noxtics ytics
unset xlabel

# ---- 4. idle read cost vs the commit before format 2 ------------------------
rc = dir.'/pub_readcost.csv'
set output dir.'/pub_readcost.png'
set multiplot layout 1,2 title 'Idle read cost (read_begin + one load + read_end): this tree vs 18a6b00'
set style data histogram
set style histogram clustered gap 1
set key below
set title 'instructions per read (callgrind)'
set ylabel 'instructions'
set yrange [0:*]
plot "< awk -F, 'NR > 1 && $1 ~ /^(new|old)$/ { v[$2, $1] = $3 } END { printf \"membarrier,%s,%s\\n\", v[\"membarrier\", \"new\"], v[\"membarrier\", \"old\"]; printf \"xchg,%s,%s\\n\", v[\"xchg\", \"new\"], v[\"xchg\", \"old\"] }' ".rc \
     using 2:xtic(1) title 'this tree' lc rgb '#4477aa', '' using 3 title '18a6b00' lc rgb '#bbbbbb'
set title 'ns per read (median of alternating runs)'
set ylabel 'ns'
plot "< awk -F, 'NR > 1 { v[$2, $1] = $4 } END { printf \"membarrier,%s,%s,%s,%s\\n\", v[\"membarrier\", \"new\"], v[\"membarrier\", \"old\"], v[\"membarrier\", \"new-read_cost\"], v[\"membarrier\", \"old-read_cost\"]; printf \"xchg,%s,%s,%s,%s\\n\", v[\"xchg\", \"new\"], v[\"xchg\", \"old\"], v[\"xchg\", \"new-read_cost\"], v[\"xchg\", \"old-read_cost\"] }' ".rc \
     using 2:xtic(1) title 'read_instr, this tree' lc rgb '#4477aa', '' using 3 title 'read_instr, 18a6b00' lc rgb '#bbbbbb', \
     '' using 4 title 'read_cost, this tree' lc rgb '#228833', '' using 5 title 'read_cost, 18a6b00' lc rgb '#999999'
unset multiplot
