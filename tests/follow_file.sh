#!/bin/sh
# follow_file.sh - mmsync follow NAME FILE end to end, as TAP for
# tests/run.sh: every way a file gets replaced is seen, nothing is
# published half-written, nothing is polled.
#
#   tests/follow_file.sh BUILDDIR [TEST...]
#
# The followed files and the channels are in the test's private directory
# under /dev/shm (tests/follow_lib.sh runs each test in its own process).
set -u
self=$0
suite=follow-file
. "$(dirname "$0")/follow_lib.sh"

# follow FILE [OPTION...]: start a follower of FILE on channel $T/ch,
# its log in $T/log; $fpid.
follow() {
	f=$1
	shift
	spawn "$M" follow "$@" "$T/ch" "$f" 2>>"$T/log"
	fpid=$bgpid
}

t_rename_over() {
	printf 'one' >"$T/f"
	follow "$T/f"
	wait_for 5 gen_is "$T/ch" 1 || die "the file was not published at start"
	holds_str "$T/ch" one || die "gen 1 is not the file"
	ino=$(stat -c %i "$T/f")
	log_has "$T/log" "^mmsync: $T/ch: gen 1: $T/f \\(inode $ino\\): 3 bytes, checksum [0-9a-f]{16}\$" ||
		die "log line: $(cat "$T/log")"
	for v in two three four; do
		printf '%s' "$v" >"$T/f.tmp"
		mv "$T/f.tmp" "$T/f"
		wait_for 5 holds_str "$T/ch" "$v" || die "the rename to '$v' was not published"
	done
	expect_eq "$(gen_of "$T/ch")" 4 "generations after three renames"
	ino=$(stat -c %i "$T/f")
	log_has "$T/log" "^mmsync: $T/ch: gen 4: $T/f \\(inode $ino\\): 4 bytes" || die "log: $(cat "$T/log")"
	expect_eq "$(count_log "$T/log" ': gen [0-9]+: ')" 4 "log lines, one per publish"
	idle_no_polling "$fpid"
	# Relative FILE: resolved against the follower's directory.
	stop "$fpid"
	expect_eq "$rc" 0 "exit status after SIGTERM"
	mkdir "$T/rel"
	printf 'rel' >"$T/rel/g"
	(cd "$T/rel" && exec "$M" follow "$T/ch2" g 2>"$T/log2") &
	echo $! >>"$T/pids"
	wait_for 5 holds_str "$T/ch2" rel || die "a relative FILE was not published"
	printf 'rel2' >"$T/rel/g.tmp"
	mv "$T/rel/g.tmp" "$T/rel/g"
	wait_for 5 holds_str "$T/ch2" rel2 || die "a relative FILE's rename was not published"
}

t_in_place_rewrite() {
	printf 'first' >"$T/f"
	follow "$T/f"
	wait_for 5 gen_is "$T/ch" 1 || die "not published at start"
	printf 'second, longer' >"$T/f" # O_TRUNC, write, close
	wait_for 5 holds_str "$T/ch" 'second, longer' || die "the rewrite was not published"
	expect_eq "$(gen_of "$T/ch")" 2 "generation after one rewrite"
	# Same inode, so only the close told it.
	log_has "$T/log" "gen 2: $T/f \\(inode $(stat -c %i "$T/f")\\)" || die "log: $(cat "$T/log")"
	# Appending (no truncation) is a rewrite too.
	printf ' and more' >>"$T/f"
	wait_for 5 holds_str "$T/ch" 'second, longer and more' || die "an append was not published"
	expect_eq "$(gen_of "$T/ch")" 3 "generation after the append"
}

