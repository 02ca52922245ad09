#!/bin/sh
# deps.sh - make sure the build has what it needs, on a fresh Debian 12.
#
#   scripts/deps.sh BUILD_DIR [bench]
#
# Installs missing Debian packages (as root, with apt-get) and extracts the
# kselftest harness (GPL-2.0, tests only, never committed) from Debian's
# linux-source-6.12 into BUILD_DIR/kselftest. The extracted headers are also
# cached in ${XDG_CACHE_HOME:-~/.cache}/mmsync so a fresh clone skips the
# 10-20 s extraction.
set -eu

build=${1:-build}
what=${2:-}
pkgs="gcc g++ make pkg-config libxxhash-dev liburing-dev libbpf-dev libelf-dev zlib1g-dev systemtap-sdt-dev linux-source-6.12 xz-utils strace clang llvm bpftool bpftrace valgrind spin"
[ "$what" = bench ] && pkgs="$pkgs liblmdb-dev liburcu-dev gnuplot-nox"

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing Debian packages:$missing (run as root, or install them)" >&2
		exit 1
	fi
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq $missing >/dev/null
fi

ks="$build/kselftest"
cache="${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/mmsync/kselftest-6.12"
if [ ! -f "$ks/kselftest_harness.h" ]; then
	mkdir -p "$ks"
	if [ ! -f "$cache/kselftest_harness.h" ]; then
		tarball=$(ls /usr/src/linux-source-6.12*.tar.* 2>/dev/null | head -n1)
		if [ -z "$tarball" ]; then
			echo "deps: no /usr/src/linux-source-6.12 tarball" >&2
			exit 1
		fi
		echo "deps: extracting the kselftest harness from $tarball"
		tmp=$(mktemp -d)
		tar -xf "$tarball" -C "$tmp" --wildcards \
			'*/tools/testing/selftests/kselftest.h' \
			'*/tools/testing/selftests/kselftest_harness.h'
		mkdir -p "$cache"
		cp "$tmp"/*/tools/testing/selftests/kselftest.h \
		   "$tmp"/*/tools/testing/selftests/kselftest_harness.h "$cache/"
		rm -rf "$tmp"
	fi
	cp "$cache/kselftest.h" "$cache/kselftest_harness.h" "$ks/"
fi
