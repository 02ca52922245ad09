#!/bin/sh
# deps.sh - what the build and the tests need, and where it is missing,
# how to get it.
#
#   scripts/deps.sh BUILD_DIR [build|check|harness|bench]
#
#   build    the library, examples and tools (`make`, `make demo`)
#   check    build + what the tests use, and the kselftest harness
#            (`make check`; the default)
#   harness  only the kselftest harness
#   bench    check + what the benchmarks compare against
#
# Each need is checked by the thing itself (the command, the header, the
# file), never by a package database alone, so what is here is never
# reported missing, however it was installed.
#
# On a fresh Debian as root, missing packages are installed with apt-get:
# the README's `make demo` and `make check` promise that to a newcomer.
# Nothing is installed, only listed with the command that would, when
# DEB_BUILD_OPTIONS is set (a package build), MMSYNC_NO_DEPS=1, not root,
# or there is no apt-get/dpkg-query (not Debian). Then a missing required
# need fails; a missing optional one only means skipped parts.
#
# The kselftest harness (GPL-2.0, tests only, never committed) is extracted
# from Debian's linux-source-6.12 into BUILD_DIR/kselftest, and cached in
# ${XDG_CACHE_HOME:-~/.cache}/mmsync so that a fresh clone skips the 10-20 s
# extraction.
set -eu

build=${1:-build}
mode=${2:-check}
case $mode in
build | check | harness | bench) ;;
*)
	echo "usage: scripts/deps.sh BUILD_DIR [build|check|harness|bench]" >&2
	exit 2
	;;
esac
cc=${CC:-cc}
ks="$build/kselftest"
cache="${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/mmsync/kselftest-6.12"

# The needs: KIND WHAT PACKAGE MODES LEVEL, one a line.
#   KIND   cmd (a command), hdr (a C header), src (the harness source)
#   MODES  the modes that need it: b(uild) c(heck) h(arness) B(ench)
#   LEVEL  req: the mode fails without it; opt: parts are skipped
needs='
cmd cc           gcc                bcB   req
cmd make         make               bcB   req
hdr xxhash.h     libxxhash-dev      bcB   req
hdr liburing.h   liburing-dev       bcB   req
hdr sys/sdt.h    systemtap-sdt-dev  bcB   opt
cmd clang        clang              bcB   opt
cmd llvm-strip   llvm               bcB   opt
cmd bpftool      bpftool            bcB   opt
hdr bpf/libbpf.h libbpf-dev         bcB   opt
hdr gelf.h       libelf-dev         bcB   opt
hdr zlib.h       zlib1g-dev         bcB   opt
cmd c++          g++                cB    req
cmd pkg-config   pkg-config         cB    opt
cmd xz           xz-utils           chB   req
src kselftest    linux-source-6.12  chB   req
cmd strace       strace             cB    opt
cmd bpftrace     bpftrace           cB    opt
cmd valgrind     valgrind           cB    opt
cmd spin         spin               cB    opt
hdr lmdb.h       liblmdb-dev        B     opt
hdr urcu.h       liburcu-dev        B     opt
cmd gnuplot      gnuplot-nox        B     opt
'

letter() {
	case $mode in
	build) echo b ;;
	check) echo c ;;
	harness) echo h ;;
	bench) echo B ;;
	esac
}

harness_source() {
	ls /usr/src/linux-source-6.12*.tar.* 2>/dev/null | head -n1
}

