#!/bin/sh
# cli.sh - the mmsync command line end to end, as TAP for tests/run.sh.
#
#   tests/cli.sh BUILDDIR [TEST...]
#
# Runs this build's tools/mmsync (never one on $PATH) on channels in a
# private directory under /dev/shm, removed at the end whatever happens.
# Each test runs in its own `sh -e` process, so a failed check ends that
# test only; background processes a test starts are killed when it ends.
set -u
build=$1
shift
self=$0
M=$(cd "$build" && pwd)/tools/mmsync
export M

# ---- helpers (also used inside the per-test processes) -----------------

. "$(dirname "$self")/check_lib.sh" # die, expect_eq, expect_rc, expect_err
# json_num FILE KEY: the first number field KEY of a JSON object.
json_num() {
	grep -o "\"$2\":[0-9]*" "$1" | head -n1 | cut -d: -f2
}
gen_of() {
	"$M" stat --json "$1" >"$T/stat.json"
	json_num "$T/stat.json" gen
}
# wait_for SECONDS CMD...: poll until CMD succeeds.
wait_for() {
	n=$(($1 * 20))
	shift
	while ! "$@" 2>/dev/null; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.05
	done
}
writer_alive() {
	"$M" stat --json "$1" 2>/dev/null | grep -q '"writer_alive":true'
}
has_open() { # PID FILE: the process has FILE open
	ls -l "/proc/$1/fd" 2>/dev/null | grep -q -- "-> $2\$"
}
open_or_gone() { # PID FILE: has FILE open, or has exited already
	has_open "$1" "$2" || ! kill -0 "$1" 2>/dev/null
}
lines_at_least() {
	[ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]
}
# spawn CMD...: start CMD in the background; killed when the test ends.
spawn() {
	"$@" &
	bgpid=$!
	echo "$bgpid" >>"$T/pids"
}
rand() {
	head -c "$1" /dev/urandom >"$2"
}

# ---- the tests ------------------------------------------------------------

t_help_and_usage() {
	expect_rc 0 "$M" --help
	grep -q '^COMMANDS:' "$T/out" || die "--help lists no commands"
	grep -q '^EXAMPLES:' "$T/out" || die "--help has no EXAMPLES"
	cp "$T/out" "$T/help"
	expect_rc 0 "$M" -h
	cmp -s "$T/out" "$T/help" || die "-h differs from --help"
	expect_rc 0 "$M" --version
	grep -q '^mmsync [0-9]' "$T/out" || die "--version: $(cat "$T/out")"
	for v in put cat verify watch ls rm stat readers; do
		expect_rc 0 "$M" "$v" --help
		grep -q "^Usage: mmsync $v" "$T/out" || die "$v --help: no usage line"
		grep -q 'EXAMPLES:' "$T/out" || die "$v --help has no EXAMPLES"
		expect_rc 0 "$M" "$v" -h
	done
	expect_rc 2 "$M"
	expect_rc 2 "$M" nosuch
	grep -q "nosuch" "$T/err" || die "the unknown command is not named"
	expect_rc 2 "$M" --bogus
	expect_rc 2 "$M" put
	expect_rc 2 "$M" put --bogus x
	expect_rc 2 "$M" put --grace=soon x
	expect_rc 2 "$M" put --size=12Q x
	expect_rc 2 "$M" put --fence=weird x
	expect_rc 2 "$M" put a b c
	expect_rc 2 "$M" cat
	expect_rc 2 "$M" cat a b
	expect_rc 2 "$M" watch -n 0 a
	expect_rc 2 "$M" watch -t never a
	expect_rc 2 "$M" ls a b
	expect_rc 2 "$M" rm
	expect_rc 2 "$M" stat
	expect_rc 2 "$M" readers a b
}

