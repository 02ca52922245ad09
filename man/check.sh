#!/bin/sh
# check.sh - the man pages against the code, as TAP for tests/run.sh.
#
#   man/check.sh SRCDIR BUILDDIR
#
# - Every function the library exports (lib/libmmsync.map) or declares in
#   include/mmsync.h, inline ones included, has a section 3 page, and no
#   page is left for a function that is gone; the internal mmsync__* names
#   have none. A function added later without a page fails here.
# - A page names, in its NAME section, every function whose page it is
#   (aliases are .so links to it).
# - groff -man -ww -z says nothing about any page.
# - Every mmsync page that SEE ALSO names exists.
# - mmsync(1) has a section for every command `mmsync --help` lists and
#   names every long option of each command; mmsync-trace(1) every option
#   of mmsync-trace --help (where it was built).
set -u
src=$1
build=$2
man=$src/man
n=0
fails=0

ok() { n=$((n + 1)); echo "ok $n $*"; }
fail() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n $*"; }
skip() { n=$((n + 1)); echo "ok $n $1 # SKIP $2"; }

# The public functions: the version script's globals and the header's
# declarations (MMSYNC_API or static inline), without the mmsync__ ones.
funcs=$( {
	sed -n 's/^[[:space:]]*\(mmsync_[a-z0-9_]*\);.*/\1/p' "$src/lib/libmmsync.map"
	tr '\n' ' ' <"$src/include/mmsync.h" |
		sed 's/__attribute__((\([a-z_]*\)))//g' |
		grep -oE '(MMSYNC_API|static inline)[^;{}()]*[^a-z0-9_]mmsync_[a-z0-9_]+ *\(' |
		grep -oE 'mmsync_[a-z0-9_]+ *\($' | tr -d ' ('
} | grep -v '^mmsync__' | sort -u)

# Where a page's text is: itself, or the target of its .so line.
target() {
	t=$(sed -n 's/^\.so[[:space:]]*//p' "$1" | head -n1)
	if [ -n "$t" ]; then echo "$man/$t"; else echo "$1"; fi
}
# The names in a page's NAME section.
names() {
	sed -n '/^\.SH NAME/,/^\.SH/p' "$1" | sed '1d;$d' | sed 's/\\-.*//' |
		tr ',' '\n' | tr -d ' ' | grep .
}

echo "1..$(($(echo "$funcs" | wc -l) + 7))"

for f in $funcs; do
	p=$man/man3/$f.3
	if [ ! -f "$p" ]; then
		fail "$f(3): no man/man3/$f.3"
		continue
	fi
	t=$(target "$p")
	if [ ! -f "$t" ]; then
		fail "$f(3): .so target $t does not exist"
	elif ! names "$t" | grep -qx "$f"; then
		fail "$f(3): the NAME section of $(basename "$t") does not name it"
	else
		ok "$f(3)"
	fi
done

stale=""
for p in "$man"/man3/*.3; do
	b=$(basename "$p" .3)
	echo "$funcs" | grep -qx "$b" || stale="$stale $b"
done
if [ -z "$stale" ]; then
	ok "no page for a function that is not exported"
else
	fail "pages for functions the library does not have:$stale"
fi

internal=$(ls "$man"/man3 | grep '^mmsync__' || true)
if [ -z "$internal" ]; then
	ok "no page for the mmsync__ internals"
else
	fail "pages for internals: $internal"
fi

if ! command -v groff >/dev/null 2>&1; then
	skip "groff -man -ww -z" "groff is not installed"
else
	bad=""
	for p in "$man"/man[137]/*.[137]; do
		# .so paths are relative to the man directory.
		out=$(cd "$man" && groff -man -ww -z "${p#"$man"/}" 2>&1) || bad="$bad $(basename "$p")"
		[ -z "$out" ] || { bad="$bad $(basename "$p")"; echo "# $out"; }
	done
	if [ -z "$bad" ]; then ok "groff -man -ww -z: no warning"; else fail "groff warns about:$bad"; fi
fi

missing=""
for p in "$man"/man[137]/*.[137]; do
	for ref in $(grep -ohE '^\.BR mmsync[a-z0-9_\\-]* \([137]\)' "$p" |
		sed 's/^\.BR //; s/\\-/-/g; s/ (\(.\))/.\1/'); do
		sec=${ref##*.}
		[ -f "$man/man$sec/$ref" ] || missing="$missing $(basename "$p")->$ref"
	done
done
if [ -z "$missing" ]; then ok "every SEE ALSO page exists"; else fail "missing pages:$missing"; fi

cli=$build/tools/mmsync
if [ ! -x "$cli" ]; then
	skip "mmsync(1) covers every command" "$cli not built"
	skip "mmsync(1) covers every option" "$cli not built"
else
	verbs=$("$cli" --help | sed -n '/^COMMANDS:/,/^$/p' | sed '1d' | awk 'NF {print $1}')
	gone=""
	for v in $verbs; do
		grep -q "^\.SS $v\b" "$man/man1/mmsync.1" || gone="$gone $v"
	done
	if [ -n "$verbs" ] && [ -z "$gone" ]; then
		ok "mmsync(1) covers every command ($(echo $verbs))"
	else
		fail "mmsync(1) has no section for:$gone"
	fi
	gone=""
	for v in $verbs; do
		for o in $("$cli" "$v" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
			case $o in --help | --usage | --version) continue ;; esac
			pat=$(echo "$o" | sed 's/-/\\\\-/g')
			grep -q -- "$pat" "$man/man1/mmsync.1" || gone="$gone $v:$o"
		done
	done
	if [ -z "$gone" ]; then ok "mmsync(1) covers every option"; else fail "mmsync(1) does not name:$gone"; fi
fi

trace=$build/tools/mmsync-trace
if [ ! -x "$trace" ]; then
	skip "mmsync-trace(1) covers every option" "mmsync-trace not built"
else
	gone=""
	for o in $("$trace" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
		case $o in --help | --usage | --version) continue ;; esac
		pat=$(echo "$o" | sed 's/-/\\\\-/g')
		grep -q -- "$pat" "$man/man1/mmsync-trace.1" || gone="$gone $o"
	done
	if [ -z "$gone" ]; then ok "mmsync-trace(1) covers every option"; else fail "mmsync-trace(1) does not name:$gone"; fi
fi

[ "$fails" -eq 0 ]
