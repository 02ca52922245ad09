#!/bin/sh
# deps.sh (test) - scripts/deps.sh decides right whether to install, and
# never calls present what is here nor missing what is; TAP for tests/run.sh.
#
#   tests/deps.sh SRCDIR
#
# apt-get and dpkg-query are replaced by fakes first on $PATH: apt-get
# logs its arguments (and installs nothing), dpkg-query knows no package,
# so a checker that trusted it would call everything missing.
set -u
src=$1
deps=$src/scripts/deps.sh
# Each case sets what it means; a package build running this test has
# them set already.
unset DEB_BUILD_OPTIONS MMSYNC_NO_DEPS CPPFLAGS CC CXX
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mmsync-test-deps.XXXXXX")
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n $*"; }
fail() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n $*"; }
skip() { n=$((n + 1)); echo "ok $n $1 # SKIP $2"; }

fake=$tmp/fake
mkdir "$fake"
cat >"$fake/apt-get" <<EOF
#!/bin/sh
echo "\$*" >>"$tmp/apt.log"
exit 0
EOF
cat >"$fake/dpkg-query" <<'EOF'
#!/bin/sh
echo "dpkg-query: no packages found" >&2
exit 1
EOF
chmod 755 "$fake/apt-get" "$fake/dpkg-query"

# A $PATH with the fakes and what deps.sh itself runs, but none of the
# optional tools: they must be reported missing (and only they).
bare=$tmp/bare
mkdir "$bare"
for c in sh cat awk sort tr ls head id mkdir cp rm tar mktemp cc gcc make \
	dirname basename sed grep; do
	p=$(command -v "$c") && ln -s "$p" "$bare/$c"
done
ln -s "$fake/apt-get" "$bare/apt-get"
ln -s "$fake/dpkg-query" "$bare/dpkg-query"

# run NAME ENV...: deps.sh build mode, output in $tmp/NAME.out, status in rc.
run() {
	name=$1
	shift
	rm -f "$tmp/apt.log"
	rc=0
	env "$@" sh "$deps" "$tmp/build" build >"$tmp/$name.out" 2>&1 || rc=$?
}
apt_ran() { [ -s "$tmp/apt.log" ]; }

echo "1..8"

# Everything present (this machine builds): nothing to say, nothing to run.
run present PATH="$fake:$PATH" MMSYNC_NO_DEPS=
if [ "$rc" = 0 ] && [ ! -s "$tmp/present.out" ] && ! apt_ran; then
	ok "what is here is not missing, though dpkg-query knows no package"
else
	sed 's/^/#   /' "$tmp/present.out"
	fail "a complete system: rc $rc, apt-get ran: $(apt_ran && echo yes || echo no)"
fi

# Optional tools gone: listed as skipped parts, build still goes on.
for how in DEB_BUILD_OPTIONS=nocheck MMSYNC_NO_DEPS=1; do
	run nodeps PATH="$bare" "$how"
	if [ "$rc" = 0 ] && ! apt_ran &&
		grep -q 'missing, those parts are skipped:.* clang' "$tmp/nodeps.out" &&
		grep -q 'apt-get install .*clang' "$tmp/nodeps.out" &&
		grep -q "not installing them" "$tmp/nodeps.out" &&
		! grep -qE '(:| )(cc|make|xxhash.h|liburing.h)( |$)' "$tmp/nodeps.out"; then
		ok "$how: lists what is missing and how to install it, runs no apt-get"
	else
		sed 's/^/#   /' "$tmp/nodeps.out"
		fail "$how: rc $rc, apt-get ran: $(apt_ran && echo yes || echo no)"
	fi
done

# Not root: the same, whatever else is set.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	rm -f "$tmp/apt.log"
	rc=0
	setpriv --reuid=65534 --regid=65534 --clear-groups env PATH="$bare" HOME="$tmp" \
		sh "$deps" "$tmp/nobody" build >"$tmp/user.out" 2>&1 || rc=$?
	if [ "$rc" = 0 ] && ! apt_ran && grep -q "not installing them: not root" "$tmp/user.out"; then
		ok "not root: lists, runs no apt-get"
	else
		sed 's/^/#   /' "$tmp/user.out"
		fail "not root: rc $rc, apt-get ran: $(apt_ran && echo yes || echo no)"
	fi
else
	skip "not root: lists, runs no apt-get" "needs root and setpriv to become another user"
fi

# No Debian tools at all: Debian package names, no apt command.
rm "$bare/apt-get" "$bare/dpkg-query"
run foreign PATH="$bare"
if [ "$rc" = 0 ] && ! apt_ran && grep -q 'not a Debian system' "$tmp/foreign.out" &&
	grep -q 'their Debian packages: .*clang' "$tmp/foreign.out"; then
	ok "not Debian: names the packages, runs nothing"
else
	sed 's/^/#   /' "$tmp/foreign.out"
	fail "not Debian: rc $rc"
fi
ln -s "$fake/apt-get" "$bare/apt-get"
ln -s "$fake/dpkg-query" "$bare/dpkg-query"

# Root on Debian, nothing said against it: the README's promise, apt-get
# installs what is missing, and only that.
if [ "$(id -u)" = 0 ]; then
	run root PATH="$bare"
	if apt_ran && grep -q '^install -y -qq .*clang' "$tmp/apt.log" &&
		! grep -qwE 'gcc|make|libxxhash-dev|liburing-dev' "$tmp/apt.log"; then
		ok "root on Debian: apt-get installs only what is missing"
	else
		sed 's/^/#   /' "$tmp/root.out" "$tmp/apt.log" 2>/dev/null
		fail "root on Debian: apt-get $(apt_ran && echo "ran: $(cat "$tmp/apt.log")" || echo "did not run")"
	fi
else
	skip "root on Debian: apt-get installs what is missing" "not root"
fi

# A required need missing fails, with the command that fixes it.
mkdir "$tmp/nocc"
for c in "$bare"/*; do
	case ${c##*/} in cc | gcc) ;; *) ln -s "$(readlink "$c")" "$tmp/nocc/${c##*/}" ;; esac
done
run nocc PATH="$tmp/nocc" MMSYNC_NO_DEPS=1
if [ "$rc" = 1 ] && ! apt_ran && grep -q 'missing, needed for make: cc $' "$tmp/nocc.out" &&
	grep -q 'apt-get install .*gcc' "$tmp/nocc.out"; then
	ok "a missing compiler fails the build, with the fix"
else
	sed 's/^/#   /' "$tmp/nocc.out"
	fail "no compiler: rc $rc"
fi

# Headers are looked for by the compiler, through CPPFLAGS too: one that
# sees only CPPFLAGS' directories finds the stand-ins there, and misses
# the others.
mkdir -p "$tmp/inc" "$tmp/cc"
echo '/* a stand-in */' >"$tmp/inc/xxhash.h"
echo '/* a stand-in */' >"$tmp/inc/liburing.h"
printf '#!/bin/sh\nexec gcc -nostdinc "$@"\n' >"$tmp/cc/cc"
chmod 755 "$tmp/cc/cc"
run cppflags PATH="$tmp/cc:$fake:$PATH" MMSYNC_NO_DEPS=1 CPPFLAGS="-I$tmp/inc"
if [ "$rc" = 0 ] && ! grep -qE 'xxhash.h|liburing.h' "$tmp/cppflags.out" &&
	grep -q 'sys/sdt.h' "$tmp/cppflags.out"; then
	ok "headers are found by the compiler, through CPPFLAGS"
else
	sed 's/^/#   /' "$tmp/cppflags.out"
	fail "CPPFLAGS: rc $rc"
fi

[ "$fails" -eq 0 ]
