#!/bin/sh
# pub_plots.sh - draw the PNGs of the issue-15 benchmarks (bench/pub.sh).
#
#   bench/pub_plots.sh DIR
#
# Uses the pngcairo terminal where gnuplot has it, else png (libgd).
set -eu
dir=$1
here=$(dirname "$0")

if ! command -v gnuplot > /dev/null; then
	echo "pub_plots: no gnuplot (scripts/deps.sh BUILD bench installs it): no PNGs" >&2
	exit 0
fi
if gnuplot -e 'set terminal pngcairo' > /dev/null 2>&1; then
	term="pngcairo size 1100,650 font 'sans,10'"
else
	term="png size 1100,650"
fi
gnuplot -e "dir='$dir'; term=\"$term\"" "$here/pub_plots.gp"
echo "pub_plots: $(cd "$dir" && ls pub_*.png | tr '\n' ' ')"
