#!/bin/sh
# tap.sh - the Rust crate's checks, as TAP for tests/run.sh (rust/rust.mk
# installs a stub in $(OUT)/tests that calls it).
#
#   rust/tap.sh OUT [SANITIZE]
#
# OUT is the build variant's directory (build/default): the crate links
# its libmmsync.a, so the tests run against this checkout's library and
# never an installed one. One TAP line per Rust test (unit, integration,
# doc), then one per check: the bench smoke run, the empty default
# dependency graph, the compat feature (with Debian's rkyv), clippy, fmt,
# and the dynamic and pkg-config link modes. Each skips with its reason
# when its tool is missing. Cargo runs offline.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
out=$(cd "$1" && pwd)
san=${2:-}
PATH=$PATH:${HOME:-/root}/.cargo/bin
export PATH CARGO_TERM_COLOR=never CARGO_TARGET_DIR="$out/cargo"
export MMSYNC_LIB_DIR="$out" MMSYNC_INCLUDE_DIR="$top/include" MMSYNC_STATIC=1
unset MMSYNC_PKG_CONFIG MMSYNC_SANITIZE RUSTFLAGS RUSTDOCFLAGS
debian=/usr/share/cargo/registry

work=$(mktemp -d "${TMPDIR:-/tmp}/mmsync-rust-tap.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
export MMSYNC_RS_SKIPS="$work/skips"
: >"$MMSYNC_RS_SKIPS"
results="$work/results"
: >"$results"
n=0

# result ok|not-ok NAME [# SKIP reason]
result() {
	n=$((n + 1))
	if [ "$1" = ok ]; then
		echo "ok $n $2" >>"$results"
	else
		echo "not ok $n $2" >>"$results"
	fi
}

# Last lines of a failed step's log, as TAP comments.
show() {
	tail -n "${2:-30}" "$1" | sed 's/^/# /' >>"$results"
}

# check NAME CMD...: one TAP line for a command.
check() {
	name=$1
	shift
	log="$work/log.$n"
	if (cd "$here" && "$@") >"$log" 2>&1; then
		result ok "$name"
	else
		result not-ok "$name"
		show "$log"
	fi
}

skip() {
	result ok "$1 # SKIP $2"
}

# cargo_test LABEL ARGS...: `cargo test ARGS`, one TAP line per test.
cargo_test() {
	label=$1
	shift
	log="$work/log.$n"
	(cd "$here" && cargo test "$@") >"$log" 2>&1
	rc=$?
	bin=
	while IFS= read -r line; do
		case "$line" in
		"     Running unittests "*) bin=lib ;;
		"     Running tests/"*)
			bin=${line#     Running tests/}
			bin=${bin%%.rs*}
			;;
		"   Doc-tests "*) bin=doc ;;
		"test "*" ... ok" | "test "*" ... FAILED" | "test "*" ... ignored")
			t=${line#test }
			t=${t% ... *}
			st=${line##* ... }
			reason=$(awk -F '\t' -v t="$t" '$1 == t { print $2; exit }' \
				"$MMSYNC_RS_SKIPS")
			if [ "$st" = FAILED ]; then
				result not-ok "$bin: $t"
			elif [ "$st" = ignored ]; then
				skip "$bin: $t" "#[ignore]"
			elif [ -n "$reason" ]; then
				skip "$bin: $t" "$reason"
			else
				result ok "$bin: $t"
			fi
			;;
		esac
	done <"$log"
	if [ $rc -eq 0 ]; then
		result ok "cargo test $label"
	else
		result not-ok "cargo test $label (exit $rc)"
		show "$log" 60
	fi
}

have_compat() {
	ls -d "$debian"/rkyv-0.7.* "$debian"/bytecheck-0.6.* >/dev/null 2>&1
}
compat_cfg="--features mmap-sync-compat --config debian-registry.toml"
no_compat="Debian's rkyv 0.7 / bytecheck 0.6 (librust-rkyv-dev) are not in $debian"

# The default dependency graph is this crate alone.
only_mmsync() {
	cargo tree -e all --prefix none >"$work/tree" &&
		cat "$work/tree" &&
		[ "$(grep -vc '^mmsync v' "$work/tree")" -eq 0 ]
}

# Without Debian's crates the compat feature meets the placeholders of
# registry/ and must say so, not build.
placeholder_refuses() {
	! cargo check --features mmap-sync-compat >"$work/ph" 2>&1 &&
		grep -q 'is a placeholder' "$work/ph"
}

# The in-repo build links libmmsync statically: no test binary needs
# libmmsync.so, so none can load an installed one.
static_tests() {
	found=0
	for b in "$CARGO_TARGET_DIR"/debug/deps/api-* "$CARGO_TARGET_DIR"/debug/deps/interop-*; do
		[ -x "$b" ] || continue
		found=1
		readelf -d "$b" | grep NEEDED
		if readelf -d "$b" | grep -q 'libmmsync'; then
			return 1
		fi
	done
	[ $found -eq 1 ]
}

# A dynamic build from MMSYNC_LIB_DIR: NEEDED libmmsync.so.0, RUNPATH to
# that directory, and the examples run (the writer's snapshot is read).
dynamic_link() {
	chan="$work/chan"
	mkdir -p "$chan"
	MMSYNC_STATIC=0 CARGO_TARGET_DIR="$out/cargo-dylib" \
		cargo build --example writer --example reader || return 1
	b="$out/cargo-dylib/debug/examples"
	readelf -d "$b/reader" | grep -E 'NEEDED|RUNPATH|RPATH'
	readelf -d "$b/reader" | grep -q 'NEEDED.*libmmsync\.so\.0' || return 1
	readelf -d "$b/reader" | grep -q "R.*PATH.*$out" || return 1
	MMSYNC_DIR="$chan" "$b/writer" && MMSYNC_DIR="$chan" "$b/reader"
}

# pkg-config against a staged `make install`: dynamic, then static.
pkg_config_link() {
	stage="$work/stage"
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$top" \
		--no-print-directory install DESTDIR="$stage" PREFIX=/usr \
		>/dev/null || return 1
	chan="$work/chan-pc"
	mkdir -p "$chan"
	for mode in 0 1; do
		env -u MMSYNC_LIB_DIR -u MMSYNC_INCLUDE_DIR MMSYNC_PKG_CONFIG=1 \
			MMSYNC_STATIC=$mode \
			PKG_CONFIG_PATH="$stage/usr/lib/pkgconfig" \
			PKG_CONFIG_SYSROOT_DIR="$stage" \
			CARGO_TARGET_DIR="$out/cargo-pc$mode" \
			cargo build --example writer --example reader || return 1
		b="$out/cargo-pc$mode/debug/examples"
		readelf -d "$b/reader" | grep NEEDED
		if [ $mode = 0 ]; then
			readelf -d "$b/reader" | grep -q 'NEEDED.*libmmsync' || return 1
		elif readelf -d "$b/reader" | grep -q 'NEEDED.*libmmsync'; then
			return 1
		fi
		LD_LIBRARY_PATH="$stage/usr/lib" MMSYNC_DIR="$chan" "$b/writer" &&
			LD_LIBRARY_PATH="$stage/usr/lib" MMSYNC_DIR="$chan" \
				"$b/reader" || return 1
	done
}

# The Rust writer's snapshot is the C reader's struct, and back.
hello_examples() {
	chan="$work/chan-hello"
	mkdir -p "$chan"
	c="$out/examples" r="$CARGO_TARGET_DIR/debug/examples"
	[ -x "$c/reader" ] && [ -x "$r/writer" ] || return 1
	MMSYNC_DIR="$chan" "$r/writer" && MMSYNC_DIR="$chan" "$c/reader" &&
		MMSYNC_DIR="$chan" "$c/writer" && MMSYNC_DIR="$chan" "$r/reader"
}

if ! command -v cargo >/dev/null 2>&1; then
	echo "1..1"
	echo "ok 1 rust # SKIP cargo not found (rustup's ~/.cargo/bin or Debian's cargo)"
	exit 0
fi
# A cargo that is there but cannot run (rustup's proxy with a HOME that is
# not the one it was installed in, as in a package build): not usable.
if ! cargo --version >/dev/null 2>&1; then
	echo "1..1"
	echo "ok 1 rust # SKIP cargo does not run here (rustup without its toolchain for this HOME?)"
	exit 0
fi
cargo --version | sed 's/^/# /'

case "$san" in
*thread*)
	echo "1..1"
	echo "ok 1 rust # SKIP SANITIZE=thread: the Rust tests use membarrier channels, whose fences TSan cannot see"
	exit 0
	;;