# put then cat: byte-exact, from a file, stdin (pipe and redirect), with
# and without the progress feeder, at 0 B, 1 B, 4095 B and 3 MiB + 7.
t_round_trips() {
	ch=$T/rt
	g=0
	for size in 0 1 4095 3145735; do
		rand "$size" "$T/in"
		for how in file pipe redirect file-progress pipe-progress; do
			case $how in
			file) "$M" put "$ch" "$T/in" ;;
			pipe) cat "$T/in" | "$M" put "$ch" ;;
			redirect) "$M" put "$ch" - <"$T/in" ;;
			file-progress) "$M" put --progress "$ch" "$T/in" 2>"$T/bar" ;;
			pipe-progress) cat "$T/in" | "$M" put -P "$ch" 2>"$T/bar" ;;
			esac
			g=$((g + 1))
			expect_eq "$(gen_of "$ch")" "$g" "generation after put ($how, $size B)"
			"$M" cat "$ch" >"$T/file.out"
			cmp "$T/in" "$T/file.out" || die "cat to a file differs ($how, $size B)"
			"$M" cat "$ch" | cat >"$T/pipe.out"
			cmp "$T/in" "$T/pipe.out" || die "cat to a pipe differs ($how, $size B)"
			"$M" cat --verify "$ch" | cmp - "$T/in" || die "cat --verify differs"
			expect_rc 0 "$M" verify "$ch"
			grep -q "generation $g, $size bytes, checksum [0-9a-f]\{16\}: ok" "$T/out" ||
				die "verify: $(cat "$T/out")"
		done
	done
	# stdin redirected from a file: from where it stands.
	rand 4096 "$T/in"
	(dd bs=10 count=1 of=/dev/null 2>/dev/null && "$M" put "$ch") <"$T/in"
	tail -c +11 "$T/in" >"$T/want"
	"$M" cat "$ch" | cmp - "$T/want" || die "put from an offset into stdin"
	# -v: one line, the generation and size.
	expect_rc 0 "$M" put -v "$ch" "$T/in"
	grep -q "generation $((g + 2)), 4096 bytes" "$T/out" || die "put -v: $(cat "$T/out")"
	# Not a terminal, no --progress: a put says nothing.
	expect_rc 0 "$M" put "$ch" "$T/in"
	[ ! -s "$T/out" ] && [ ! -s "$T/err" ] || die "a quiet put printed something"
}

# watch: one line per generation, each one seen when publishes are paced.
t_watch_sees_every_generation() {
	ch=$T/w
	echo 0 >"$T/in"
	"$M" put "$ch" "$T/in"
	spawn "$M" watch --json "$ch" >"$T/lines"
	wait_for 10 lines_at_least "$T/lines" 1 || die "watch printed no first line"
	for i in $(seq 1 25); do
		printf '%s' "$i" >"$T/in.$i"
		"$M" put -v "$ch" "$T/in.$i" >>"$T/puts"
		wait_for 10 lines_at_least "$T/lines" $((i + 1)) ||
			die "watch did not report generation $((i + 1))"
	done
	i=0
	while read -r line; do
		i=$((i + 1))
		echo "$line" >"$T/line"
		expect_eq "$(json_num "$T/line" gen)" "$i" "line $i: gen"
		expect_eq "$(json_num "$T/line" missed)" 0 "line $i: missed"
		if [ "$i" -gt 1 ]; then
			content=$((i - 1))
			expect_eq "$(json_num "$T/line" size)" "${#content}" "line $i: size"
			sum=$(sed -n "$((i - 1))s/.*checksum \([0-9a-f]*\).*/\1/p" "$T/puts")
			grep -q "\"checksum\":\"$sum\"" "$T/line" || die "line $i: checksum, want $sum"
		fi
		grep -q '"age_ns":[0-9]' "$T/line" || die "line $i: no age"
	done <"$T/lines"
	expect_eq "$i" 26 "lines"
}

