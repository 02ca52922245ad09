#!/bin/sh
# install.sh - `make install` into a DESTDIR, used as an outside program
# would use it, then `make uninstall`; TAP for tests/run.sh.
#
#   tests/install.sh SRCDIR BUILDDIR [MAKEVAR=VALUE...]
#
# The MAKEVARs are those of the build under test (CC, TOP, SANITIZE, ...),
# so that the install is of this very build.
set -u
src=$1
build=$2
shift 2
# Only what is on our command lines: a package build running this test has
# its own PREFIX, LIBDIR... in the environment (make exports them).
unset MAKEFLAGS MFLAGS MAKELEVEL PREFIX BINDIR LIBDIR INCLUDEDIR MANDIR DESTDIR
cc=cc
san=
for v in "$@"; do
	case $v in
	CC=*) cc=${v#CC=} ;;
	SANITIZE=?*) san="-fsanitize=${v#SANITIZE=}" ;;
	esac
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mmsync-test-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
D=$tmp/root
P=/usr/local
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n $*"; }
fail() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n $*"; }
skip() { n=$((n + 1)); echo "ok $n $1 # SKIP $2"; }
check() { # check NAME CMD...: ok iff CMD succeeds
	name=$1
	shift
	if "$@" >"$tmp/log" 2>&1; then ok "$name"; else
		sed 's/^/#   /' "$tmp/log" | tail -n 20
		fail "$name"
	fi
}
mk() {
	make -C "$src" --no-print-directory "$@"
}
has() { command -v "$1" >/dev/null 2>&1; }

echo "1..14"

# -- make install into a DESTDIR ---------------------------------------------
check "make install DESTDIR=... PREFIX=$P" mk "$@" PREFIX=$P DESTDIR="$D" install
cp "$tmp/log" "$tmp/install.log"

have_trace=
[ -x "$build/tools/mmsync-trace" ] && have_trace=yes
files_present() {
	for f in include/mmsync.h lib/libmmsync.so.0.1.0 lib/libmmsync.a \
		lib/pkgconfig/libmmsync.pc bin/mmsync share/man/man1/mmsync.1 \
		share/man/man7/mmsync.7 ${have_trace:+bin/mmsync-trace share/man/man1/mmsync-trace.1}; do
		[ -f "$D$P/$f" ] || { echo "missing $P/$f"; return 1; }
	done
	for l in libmmsync.so.0 libmmsync.so; do
		[ "$(readlink "$D$P/lib/$l")" = libmmsync.so.0.1.0 ] ||
			{ echo "$l is not a link to libmmsync.so.0.1.0"; return 1; }
	done
	for p in "$src"/man/man3/*.3; do
		[ -f "$D$P/share/man/man3/$(basename "$p")" ] || { echo "missing man3/$(basename "$p")"; return 1; }
	done
	# Every .so alias points at a page that is there.
	for p in "$D$P"/share/man/man3/*.3; do
		t=$(sed -n 's/^\.so[[:space:]]*//p' "$p")
		[ -z "$t" ] || [ -f "$D$P/share/man/$t" ] || { echo "$p: .so $t is missing"; return 1; }
	done
}
check "library, header, .pc, tools and every man page are installed" files_present

no_ldconfig_staged() {
	! grep -qi ldconfig "$tmp/install.log" &&
		! mk "$@" DESTDIR="$D" -n install | grep -q ldconfig
}
ldconfig_live() {
	# As root into the live system, install runs ldconfig (dry run).
	mk "$@" -n install | grep -q ldconfig
}
check "no ldconfig when staging into a DESTDIR" no_ldconfig_staged "$@"
if [ "$(id -u)" = 0 ]; then
	check "ldconfig when installing as root to the live system" ldconfig_live "$@"
else
	skip "ldconfig when installing as root to the live system" "not root"
fi