?*)
	# The C library of this variant is instrumented: link the sanitizer
	# runtimes into every Rust binary (statically, so that the
	# executable's interceptors come first, as gcc -static-libasan does;
	# rustc links with -nodefaultlibs, so -fsanitize alone adds nothing),
	# and into the C peer of tests/interop.rs (MMSYNC_SANITIZE).
	cc=${CC:-cc}
	flags=
	case ",$san," in *,address,*)
		flags="-C link-arg=-Wl,--whole-archive -C link-arg=$($cc -print-file-name=libasan.a) -C link-arg=-Wl,--no-whole-archive"
		;;
	esac
	case ",$san," in *,undefined,*)
		flags="$flags -C link-arg=$($cc -print-file-name=libubsan.a)"
		;;
	esac
	for l in stdc++ dl rt m pthread; do
		flags="$flags -C link-arg=-l$l"
	done
	export RUSTFLAGS="$flags" RUSTDOCFLAGS="$flags" MMSYNC_SANITIZE="$san"
	cargo_test "(SANITIZE=$san)"
	echo "1..$n"
	cat "$results"
	exit 0
	;;
esac

cargo_test "(default features)"
check "cargo test --benches (bench smoke run)" cargo test --benches
check "default build: dependency graph is mmsync alone" only_mmsync
check "in-repo build links libmmsync statically" static_tests
check "compat feature refuses the placeholder crates" placeholder_refuses
if have_compat; then
	# The compat test runs the example binaries: build them first
	# (`cargo test --examples` would build them as tests).
	# shellcheck disable=SC2086
	check "cargo build --examples (mmap-sync-compat)" \
		cargo build $compat_cfg --examples
	# shellcheck disable=SC2086
	cargo_test "(mmap-sync-compat)" $compat_cfg --lib --test compat
	# shellcheck disable=SC2086
	cargo_test "(mmap-sync-compat doc tests)" $compat_cfg --doc compat