t_watch_options() {
	ch=$T/w
	rand 1000 "$T/in"
	"$M" put "$ch" "$T/in"
	# -n 1: the current generation, then exit 0; the text line.
	expect_rc 0 timeout 10 "$M" watch -n 1 "$ch"
	grep -q '^gen 1: 1000 bytes, checksum [0-9a-f]\{16\}, published .* ago$' "$T/out" ||
		die "watch line: $(cat "$T/out")"
	# --new -t: nothing new in time is a failure, one line.
	expect_rc 1 timeout 10 "$M" watch --new -t 200ms "$ch"
	expect_err "$ch: Connection timed out"
	[ ! -s "$T/out" ] || die "watch --new printed the current generation"
	# Generations published while watch looks away: the line says so.
	spawn "$M" watch --json "$ch" >"$T/lines"
	wpid=$bgpid
	wait_for 10 lines_at_least "$T/lines" 1 || die "no first line"
	kill -STOP "$wpid"
	for i in 1 2 3; do "$M" put "$ch" "$T/in"; done
	kill -CONT "$wpid"
	wait_for 10 lines_at_least "$T/lines" 2 || die "no line after the burst"
	sed -n 2p "$T/lines" >"$T/line"
	expect_eq "$(json_num "$T/line" gen)" 4 "gen after the burst"
	expect_eq "$(json_num "$T/line" missed)" 2 "missed"
	# --exec: the snapshot on stdin, its metadata in the environment.
	expect_rc 0 timeout 10 "$M" watch -n 1 "$ch" --exec \
		"cat >'$T/exec.out'; echo \"\$MMSYNC_NAME \$MMSYNC_GEN \$MMSYNC_SIZE \$MMSYNC_CHECKSUM\" >'$T/exec.env'"
	cmp "$T/in" "$T/exec.out" || die "--exec: stdin is not the snapshot"
	sum=$("$M" verify "$ch" | sed 's/.*checksum \([0-9a-f]*\).*/\1/')
	expect_eq "$(cat "$T/exec.env")" "$ch 4 1000 $sum" "--exec environment"
	# A command that fails is reported, and watch goes on.
	expect_rc 0 timeout 10 "$M" watch -n 1 "$ch" --exec 'exit 3'
	grep -q 'exited with status 3' "$T/err" || die "--exec failure not reported"
	# Removed and created again: watch follows the name.
	kill "$wpid"
	spawn "$M" watch --json "$ch" >"$T/lines2"
	wait_for 10 lines_at_least "$T/lines2" 1 || die "no first line"
	"$M" rm "$ch"
	"$M" put "$ch" "$T/in"
	wait_for 10 lines_at_least "$T/lines2" 2 || die "watch did not follow the new channel"
	sed -n 2p "$T/lines2" >"$T/line"
	expect_eq "$(json_num "$T/line" gen)" 1 "gen of the new channel"
}