# Same bytes again: not published (checksum equal), logged with -v only.
t_unchanged_is_skipped() {
	printf 'same' >"$T/f"
	follow "$T/f" -v
	wait_for 5 gen_is "$T/ch" 1 || die "not published at start"
	printf 'same' >"$T/f.tmp"
	mv "$T/f.tmp" "$T/f"
	expect_log "$T/log" "$T/f \\(inode [0-9]+\\): unchanged \\(checksum [0-9a-f]{16}\\), gen 1 stays"
	printf 'same' >"$T/f"
	wait_for 5 [ "$(count_log "$T/log" unchanged)" -ge 2 ] || die "the rewrite with the same bytes was not looked at"
	expect_eq "$(gen_of "$T/ch")" 1 "generation after the same bytes twice"
	# A follower that starts on a channel holding these bytes skips too.
	stop "$fpid"
	follow "$T/f"
	wait_for 5 alive "$fpid"
	sleep 0.5
	expect_eq "$(gen_of "$T/ch")" 1 "generation after a restart on the same bytes"
	printf 'new' >"$T/f"
	wait_for 5 gen_is "$T/ch" 2 || die "a change after the restart was not published"
}

# A Kubernetes ConfigMap volume: FILE -> ..data/FILE, ..data -> a
# timestamped directory; an update writes a new directory and renames a
# new ..data link over the old one, then removes the old directory.
configmap_update() { # DIR TS CONTENT
	mkdir "$1/..$2"
	printf '%s' "$3" >"$1/..$2/app.conf"
	ln -s "..$2" "$1/..data_tmp"
	mv -T "$1/..data_tmp" "$1/..data"
	[ -z "${old_ts:-}" ] || rm -rf "$1/..$old_ts"
	old_ts=$2
}
t_configmap_symlink_swap() {
	d=$T/vol
	mkdir "$d"
	old_ts=
	configmap_update "$d" 2026_01_01_00_00_00.1 v1
	ln -s ..data/app.conf "$d/app.conf"
	follow "$d/app.conf"
	wait_for 5 holds_str "$T/ch" v1 || die "the ConfigMap file was not published"
	configmap_update "$d" 2026_01_01_00_01_00.2 v2
	wait_for 5 holds_str "$T/ch" v2 || die "the ..data swap was not published"
	configmap_update "$d" 2026_01_01_00_02_00.3 v3
	wait_for 5 holds_str "$T/ch" v3 || die "the second swap was not published"
	sleep 0.3
	expect_eq "$(gen_of "$T/ch")" 3 "generations after two swaps (the old directories' removal publishes nothing)"
	log_has "$T/log" 'No such file' && die "a swap looked like a deletion: $(cat "$T/log")"
	# A swap higher up: a directory symlink on the path.
	mkdir "$T/r1" "$T/r2"
	printf 'r1' >"$T/r1/data"
	printf 'r2' >"$T/r2/data"
	ln -s r1 "$T/current"
	spawn "$M" follow "$T/ch2" "$T/current/data" 2>>"$T/log2"
	wait_for 5 holds_str "$T/ch2" r1 || die "not published through a directory symlink"
	ln -s r2 "$T/current.new"
	mv -T "$T/current.new" "$T/current"
	wait_for 5 holds_str "$T/ch2" r2 || die "the directory symlink swap was not published"
	# And the directory renamed away and back (a rename of a component).
	mv "$T/r2" "$T/r2.old"
	expect_log "$T/log2" "$T/current/data: No such file or directory; gen 2 stays current"
	mkdir "$T/r2"
	printf 'r2 again' >"$T/r2/data.tmp"
	mv "$T/r2/data.tmp" "$T/r2/data"
	wait_for 5 holds_str "$T/ch2" 'r2 again' || die "a re-created directory on the path was not followed"
}