pc_paths() {
	grep -qx "prefix=$P" "$D$P/lib/pkgconfig/libmmsync.pc" &&
		grep -qx "libdir=$P/lib" "$D$P/lib/pkgconfig/libmmsync.pc" &&
		! grep -q "$D" "$D$P/lib/pkgconfig/libmmsync.pc" &&
		! grep -q "$build" "$D$P/lib/pkgconfig/libmmsync.pc"
}
check "the .pc file names the final paths, not DESTDIR or the build tree" pc_paths

no_rpath() {
	for f in "$D$P"/bin/* "$D$P"/lib/libmmsync.so.0.1.0; do
		if readelf -d "$f" | grep -E 'RPATH|RUNPATH'; then
			echo "$f has an rpath"
			return 1
		fi
	done
}
if has readelf; then
	check "no rpath in anything installed" no_rpath
else
	skip "no rpath in anything installed" "no readelf (binutils)"
fi

# -- an outside program, built with pkg-config against the DESTDIR ------------
cat >"$tmp/prog.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <mmsync.h>

int main(int argc, char **argv)
{
	struct mmsync_writer *w;
	struct mmsync_reader *r;
	struct mmsync_view v;
	const char msg[] = "hello from outside";
	Dl_info dl;
	int ok;

	if (mmsync_writer_open(argv[1], NULL, &w) ||
	    mmsync_publish(w, msg, sizeof(msg), NULL) ||
	    mmsync_reader_open(argv[1], NULL, &r) || mmsync_read_begin(r, &v))
		return 1;
	ok = v.size == sizeof(msg) && !memcmp(v.data, msg, v.size) &&
	     v.gen == 1 && mmsync_read_end(r, &v) == 0;
	mmsync_reader_close(r);
	mmsync_writer_close(w);
	mmsync_unlink(argv[1]);
	/* Which libmmsync this is: the DESTDIR's, not one of the system. */
	if (!dladdr((void *)mmsync_writer_open, &dl))
		return 1;
	printf("%s %s\n", ok ? "ok" : "bad", dl.dli_fname);
	return !ok;
}
EOF
pc() {
	PKG_CONFIG_SYSROOT_DIR=$D PKG_CONFIG_LIBDIR=$D$P/lib/pkgconfig pkg-config "$@" libmmsync
}
chan=$tmp/chan
outside_shared() {
	# shellcheck disable=SC2046
	$cc $san -o "$tmp/prog" "$tmp/prog.c" $(pc --cflags --libs) -ldl &&
		LD_LIBRARY_PATH=$D$P/lib "$tmp/prog" "$chan" >"$tmp/prog.out" &&
		cat "$tmp/prog.out" &&
		grep -q "^ok $D$P/lib/libmmsync.so" "$tmp/prog.out"
}
outside_static() {
	libs=$(pc --static --libs-only-l | sed 's/-lmmsync//')
	# shellcheck disable=SC2046
	$cc $san -o "$tmp/prog-static" "$tmp/prog.c" $(pc --cflags) \
		"$D$P/lib/libmmsync.a" $libs -lpthread -ldl &&
		"$tmp/prog-static" "$chan" >"$tmp/prog.out" &&
		cat "$tmp/prog.out" &&
		grep -q "^ok $tmp/prog-static" "$tmp/prog.out"
}
if has pkg-config; then
	check "an outside program builds with pkg-config and runs on the DESTDIR's library" outside_shared
	check "the same, linked statically (pkg-config --static)" outside_static
else
	skip "an outside program builds with pkg-config" "no pkg-config"
	skip "the same, linked statically" "no pkg-config"
fi