t_errors() {
	d=$T/e
	mkdir "$d"
	ch=$d/none
	for v in cat verify watch stat readers rm; do
		expect_rc 1 timeout 10 "$M" "$v" "$ch"
		expect_err "^mmsync: $ch: No such file or directory"
	done
	expect_rc 1 "$M" put '' /dev/null
	expect_err "^mmsync: '': Invalid argument"
	expect_rc 1 "$M" cat ''
	expect_err "^mmsync: '': "
	long=$d/$(printf '%0300d' 0)
	expect_rc 1 "$M" put "$long" /dev/null
	expect_err "File name too long"
	[ -z "$(ls "$d")" ] || die "a failed put left files: $(ls "$d")"
	expect_rc 1 "$M" put "$d/c" "$T/no-such-input"
	expect_err "^mmsync: $d/c: $T/no-such-input: No such file or directory"
	[ -z "$(ls "$d")" ] || die "a put of a missing file created the channel"
	expect_rc 1 "$M" put "$d/c" "$T"
	expect_err "Is a directory"
	expect_rc 1 "$M" put --huge-pages 2M "$d/c" /dev/null
	expect_err "^mmsync: $d/c: Invalid argument"
	expect_rc 1 "$M" ls "$T/no-such-dir"
	expect_err "No such file or directory"
	# A second writer, while put waits for its input.
	mkfifo "$T/fifo"
	spawn "$M" put "$d/busy" "$T/fifo"
	exec 7>"$T/fifo"
	wait_for 10 writer_alive "$d/busy" || die "the first put never opened the channel"
	expect_rc 1 "$M" put "$d/busy" /dev/null
	expect_err "^mmsync: $d/busy: Device or resource busy"
	# Nothing published yet.
	expect_rc 1 "$M" cat "$d/busy"
	expect_err "^mmsync: $d/busy: No data available"
	exec 7>&-
	wait "$bgpid"
	# A damaged snapshot: verify and cat --verify refuse it.
	rand 4096 "$T/in"
	# The first byte is known, so that the X below changes it (a random
	# one was an X once in 256 runs, and the snapshot stayed intact).
	printf 'A' | dd of="$T/in" conv=notrunc 2>/dev/null
	"$M" put "$d/bad" "$T/in"
	printf 'X' | dd of="$d/bad_data_1" conv=notrunc 2>/dev/null
	expect_rc 1 "$M" verify "$d/bad"
	expect_err "^mmsync: $d/bad: generation 1: Input/output error \(checksum mismatch\)"
	expect_rc 1 "$M" cat --verify "$d/bad"
	expect_err "^mmsync: $d/bad: Input/output error"
	[ ! -s "$T/out" ] || die "cat --verify wrote a damaged snapshot"
}

# verify -q: the exit status only.
t_verify_quiet() {
	rand 100 "$T/in"
	printf 'A' | dd of="$T/in" conv=notrunc 2>/dev/null # X changes it
	"$M" put "$T/q" "$T/in"
	expect_rc 0 "$M" verify -q "$T/q"
	[ ! -s "$T/out" ] || die "verify -q printed"
	printf 'X' | dd of="$T/q_data_1" conv=notrunc 2>/dev/null
	expect_rc 1 "$M" verify -q "$T/q"
	[ ! -s "$T/out" ] || die "verify -q printed"
}

# The channel holds $T/old.bin at generation 1; check it still does.
old_is_current() {
	expect_eq "$(gen_of "$1")" 1 "generation after $2"
	"$M" cat "$1" | cmp -s - "$T/old.bin" || die "the snapshot changed after $2"
	"$M" verify -q "$1" || die "the snapshot is damaged after $2"
}

# A put killed by a signal mid-input publishes nothing, says so in one
# line, dies of the signal and leaves the channel to the next writer.
t_interrupted_put() {
	rand 10000 "$T/old.bin"
	rand 200000 "$T/part"
	for feed in plain --progress; do
		for sig in INT TERM HUP PIPE; do
			ch=$T/i-$sig$feed
			"$M" put "$ch" "$T/old.bin"
			rm -f "$T/fifo"
			mkfifo "$T/fifo"
			opt=
			[ "$feed" = plain ] || opt=$feed
			env --default-signal "$M" put $opt "$ch" "$T/fifo" 2>"$T/err" &
			pid=$!
			echo "$pid" >>"$T/pids"
			exec 7>"$T/fifo"
			cat "$T/part" >&7
			wait_for 10 writer_alive "$ch" || die "put never opened the channel"
			sleep 0.2
			kill -s "$sig" "$pid"
			rc=0
			wait "$pid" || rc=$?
			exec 7>&-
			case $sig in HUP) num=1 ;; INT) num=2 ;; PIPE) num=13 ;; TERM) num=15 ;; esac
			expect_eq "$rc" "$((128 + num))" "exit status after SIG$sig ($feed)"
			# The progress bar's redraws end with ESC [ K; the line follows.
			sed -i 's/.*\x1b\[K//' "$T/err"
			expect_err "^mmsync: $ch: interrupted by SIG$sig\$"
			old_is_current "$ch" "SIG$sig ($feed)"
			"$M" put "$ch" "$T/part" || die "the next writer could not publish"
		done
	done
}