# A file written slowly is never published half-written: not while it is
# open for writing, once when closed. In place (O_TRUNC), created anew,
# and at a temporary name then renamed.
slow_write() { # FILE CONTENT-A CONTENT-B
	{
		printf '%s' "$2"
		sleep 1
		printf '%s' "$3"
	} >"$1"
}
t_slow_write() {
	printf 'old' >"$T/f"
	follow "$T/f"
	wait_for 5 gen_is "$T/ch" 1 || die "not published at start"
	# In place.
	slow_write "$T/f" 'half, ' 'whole' &
	w=$!
	sleep 0.5
	expect_eq "$(gen_of "$T/ch")" 1 "generation while the file is half-written"
	holds_str "$T/ch" old || die "the channel changed while the file was written"
	wait "$w"
	wait_for 5 holds_str "$T/ch" 'half, whole' || die "the file was not published once closed"
	sleep 0.2
	expect_eq "$(gen_of "$T/ch")" 2 "generations: one publish for the slow write"
	# Deleted, then created in place slowly.
	rm "$T/f"
	expect_log "$T/log" "$T/f: No such file or directory; gen 2 stays current"
	slow_write "$T/f" 'new half, ' 'new whole' &
	w=$!
	sleep 0.5
	expect_eq "$(gen_of "$T/ch")" 2 "generation while a new file is half-written"
	wait "$w"
	wait_for 5 holds_str "$T/ch" 'new half, new whole' || die "the new file was not published once closed"
	sleep 0.2
	expect_eq "$(gen_of "$T/ch")" 3 "generations: one publish for the new file"
	# At a temporary name, then renamed: the rename alone publishes.
	slow_write "$T/f.part" 'tmp half, ' 'tmp whole' &
	w=$!
	sleep 0.5
	expect_eq "$(gen_of "$T/ch")" 3 "generation while a temporary file is written"
	wait "$w"
	sleep 0.3
	expect_eq "$(gen_of "$T/ch")" 3 "generation once the temporary file is closed"
	mv "$T/f.part" "$T/f"
	wait_for 5 holds_str "$T/ch" 'tmp half, tmp whole' || die "the rename was not published"
	# A big file copied in place (cp: create, many writes, close).
	head -c 8388608 /dev/urandom >"$T/big"
	cp "$T/big" "$T/f"
	wait_for 5 holds "$T/ch" "$T/big" || die "the copied file was not published"
	sleep 0.2
	expect_eq "$(gen_of "$T/ch")" 5 "generations: one publish for the copy"
}

t_delete_and_recreate() {
	printf 'v1' >"$T/f"
	follow "$T/f"
	wait_for 5 gen_is "$T/ch" 1 || die "not published at start"
	rm "$T/f"
	expect_log "$T/log" "^mmsync: $T/ch: $T/f: No such file or directory; gen 1 stays current\$"
	sleep 0.2
	alive "$fpid" || die "the follower exited when the file was deleted"
	holds_str "$T/ch" v1 || die "the snapshot changed when the file was deleted"
	expect_eq "$(gen_of "$T/ch")" 1 "generation after the deletion"
	printf 'v2' >"$T/f.tmp"
	mv "$T/f.tmp" "$T/f"
	wait_for 5 holds_str "$T/ch" v2 || die "the re-created file was not published"
	# Deleted and re-created with the same inode number (tmpfs reuses
	# them): still a new file.
	rm "$T/f"
	expect_log "$T/log" "gen 2 stays current"
	printf 'v3' >"$T/f"
	wait_for 5 holds_str "$T/ch" v3 || die "the file created again was not published"
	# Missing at start: waits for it.
	rm "$T/f"
	spawn "$M" follow "$T/ch2" "$T/later" 2>"$T/log2"
	expect_log "$T/log2" "^mmsync: $T/ch2: $T/later: No such file or directory; nothing to publish yet\$"
	printf 'late' >"$T/later"
	wait_for 5 holds_str "$T/ch2" late || die "a file that appeared later was not published"
	# --exit-on-delete: exit 1 with the line.
	spawn "$M" follow --exit-on-delete "$T/ch3" "$T/later" 2>"$T/log3"
	p=$bgpid
	wait_for 5 gen_is "$T/ch3" 1 || die "--exit-on-delete: not published"
	rm "$T/later"
	wait_exit "$p" 5
	expect_eq "$rc" 1 "exit status with --exit-on-delete"
	log_has "$T/log3" "^mmsync: $T/ch3: $T/later: No such file or directory; gen 1 stays current\$" ||
		die "--exit-on-delete log: $(cat "$T/log3")"
}