# -- the installed tools ------------------------------------------------------
cli_installed() {
	mm=$D$P/bin/mmsync
	head -c 5000 /dev/urandom >"$tmp/in"
	LD_LIBRARY_PATH=$D$P/lib "$mm" put "$chan" "$tmp/in" &&
		LD_LIBRARY_PATH=$D$P/lib "$mm" cat "$chan" | cmp - "$tmp/in" &&
		LD_LIBRARY_PATH=$D$P/lib "$mm" rm "$chan" &&
		LD_LIBRARY_PATH=$D$P/lib LD_TRACE_LOADED_OBJECTS=1 "$mm" |
		grep "libmmsync.so.0 => $D$P/lib/"
}
check "the installed mmsync runs on the DESTDIR's library" cli_installed
cli_not_in_build() {
	# Without help it must not find this build's library.
	! LD_TRACE_LOADED_OBJECTS=1 "$D$P/bin/mmsync" | grep "$build"
}
check "the installed mmsync does not reach into the build tree" cli_not_in_build

# -- make uninstall -------------------------------------------------------------
nothing_left() {
	mk "$@" PREFIX=$P DESTDIR="$D" uninstall &&
		left=$(find "$D" ! -type d) &&
		{ [ -z "$left" ] || { echo "left behind: $left"; false; }; }
}
check "make uninstall removes everything it installed" nothing_left "$@"

# -- other directories ----------------------------------------------------------
D2=$tmp/root2
custom_dirs() {
	mk "$@" DESTDIR="$D2" PREFIX=/opt/mm LIBDIR=/opt/mm/lib64 \
		BINDIR=/opt/mm/sbin INCLUDEDIR=/opt/mm/inc MANDIR=/opt/mm/man install &&
		[ -f "$D2/opt/mm/lib64/libmmsync.so.0.1.0" ] &&
		[ -f "$D2/opt/mm/sbin/mmsync" ] && [ -f "$D2/opt/mm/inc/mmsync.h" ] &&
		[ -f "$D2/opt/mm/man/man3/mmsync_publish.3" ] &&
		grep -qx "libdir=/opt/mm/lib64" "$D2/opt/mm/lib64/pkgconfig/libmmsync.pc" &&
		grep -qx "includedir=/opt/mm/inc" "$D2/opt/mm/lib64/pkgconfig/libmmsync.pc" &&
		mk "$@" DESTDIR="$D2" PREFIX=/opt/mm LIBDIR=/opt/mm/lib64 \
			BINDIR=/opt/mm/sbin INCLUDEDIR=/opt/mm/inc MANDIR=/opt/mm/man uninstall &&
		[ -z "$(find "$D2" ! -type d)" ]
}
check "PREFIX, LIBDIR, BINDIR, INCLUDEDIR, MANDIR" custom_dirs "$@"

# -- the Debian symbols file matches what the library exports --------------------
symbols_match() {
	# name@VERSION of each, the version nodes as VERSION@VERSION.
	nm -D --defined-only "$build/libmmsync.so.0" | awk '{print $3}' |
		sed 's/@@*/@/; /@/!s/.*/&@&/' | sort >"$tmp/exported"
	sed -n 's/^ \([A-Za-z_0-9.]*@LIBMMSYNC_[0-9.]*\) .*/\1/p' \
		"$src/debian/libmmsync0.symbols" | sort >"$tmp/listed"
	diff "$tmp/exported" "$tmp/listed"
}
if [ ! -f "$src/debian/libmmsync0.symbols" ]; then
	skip "debian/libmmsync0.symbols lists every exported symbol" "no debian/"
elif ! has nm; then
	skip "debian/libmmsync0.symbols lists every exported symbol" "no nm (binutils)"
else
	check "debian/libmmsync0.symbols lists every exported symbol" symbols_match
fi

# -- the tracer's default target is this build's library --------------------------
trace_target() {
	"$build/tools/mmsync-trace" --list >"$tmp/list" 2>&1 || true
	cat "$tmp/list"
	grep -q "$(cd "$build" && pwd -P)/libmmsync.so" "$tmp/list"
}
if [ -n "$have_trace" ]; then
	check "mmsync-trace traces this build's library by default" trace_target
else
	skip "mmsync-trace traces this build's library by default" "mmsync-trace not built"
fi

[ "$fails" -eq 0 ]