# Ctrl-C on `producer | mmsync put`: the terminal signals the whole
# process group, and the producer's death ends the pipe. That end must not
# be published.
t_ctrl_c_on_a_pipeline() {
	ch=$T/cc
	rand 10000 "$T/old.bin"
	"$M" put "$ch" "$T/old.bin"
	for i in $(seq 1 20); do
		# Every other round through the progress feeder's threads.
		opt=-q
		[ $((i % 2)) = 0 ] || opt=-P
		setsid env --default-signal sh -c \
			"{ head -c 65536 /dev/zero; exec sleep 30; } | exec \"\$M\" put $opt \"$ch\" 2>/dev/null" &
		pg=$!
		echo "$pg" >>"$T/pids"
		wait_for 10 writer_alive "$ch" || die "round $i: put never opened the channel"
		# From right at the start to well into the wait for input.
		sleep "0.0$((i % 10))"
		kill -s INT -- "-$pg"
		wait "$pg" || :
		old_is_current "$ch" "Ctrl-C, round $i"
	done
}

t_short_inputs() {
	ch=$T/s
	rand 10000 "$T/old.bin"
	rand 5000 "$T/short"
	for opt in -q -P; do
		"$M" put "$ch" "$T/old.bin"
		gen=$(gen_of "$ch")
		expect_rc 1 "$M" put "$opt" --size 5001 "$ch" "$T/short"
		sed -i 's/.*\x1b\[K//' "$T/err"
		expect_err "^mmsync: $ch: No data available \(.* ended before 5001 bytes; nothing was published\)"
		expect_eq "$(gen_of "$ch")" "$gen" "generation after a short file ($opt)"
		"$M" cat "$ch" | cmp -s - "$T/old.bin" || die "a short file changed the snapshot"
		# A producer that dies early, with --size.
		expect_rc 1 sh -c "head -c 3000 '$T/short' | exec '$M' put $opt --size 4096 '$ch'"
		expect_eq "$(gen_of "$ch")" "$gen" "generation after a short pipe ($opt)"
		"$M" cat "$ch" | cmp -s - "$T/old.bin" || die "a short pipe changed the snapshot"
		# --size 0: an empty snapshot, whatever the input holds.
		expect_rc 0 "$M" put "$opt" --size 0 "$ch" "$T/short"
		expect_eq "$("$M" cat "$ch" | wc -c)" 0 "bytes after --size 0"
		# --size shorter than the input: exactly that many bytes.
		expect_rc 0 "$M" put "$opt" --size 4096 "$ch" "$T/short"
		head -c 4096 "$T/short" >"$T/want"
		"$M" cat "$ch" | cmp - "$T/want" || die "--size 4096 of a longer file"
	done
}

# A file truncated while put reads it: either the whole file was read
# before (published), or nothing is published; never what was left.
t_file_truncated_while_read() {
	ch=$T/tr
	rand 10000 "$T/old.bin"
	rand 33554432 "$T/orig"
	for delay in 0 0.001 0.005 0.01 0.02 0.05; do
		rm -f "$ch"_*
		"$M" put "$ch" "$T/old.bin"
		cp "$T/orig" "$T/victim"
		rc=0
		"$M" put "$ch" "$T/victim" 2>"$T/err" &
		pid=$!
		# Once put has the file open (and so its size): a truncation
		# before that would just be a smaller file to publish.
		wait_for 10 open_or_gone "$pid" "$T/victim" || die "put never opened the file"
		sleep "$delay"
		truncate -s 1048576 "$T/victim"
		wait "$pid" || rc=$?
		if [ "$rc" = 0 ]; then
			"$M" cat "$ch" | cmp -s - "$T/orig" || die "a torn file was published (delay $delay)"
			echo "# delay $delay: read before the truncation"
		else
			grep -q 'shrank while it was read; nothing was published' "$T/err" ||
				die "put: $(cat "$T/err")"
			old_is_current "$ch" "a truncated file"
			echo "# delay $delay: refused"
		fi
	done
}

