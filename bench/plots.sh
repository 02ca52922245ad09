#!/bin/sh
# plots.sh - draw the PNG plots of a results directory with gnuplot.
#
#   bench/plots.sh DIR [SCRIPT]
#
# SCRIPT: a gnuplot script in bench/, plots.gp by default (bench/run.sh);
# pub_plots.gp draws the issue-15 plots (bench/pub.sh), a little larger.
# Uses the pngcairo terminal where gnuplot has it, else png (libgd).
set -eu
dir=$1 gp=${2:-plots.gp}
here=$(dirname "$0")
case $gp in
pub_*) size=1100,650 pngs='pub_*.png' ;;
*) size=1000,600 pngs='*.png' ;;
esac

if ! command -v gnuplot > /dev/null; then
	echo "plots: no gnuplot (scripts/deps.sh BUILD bench installs it): no PNGs" >&2
	exit 0
fi
if gnuplot -e 'set terminal pngcairo' > /dev/null 2>&1; then
	term="pngcairo size $size font 'sans,10'"
else
	term="png size $size"
fi
gnuplot -e "dir='$dir'; term=\"$term\"" "$here/$gp"
# shellcheck disable=SC2086 # $pngs is a pattern
echo "plots: $(cd "$dir" && ls $pngs | tr '\n' ' ')"
