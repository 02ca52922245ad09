#!/bin/sh
# plots.sh - draw the PNG plots of a results directory with gnuplot.
#
#   bench/plots.sh DIR
#
# Uses the pngcairo terminal where gnuplot has it, else png (libgd).
set -eu
dir=$1
here=$(dirname "$0")

if ! command -v gnuplot > /dev/null; then
	echo "plots: no gnuplot (scripts/deps.sh BUILD bench installs it): no PNGs" >&2
	exit 0
fi
if gnuplot -e 'set terminal pngcairo' > /dev/null 2>&1; then
	term="pngcairo size 1000,600 font 'sans,10'"
else
	term="png size 1000,600"
fi
gnuplot -e "dir='$dir'; term=\"$term\"" "$here/plots.gp"
echo "plots: $(cd "$dir" && ls *.png | tr '\n' ' ')"