t_ls_and_rm() {
	d=$T/ls
	mkdir "$d"
	rand 3000 "$T/in"
	"$M" put "$d/a" "$T/in"
	"$M" put "$d/a" "$T/in"
	"$M" put "$d/b" /dev/null
	echo unrelated >"$d/notes_txt"
	expect_rc 0 "$M" ls --json "$d"
	tr '}' '\n' <"$T/out" >"$T/rows"
	grep -q "\"name\":\"$d/a\",\"backing\":\"files\",\"gen\":2,\"size\":3000," "$T/rows" || die "ls: a: $(cat "$T/out")"
	grep -q "\"name\":\"$d/b\",\"backing\":\"files\",\"gen\":1,\"size\":0," "$T/rows" || die "ls: b: $(cat "$T/out")"
	expect_eq "$(grep -c '"name"' "$T/rows")" 2 "channels listed"
	expect_rc 0 "$M" ls "$d"
	grep -q "^$d/a  *3000  *2 " "$T/out" || die "ls table: $(cat "$T/out")"
	# Bare names in $MMSYNC_DIR.
	MMSYNC_DIR=$d "$M" ls --json >"$T/out"
	grep -q '"name":"a"' "$T/out" || die "ls in MMSYNC_DIR: $(cat "$T/out")"
	MMSYNC_DIR=$d "$M" cat a | cmp - "$T/in" || die "cat of a bare name"
	# A memfd channel is its socket; a broken channel is reported.
	if [ -x /usr/bin/python3 ]; then
		/usr/bin/python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$d/m_sock"
		"$M" ls --json "$d" >"$T/out"
		grep -q "\"name\":\"$d/m\",\"backing\":\"memfd\"" "$T/out" || die "ls: memfd: $(cat "$T/out")"
		rm "$d/m_sock"
	fi
	head -c 100 /dev/urandom >"$d/g_state"
	expect_rc 1 "$M" ls "$d"
	expect_err "^mmsync: $d/g: "
	grep -q "^$d/a " "$T/out" || die "ls stopped at the broken channel"
	grep -q "^$d/g  *invalid: " "$T/out" || die "ls does not show the broken channel"
	rm "$d/g_state"
	# rm: the files go; a second rm fails; -f does not mind.
	expect_rc 0 "$M" rm "$d/a" "$d/b"
	[ -z "$(ls "$d" | grep -v notes_txt)" ] || die "rm left: $(ls "$d")"
	expect_rc 1 "$M" rm "$d/a"
	expect_err "^mmsync: $d/a: No such file or directory"
	expect_rc 0 "$M" rm -f "$d/a"
	expect_rc 0 "$M" ls "$d"
	grep -q '(no channels)' "$T/out" || die "ls of an empty directory: $(cat "$T/out")"
}

t_put_options() {
	d=$T/o
	mkdir "$d"
	expect_rc 0 "$M" put --max-readers 4 --fence xchg --data-mode 0604 \
		--state-mode 0600 --table-mode 0620 --capacity 64K --grace 50ms \
		--refuse "$d/x" /dev/null
	"$M" stat --json "$d/x" >"$T/s"
	expect_eq "$(json_num "$T/s" max_readers)" 4 "max_readers"
	grep -q '"fence_mode":"xchg"' "$T/s" || die "fence mode: $(cat "$T/s")"
	expect_eq "$(stat -c %a "$d/x_state")" 600 "state file mode"
	expect_eq "$(stat -c %a "$d/x_data_1")" 604 "data file mode"
	expect_eq "$(stat -c %a "$d/x_readers")" 620 "reader table mode"
	# Special or execute bits are refused, and nothing is created.
	expect_rc 1 "$M" put --data-mode 4644 "$d/y" /dev/null
	expect_err "^mmsync: $d/y: Invalid argument"
	[ -z "$(ls "$d" | grep '^y_')" ] || die "a refused put left files: $(ls "$d")"
	cap=$(sed -n 's/.*"slots":\[{[^}]*},{"gen":1,"size":0,"cap":\([0-9]*\)}.*/\1/p' "$T/s")
	[ "${cap:-0}" -ge 65536 ] || die "capacity: $(cat "$T/s")"
	# A channel keeps the fence mode it was created with (where this
	# build and kernel have both modes: TSan builds run xchg only).
	"$M" put --fence membarrier "$d/probe" /dev/null
	if "$M" stat --json "$d/probe" | grep -q '"fence_mode":"membarrier"'; then
		expect_rc 1 "$M" put --fence membarrier "$d/x" /dev/null
		expect_err "^mmsync: $d/x: Invalid argument"
	else
		echo "# no membarrier mode here: the fence mismatch is not tried"
	fi
}