t_once_and_errors() {
	printf 'once' >"$T/f"
	expect_rc 0 "$M" follow --once "$T/ch" "$T/f"
	expect_err "^mmsync: $T/ch: gen 1: $T/f \\(inode [0-9]+\\): 4 bytes, checksum [0-9a-f]{16}\$"
	holds_str "$T/ch" once || die "--once did not publish"
	expect_rc 0 "$M" follow --once "$T/ch" "$T/f"
	expect_eq "$(gen_of "$T/ch")" 1 "--once with the same bytes publishes nothing"
	expect_rc 1 "$M" follow --once "$T/ch" "$T/missing"
	expect_err "^mmsync: $T/ch: $T/missing: No such file or directory \\(nothing published\\)\$"
	mkdir "$T/dir"
	expect_rc 1 "$M" follow --once "$T/ch" "$T/dir"
	expect_err "^mmsync: $T/ch: $T/dir: a directory\$"
	mkfifo "$T/fifo"
	expect_rc 1 "$M" follow --once "$T/ch" "$T/fifo"
	expect_err "^mmsync: $T/ch: $T/fifo: not a regular file\$"
	ln -s loop "$T/loop"
	expect_rc 1 "$M" follow --once "$T/ch" "$T/loop"
	expect_err "^mmsync: $T/ch: $T/loop: Too many levels of symbolic links\$"
	# Usage errors.
	expect_rc 2 "$M" follow
	expect_rc 2 "$M" follow "$T/ch"
	expect_rc 2 "$M" follow "$T/ch" a b
	expect_rc 2 "$M" follow --grace=soon "$T/ch" "$T/f"
	expect_rc 2 "$M" follow --cacert x "$T/ch" "$T/f"
	expect_rc 0 "$M" follow --help
	grep -q '^Usage: mmsync follow' "$T/out" || die "no usage line"
	grep -q 'EXAMPLES:' "$T/out" || die "--help has no EXAMPLES"
	# A directory that is not there yet is waited for too.
	spawn "$M" follow "$T/ch4" "$T/not/yet/f" 2>"$T/log4"
	expect_log "$T/log4" "nothing to publish yet"
	mkdir -p "$T/not/yet"
	printf 'deep' >"$T/not/yet/f.tmp"
	mv "$T/not/yet/f.tmp" "$T/not/yet/f"
	wait_for 5 holds_str "$T/ch4" deep || die "a file in directories created later was not published"
}

# One follower per channel: the second gets the writer's -EBUSY.
t_second_follower_is_busy() {
	printf 'x' >"$T/f"
	follow "$T/f"
	wait_for 5 gen_is "$T/ch" 1 || die "not published at start"
	expect_rc 1 "$M" follow "$T/ch" "$T/f"
	expect_err "^mmsync: $T/ch: Device or resource busy \\(another writer holds the channel: one follower per channel\\)\$"
	expect_rc 1 "$M" put "$T/ch" "$T/f"
	alive "$fpid" || die "the first follower died"
}