present() { # KIND WHAT
	case $1 in
	cmd)
		[ "$2" != c++ ] || set -- cmd "${CXX:-g++}"
		command -v "$2" >/dev/null 2>&1 ||
			{ [ "$2" = bpftool ] && [ -x /usr/sbin/bpftool ]; }
		;;
	hdr)
		# The compiler knows where its headers are; without one, the
		# usual places (it is reported missing itself).
		if command -v "$cc" >/dev/null 2>&1; then
			echo "#include <$2>" | "$cc" $CPPFLAGS_ -E -x c - >/dev/null 2>&1
		else
			for d in /usr/local/include /usr/include /usr/include/*; do
				[ -f "$d/$2" ] && return 0
			done
			return 1
		fi
		;;
	src)
		[ -f "$ks/kselftest_harness.h" ] || [ -f "$cache/kselftest_harness.h" ] ||
			[ -n "$(harness_source)" ]
		;;
	esac
}
CPPFLAGS_=${CPPFLAGS:-}

# Prints "LEVEL WHAT PACKAGE" for each need of this mode that is missing.
missing() {
	l=$(letter)
	echo "$needs" | while read -r kind what pkg modes level; do
		[ -n "$kind" ] || continue
		case $modes in *"$l"*) ;; *) continue ;; esac
		present "$kind" "$what" || echo "$level $what $pkg"
	done
}

why_not_install() {
	if [ -n "${DEB_BUILD_OPTIONS+set}" ]; then
		echo "a package build (DEB_BUILD_OPTIONS is set)"
	elif [ "${MMSYNC_NO_DEPS:-0}" = 1 ]; then
		echo "MMSYNC_NO_DEPS=1"
	elif [ "$(id -u)" != 0 ]; then
		echo "not root"
	elif ! command -v apt-get >/dev/null 2>&1 ||
		! command -v dpkg-query >/dev/null 2>&1; then
		echo "no apt-get/dpkg-query: not a Debian system"
	fi
}

list=$(missing)
if [ -n "$list" ]; then
	pkgs=$(echo "$list" | awk '{print $3}' | sort -u | tr '\n' ' ')
	reason=$(why_not_install)
	if [ -z "$reason" ]; then
		echo "deps: installing $pkgs"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >/dev/null
		# shellcheck disable=SC2086
		apt-get install -y -qq $pkgs >/dev/null
		list=$(missing)
	fi
	if [ -n "$list" ]; then
		req=$(echo "$list" | awk '$1 == "req" {print $2}' | tr '\n' ' ')
		opt=$(echo "$list" | awk '$1 == "opt" {print $2}' | tr '\n' ' ')
		pkgs=$(echo "$list" | awk '{print $3}' | sort -u | tr '\n' ' ')
		case $mode in
		build) what="make" ;;
		check) what="make check" ;;
		harness) what="the tests" ;;
		bench) what="make bench" ;;
		esac
		[ -z "$req" ] || echo "deps: missing, needed for $what: $req" >&2
		[ -z "$opt" ] || echo "deps: missing, those parts are skipped: $opt" >&2
		if command -v dpkg-query >/dev/null 2>&1; then
			echo "deps: to install them: apt-get install $pkgs" >&2
		else
			echo "deps: their Debian packages: $pkgs (or your system's equivalents)" >&2
		fi
		[ -z "$reason" ] || echo "deps: not installing them: $reason" >&2
		[ -z "$req" ] || exit 1
	fi
fi

[ "$mode" = build ] && exit 0
if [ ! -f "$ks/kselftest_harness.h" ]; then
	mkdir -p "$ks"
	if [ ! -f "$cache/kselftest_harness.h" ]; then
		tarball=$(harness_source)
		if [ -z "$tarball" ]; then
			echo "deps: no /usr/src/linux-source-6.12 tarball for the kselftest harness" >&2
			exit 1
		fi
		echo "deps: extracting the kselftest harness from $tarball"
		tmp=$(mktemp -d)
		tar -xf "$tarball" -C "$tmp" --wildcards \
			'*/tools/testing/selftests/kselftest.h' \
			'*/tools/testing/selftests/kselftest_harness.h'
		if mkdir -p "$cache" 2>/dev/null &&
			cp "$tmp"/*/tools/testing/selftests/kselftest.h \
				"$tmp"/*/tools/testing/selftests/kselftest_harness.h "$cache/" 2>/dev/null; then
			cp "$cache/kselftest.h" "$cache/kselftest_harness.h" "$ks/"
		else
			# No writable cache (a package build's HOME): straight in.
			cp "$tmp"/*/tools/testing/selftests/kselftest.h \
				"$tmp"/*/tools/testing/selftests/kselftest_harness.h "$ks/"
		fi
		rm -rf "$tmp"
	else
		cp "$cache/kselftest.h" "$cache/kselftest_harness.h" "$ks/"
	fi
fi