t_stat_and_readers() {
	rand 4096 "$T/in"
	"$M" put "$T/st" "$T/in"
	expect_rc 0 "$M" stat "$T/st"
	grep -q '^generation    1, published' "$T/out" || die "stat: $(cat "$T/out")"
	expect_rc 0 "$M" readers "$T/st"
	grep -q '(no readers)' "$T/out" || die "readers: $(cat "$T/out")"
	expect_rc 0 "$M" readers --json "$T/st"
	expect_eq "$(cat "$T/out")" "[]" "readers --json"
}

# On a terminal a slow put draws a progress bar, then one summary line.
t_progress_on_a_tty() {
	command -v script >/dev/null || { echo "SKIP: no script(1)"; return 0; }
	ch=$T/tty
	script -qec "sh -c '{ head -c 1048576 /dev/zero; sleep 1; head -c 1048576 /dev/zero; } | \"$M\" put \"$ch\"'" \
		/dev/null >"$T/typescript" </dev/null
	grep -q 'MiB/s' "$T/typescript" || die "no progress bar: $(cat -v "$T/typescript")"
	grep -q "$ch: generation 1, 2.0 MiB in" "$T/typescript" || die "no summary: $(cat -v "$T/typescript")"
	expect_eq "$("$M" cat "$ch" | wc -c)" 2097152 "bytes published"
	# A known length: a percentage and the time left.
	mkfifo "$T/fifo"
	{ head -c 1048576 /dev/zero; sleep 1; head -c 1048576 /dev/zero; } >"$T/fifo" &
	"$M" put -P --size 2M "$ch" "$T/fifo" 2>"$T/bar"
	grep -q '50%.*ETA' "$T/bar" || die "no percentage: $(cat -v "$T/bar")"
}

# ---- runner -----------------------------------------------------------------

tests="help_and_usage round_trips watch_sees_every_generation watch_options
errors verify_quiet interrupted_put ctrl_c_on_a_pipeline short_inputs
file_truncated_while_read ls_and_rm put_options stat_and_readers
progress_on_a_tty"

if [ "${1:-}" = --one ]; then
	# One test, in its own process: set -e ends it at the first failure.
	T=$2
	export T
	# Not under set -e: a process that is gone already is fine.
	trap 'set +e; for p in $(cat "$T/pids" 2>/dev/null); do kill -9 "$p" "-$p" 2>/dev/null; done' EXIT
	trap 'exit 1' INT TERM
	set -e
	"t_$3"
	exit 0
fi

[ $# -gt 0 ] && tests=$*
top=$(mktemp -d "/dev/shm/mmsync-test-${MMSYNC_TEST_RUN:+$MMSYNC_TEST_RUN-}cli.XXXXXX")
trap 'rm -rf "$top"' EXIT
trap 'exit 130' INT TERM
echo "1..$(echo $tests | wc -w)"
i=0
failed=0
limit=120
for t in $tests; do
	i=$((i + 1))
	if [ ! -x "$M" ]; then
		echo "ok $i $t # SKIP $M not built"
		continue
	fi
	tap_test "$i" "$t" "$top"
done
[ "$failed" = 0 ]
