#!/bin/sh
# run.sh - the Python binding's pytest suite as one kselftest/TAP program.
#
# build/<variant>/tests/python (written by python/python.mk) sets the
# MMSYNC_PY_* variables of its build variant and runs this; tests/run.sh
# runs that wrapper in `make check`. Extra arguments go to pytest:
#
#   build/default/tests/python -k view -x
#
# The suite imports the package from the variant's build directory and
# the library from next to it (rpath, and LD_LIBRARY_PATH for good
# measure); test_build.py fails if either came from anywhere else. Every
# run is under `python3 -X dev` (debug memory hooks, warnings shown). With
# SANITIZE=address the ASan runtime is preloaded into the (uninstrumented)
# interpreter, with PYTHONMALLOC=debug (python_malloc: malloc_debug, so
# that ASan sees every Python object), and any sanitizer report aborts.
set -u
here=$(cd "$(dirname "$0")" && pwd)

skip() {
	echo "1..1"
	echo "ok 1 python # SKIP $*"
	exit 0
}

[ -n "${MMSYNC_PY_SKIP:-}" ] && skip "$MMSYNC_PY_SKIP"
py=${MMSYNC_PY_PYTHON:-python3}
command -v "$py" >/dev/null 2>&1 || skip "no $py"
"$py" -c 'import pytest' 2>/dev/null ||
	skip "no pytest for $py (Debian: python3-pytest)"

PYTHONPATH="$MMSYNC_PY_PATH:$here"
LD_LIBRARY_PATH="$MMSYNC_PY_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH LD_LIBRARY_PATH PYTHONDONTWRITEBYTECODE
case "${MMSYNC_PY_SANITIZE:-}" in
*address*)
	LD_PRELOAD="$MMSYNC_PY_PRELOAD${LD_PRELOAD:+:$LD_PRELOAD}"
	# The interpreter's own allocations at exit are not leaks of ours.
	ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:${ASAN_OPTIONS:-}"
	PYTHONMALLOC=${MMSYNC_PY_MALLOC:-debug}
	export LD_PRELOAD ASAN_OPTIONS PYTHONMALLOC
	;;
esac
case "${MMSYNC_PY_SANITIZE:-}" in
*undefined*)
	UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"
	export UBSAN_OPTIONS
	;;
esac

cd "$here/.." || exit 1
exec "$py" -X dev -m pytest -p tap_plugin -p no:terminal tests "$@"
