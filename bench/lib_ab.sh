#!/bin/sh
# lib_ab.sh - does notification make a publish that nobody waits for cost
# more than before? Builds the library of REV (default: the commit before
# lib/notify.c appeared) in a temporary directory, then runs lib_ab on it
# and on BINDIR's build, interleaved in one process; with --aligned also
# on both rebuilt with functions and loops aligned to 64 bytes, which
# shows how much of a difference is code placement rather than code.
#
#   bench/lib_ab.sh BINDIR OUTDIR [--aligned] [REV] [-- LIB_AB_OPTIONS]
#
# Writes OUTDIR/lib_ab.csv and OUTDIR/lib_ab.txt.
set -eu
bin=$1
out=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
aligned=0
rev=""
while [ $# -gt 0 ]; do
	case $1 in
	--aligned) aligned=1 ;;
	--) shift; break ;;
	*) rev=$1 ;;
	esac
	shift
done
if ! git -C "$top" rev-parse --git-dir > /dev/null 2>&1; then
	echo "lib_ab: not a git checkout: nothing to compare with" >&2
	exit 0
fi
if [ -z "$rev" ]; then
	added=$(git -C "$top" log --diff-filter=A --format=%H -1 -- lib/notify.c)
	[ -n "$added" ] || { echo "lib_ab: no commit added lib/notify.c" >&2; exit 1; }
	rev=$added^
fi
rev=$(git -C "$top" rev-parse --short "$rev")
cur=$(cd "$bin/.." && pwd)/libmmsync.so
[ -e "$cur" ] || { echo "lib_ab: $cur not built" >&2; exit 1; }

tmp=$(mktemp -d /tmp/mmsync-lib-ab.XXXXXX)
work=$(mktemp -d /dev/shm/mmsync-bench.XXXXXX)
trap 'rm -rf "$tmp" "$work"' EXIT
trap 'exit 130' INT TERM

# build DIR CFLAGS: make the library in DIR (a tree with lib/, include/).
build() {
	make -s -C "$1" TOP="$1/build" CFLAGS="$2" lib > "$1/build.log" 2>&1 || {
		cat "$1/build.log" >&2
		exit 1
	}
}
mkdir "$tmp/prev" "$tmp/cur"
git -C "$top" archive "$rev" Makefile lib include scripts | tar -x -C "$tmp/prev"
build "$tmp/prev" "-O2 -g"
libs="$cur $tmp/prev/build/default/libmmsync.so"
if [ $aligned = 1 ]; then
	(cd "$top" && tar -cf - Makefile lib include scripts) | tar -x -C "$tmp/cur"
	al="-O2 -g -falign-functions=64 -falign-loops=64"
	mkdir "$tmp/prev-aligned"
	git -C "$top" archive "$rev" Makefile lib include scripts | tar -x -C "$tmp/prev-aligned"
	build "$tmp/cur" "$al"
	build "$tmp/prev-aligned" "$al"
	libs="$libs $tmp/cur/build/default/libmmsync.so $tmp/prev-aligned/build/default/libmmsync.so"
fi
mkdir -p "$out"
{
	echo "lib_ab: this build ($(git -C "$top" rev-parse --short HEAD)) against $rev; load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "  1: $cur (this build)"
	echo "  2: $rev, -O2 -g"
	[ $aligned = 0 ] || echo "  3: this tree, $al; 4: $rev, $al"
	# shellcheck disable=SC2086 # $libs is a list of paths without spaces
	"$bin/lib_ab" -d "$work" -o "$out/lib_ab.csv" "$@" $libs |
		sed -e "s|$tmp/prev-aligned/build/default/libmmsync.so|$rev aligned|" \
		    -e "s|$tmp/prev/build/default/libmmsync.so|$rev|" \
		    -e "s|$tmp/cur/build/default/libmmsync.so|this tree aligned|" \
		    -e "s|$cur|this build|"
} | tee "$out/lib_ab.txt"
sed -i -e "s|$tmp/prev-aligned/build/default/libmmsync.so|$rev aligned|" \
	-e "s|$tmp/prev/build/default/libmmsync.so|$rev|" \
	-e "s|$tmp/cur/build/default/libmmsync.so|this tree aligned|" \
	-e "s|$cur|this build|" "$out/lib_ab.csv"