else
	skip "cargo test --features mmap-sync-compat" "$no_compat"
fi
if cargo clippy --version >/dev/null 2>&1; then
	check "cargo clippy --all-targets -- -D warnings" \
		cargo clippy --all-targets -- -D warnings
	if have_compat; then
		# shellcheck disable=SC2086
		check "cargo clippy --all-targets (mmap-sync-compat) -- -D warnings" \
			cargo clippy --all-targets $compat_cfg -- -D warnings
	else
		skip "cargo clippy (mmap-sync-compat)" "$no_compat"
	fi
else
	skip "cargo clippy" "clippy is not installed (rustup component add clippy)"
fi
if cargo fmt --version >/dev/null 2>&1; then
	check "cargo fmt --check" cargo fmt --check
else
	skip "cargo fmt --check" "rustfmt is not installed (rustup component add rustfmt)"
fi
if command -v readelf >/dev/null 2>&1; then
	check "MMSYNC_LIB_DIR, dynamic: NEEDED libmmsync.so.0, RUNPATH, examples run" dynamic_link
else
	skip "dynamic link" "readelf not found"
fi
check "hello-world examples: Rust and C read each other" hello_examples
if command -v pkg-config >/dev/null 2>&1 && command -v readelf >/dev/null 2>&1; then
	check "pkg-config (staged make install), dynamic and static: examples run" pkg_config_link
else
	skip "pkg-config link" "pkg-config or readelf not found"
fi

echo "1..$n"
cat "$results"