# SIGTERM during a publish: the publish completes, then exit 0. The
# publish is held up by a reader pinning the slot it reuses (the unit
# test's --pin helper) until the grace period evicts it.
writer_alive() {
	"$M" stat --json "$1" 2>/dev/null | grep -q '"writer_alive":true'
}
t_sigterm_finishes_the_publish() {
	pin=$build/tests/follow_unit
	[ -x "$pin" ] || { echo "SKIP: $pin not built"; return 0; }
	head -c 1048576 /dev/urandom >"$T/a"
	head -c 1048576 /dev/urandom >"$T/b"
	head -c 1048576 /dev/urandom >"$T/c"
	cp "$T/a" "$T/f"
	follow "$T/f" --grace 3s
	wait_for 5 gen_is "$T/ch" 1 || die "not published at start"
	# Pins gen 1 (slot 1) until its stdin, a FIFO nobody writes, ends.
	mkfifo "$T/hold"
	exec 7<>"$T/hold"
	# (Redirected here: a background job's stdin is /dev/null otherwise.)
	"$pin" --pin "$T/ch" <"$T/hold" >"$T/pin.out" 7>&- &
	echo $! >>"$T/pids"
	wait_for 5 grep -q '^pinned 1$' "$T/pin.out" || die "the reader did not pin gen 1"
	cp "$T/b" "$T/f.tmp" && mv "$T/f.tmp" "$T/f"
	wait_for 5 gen_is "$T/ch" 2 || die "gen 2 not published"
	cp "$T/c" "$T/f.tmp" && mv "$T/f.tmp" "$T/f" # gen 3 reuses slot 1: waits
	sleep 0.7
	expect_eq "$(gen_of "$T/ch")" 2 "generation while the publish waits for the reader"
	kill -TERM "$fpid"
	wait_exit "$fpid" 10
	expect_eq "$rc" 0 "exit status after SIGTERM during a publish"
	expect_eq "$(gen_of "$T/ch")" 3 "generation after SIGTERM: the publish finished"
	holds "$T/ch" "$T/c" || die "gen 3 is not the file"
	log_has "$T/log" "gen 3: $T/f" || die "no log line for gen 3: $(cat "$T/log")"
	expect_log "$T/log" "^mmsync: $T/ch: SIGTERM: stopped at gen 3\$"
	exec 7>&-
	wait_for 5 grep -q '^read_end -116$' "$T/pin.out" || die "the pinned reader was not evicted (-ESTALE): $(cat "$T/pin.out")"
	# SIGHUP stops it too, with status 0. (SIGINT as well, but a
	# background job of a script has it ignored, and follow, as put,
	# leaves an ignored signal ignored.)
	follow "$T/f"
	wait_for 5 writer_alive "$T/ch" || die "the follower did not start"
	kill -HUP "$fpid"
	wait_exit "$fpid" 5
	expect_eq "$rc" 0 "exit status after SIGHUP"
	expect_log "$T/log" "SIGHUP: stopped at gen 3"
}

# examples/mmsync-follow@.service: systemd takes it, and its ExecStart
# line is a follow command that works.
t_systemd_unit_example() {
	unit=$(dirname "$self")/../examples/mmsync-follow@.service
	[ -f "$unit" ] || die "no $unit"
	printf 'v' >"$T/f"
	printf 'MMSYNC_FOLLOW_ARGS=--once %s\n' "$T/f" >"$T/ch.conf"
	if command -v systemd-analyze >/dev/null; then
		mkdir "$T/units"
		sed -e "s|/usr/bin/mmsync|$M|" -e "s|/etc/mmsync/follow/%i.conf|$T/ch.conf|" \
			"$unit" >"$T/units/mmsync-follow@test.service"
		systemd-analyze verify --man=no "$T/units/mmsync-follow@test.service" >"$T/verify" 2>&1 ||
			die "systemd-analyze verify: $(cat "$T/verify")"
		[ ! -s "$T/verify" ] || die "systemd-analyze verify: $(cat "$T/verify")"
	else
		echo "# no systemd-analyze: the unit is not verified"
	fi
	# ExecStart, as systemd would run it: %i the instance, the variable
	# from the EnvironmentFile split into words.
	args=$(sed -n 's/^MMSYNC_FOLLOW_ARGS=//p' "$T/ch.conf")
	cmd=$(sed -n 's/^ExecStart=//p' "$unit" | sed -e "s|^/usr/bin/mmsync|$M|" \
		-e "s|%i|$T/ch|" -e "s|\$MMSYNC_FOLLOW_ARGS|$args|")
	# shellcheck disable=SC2086
	set -- $cmd
	expect_rc 0 "$@"
	holds_str "$T/ch" v || die "the unit's command did not publish: $(cat "$T/err")"
}

tests="rename_over in_place_rewrite unchanged_is_skipped configmap_symlink_swap
slow_write delete_and_recreate once_and_errors second_follower_is_busy
sigterm_finishes_the_publish systemd_unit_example"
limit=60
follow_main "$@"
