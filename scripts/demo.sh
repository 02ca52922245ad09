#!/bin/sh
# demo.sh - `make demo`: the hello-world writer, the reader, and
# `mmsync verify` on the channel they share.
#
#   scripts/demo.sh BUILD_DIR
#
# The channel lives in $MMSYNC_DIR when it is set (the files stay there to
# look at afterwards), else in a private directory under /dev/shm that is
# removed at the end: files another program (or an older format) left in
# /dev/shm are never touched, and a writer refuses to continue files that
# are not a valid channel (-EBADMSG) rather than overwrite them.
set -eu

out=${1:?usage: scripts/demo.sh BUILD_DIR}
if [ -z "${MMSYNC_DIR:-}" ]; then
	MMSYNC_DIR=$(mktemp -d "${TMPDIR_SHM:-/dev/shm}/mmsync-demo.XXXXXX")
	trap 'rm -rf "$MMSYNC_DIR"' EXIT
	trap 'exit 1' HUP INT TERM
fi
export MMSYNC_DIR

"$out/examples/writer"
"$out/examples/reader"
"$out/tools/mmsync" verify mmsync_hello
